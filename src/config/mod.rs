//! Configuration files under `$PANDORA_HOME`, read and written as ACL.

mod registries;

pub use registries::{
    parse_endpoint, parse_publish_url, parse_url, RegistriesFile, Registry, DEFAULT_CACHE_TTL,
    DEFAULT_PRIORITY,
};

use std::path::PathBuf;

/// What can go wrong reading or changing configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file cannot be written (it is left as it was).
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid ACL, or not a valid configuration.
    #[error("invalid configuration in {path}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The problem, with line, column and caret.
        #[source]
        source: acl_parser::Error,
    },
    /// A registry of that name is configured already.
    #[error("a registry named `{name}` already exists ({url})")]
    DuplicateRegistry {
        /// The name.
        name: String,
        /// The existing registry's URL.
        url: String,
    },
    /// No registry of that name is configured.
    #[error("no registry named `{name}` is configured")]
    UnknownRegistry {
        /// The name asked for.
        name: String,
        /// The names that are configured.
        known: Vec<String>,
    },
    /// A registry name Pandora does not accept.
    #[error("invalid registry name `{name}`: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A registry URL Pandora cannot use.
    #[error("invalid registry URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// A trusted key that does not parse.
    #[error("invalid key")]
    InvalidKey(#[from] pandora_core::key::KeyError),
}

impl pandora_core::Hint for ConfigError {
    fn hint(&self) -> Option<String> {
        match self {
            ConfigError::DuplicateRegistry { name, .. } => Some(format!(
                "choose another name, or run `pandora registry remove {name}` first"
            )),
            ConfigError::UnknownRegistry { known, .. } if known.is_empty() => {
                Some("no registries are configured; add one with `pandora registry add NAME URL`".to_string())
            }
            ConfigError::UnknownRegistry { known, .. } => {
                Some(format!("configured registries: {}", known.join(", ")))
            }
            ConfigError::InvalidName { .. } => Some(
                "names start with a letter or digit and use only letters, digits, `.`, `_` and `-` (at most 64)"
                    .to_string(),
            ),
            ConfigError::InvalidUrl { .. } => Some(
                "use an http://, https:// or file:// URL, or an absolute directory path".to_string(),
            ),
            ConfigError::InvalidKey(pandora_core::key::KeyError::NotOnCurve(_)) => Some(
                "check that the whole key was copied: these bytes are not a point on Ed25519's curve".to_string(),
            ),
            ConfigError::InvalidKey(_) => {
                Some("keys are written `ed25519:` followed by 64 hex digits".to_string())
            }
            // The ACL error prints its own hint (after the caret); add one only when it has none.
            ConfigError::Invalid { source, .. } if source.hint().is_some() => None,
            ConfigError::Invalid { .. } => {
                Some("fix the file by hand, or move it away to start afresh".to_string())
            }
            ConfigError::Read { .. } | ConfigError::Write { .. } => None,
        }
    }
}
