//! Errors the command layer shows to people: a message, an exit status and, where it helps, a
//! hint saying what to run next. Library errors carry their own hints; `render` collects them.

use std::fmt;

use crate::exit::ExitStatus;

/// An error meant for the user, with what to do about it.
#[derive(Debug)]
pub struct UserError {
    message: String,
    hint: Option<String>,
    status: ExitStatus,
}

impl UserError {
    /// A failure (exit status 1) with a message.
    pub fn new(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            hint: None,
            status: ExitStatus::Failure,
        }
    }

    /// Adds what the user should do next.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the exit status.
    pub fn status(mut self, status: ExitStatus) -> Self {
        self.status = status;
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Errors that know what the user should do next.
pub trait Hinted {
    /// The hint, if there is one.
    fn hint(&self) -> Option<String>;
}

impl Hinted for UserError {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

impl Hinted for crate::config::ConfigError {
    fn hint(&self) -> Option<String> {
        crate::config::ConfigError::hint(self)
    }
}

/// The exit status an error maps to.
pub fn exit_status(error: &anyhow::Error) -> ExitStatus {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<UserError>().map(|user| user.status))
        .unwrap_or(ExitStatus::Failure)
}

/// The first hint anywhere in the error's chain.
pub fn find_hint(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(user) = cause.downcast_ref::<UserError>() {
            return user.hint();
        }
        if let Some(config) = cause.downcast_ref::<crate::config::ConfigError>() {
            return config.hint();
        }
        if let Some(build) = cause.downcast_ref::<crate::build::BuildError>() {
            return build.hint();
        }
        if let Some(publish) = cause.downcast_ref::<crate::registry::publish::PublishError>() {
            return publish.hint();
        }
        if let Some(index) = cause.downcast_ref::<crate::registry::client::IndexError>() {
            return index.hint();
        }
        if let Some(resolve) = cause.downcast_ref::<crate::resolver::ResolveError>() {
            return Some(resolve.hint());
        }
        if let Some(activation) = cause.downcast_ref::<crate::activation::ActivationError>() {
            return activation.hint();
        }
        if let Some(profile) = cause.downcast_ref::<crate::profile::ProfileError>() {
            return profile.hint();
        }
        if let Some(store) = cause.downcast_ref::<crate::store::StoreError>() {
            return store.hint();
        }
        if cause.downcast_ref::<crate::registry::download::DownloadError>().is_some() {
            return Some("nothing was installed; run the same command again to retry (finished downloads are kept)".into());
        }
        cause
            .downcast_ref::<crate::format::FormatError>()
            .and_then(crate::format::FormatError::hint)
    })
}
