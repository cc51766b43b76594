//! One function per workflow, as cargo's `ops` beside its `commands`: plain inputs in, a typed
//! report out, a typed [`Error`] on failure. Nothing here prints, asks or builds a CLI error;
//! the command layer renders reports and asks for confirmation before calling in.

pub mod activate;
pub mod build;
pub mod build_cache;
pub mod doctor;
pub mod graph;
pub mod inspect;
pub mod install;
pub mod keys;
pub mod metrics;
pub mod needs;
pub mod profile;
pub mod provenance;
pub mod prune;
pub mod publish;
pub mod query;
pub mod registries;
pub mod registry;
pub mod remove;
pub mod run;
pub mod source_build;
pub mod sync;
pub mod verify;

use pandora_core::{Hint, IoError};

use crate::activation::ActivationError;
use crate::build::BuildError;
use crate::config::ConfigError;
use crate::format::signing::KeyFileError;
use crate::format::FormatError;
use crate::profile::ProfileError;
use crate::registry::client::IndexError;
use crate::registry::download::DownloadError;
use crate::registry::publish::PublishError;
use crate::resolver::ResolveError;
use crate::store::StoreError;

/// Why a workflow stopped. Every layer's error converts into it, so the CLI renders any of
/// them, with its hint, through this one type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A refusal decided here, with what to do about it.
    #[error("{message}")]
    Refused {
        /// What was refused and why.
        message: String,
        /// What to run instead.
        hint: Option<String>,
    },
    /// A file a registry's signed index vouches for (it has the SHA-256 the index gives) that
    /// is not a sound package: the registry published it so, and fetching it again cannot help.
    #[error("{url} (registry `{registry}`) has the SHA-256 its signed index gives, but is not a sound package")]
    Published {
        /// Where it came from.
        url: String,
        /// The registry whose index vouches for it.
        registry: String,
        /// What is wrong with it.
        #[source]
        source: Box<FormatError>,
    },
    /// `registries.acl` or another setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A package file.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A signing key file.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// Building a package.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A registry index.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A download.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Indexing a registry directory.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Resolution.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Resolution failed, and some registries could not be read that might have helped.
    #[error("{error}\nregistries that could not be read, which might have offered it:\n{}", unavailable.iter().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n"))]
    ResolvedWithout {
        /// What resolution found.
        error: Box<ResolveError>,
        /// Each unreadable registry and why.
        unavailable: Vec<String>,
    },
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A change to a profile.
    #[error(transparent)]
    Activation(#[from] ActivationError),
    /// A file or directory.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The launcher's work environment cache could not be cleaned.
    #[error(transparent)]
    Workenv(#[from] crate::launcher::GcError),
}

impl Error {
    /// A refusal with a hint.
    pub fn refused(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Refused {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::Refused { hint, .. } => hint.clone(),
            Error::Published { registry, .. } => Some(format!(
                "the registry is broken or hostile: tell its operator, or `pandora registry remove {registry}`"
            )),
            Error::Config(error) => error.hint(),
            Error::Format(error) => error.hint(),
            Error::KeyFile(error) => error.hint(),
            Error::Build(error) => error.hint(),
            Error::Index(error) => error.hint(),
            Error::Download(error) => error.hint(),
            Error::Publish(error) => error.hint(),
            Error::Resolve(error) => error.hint(),
            Error::ResolvedWithout { .. } => Some(
                "try again when those registries are back, or `--offline` to use what was cached"
                    .into(),
            ),
            Error::Store(error) => error.hint(),
            Error::Profile(error) => error.hint(),
            Error::Activation(error) => error.hint(),
            Error::Io(error) => error.hint(),
            Error::Workenv(error) => error.hint(),
        }
    }
}

/// What every workflow returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;
