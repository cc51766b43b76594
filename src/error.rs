//! Errors the command layer shows to people: a message, an exit status and, where it helps, a
//! hint saying what to run next. Library errors all arrive as [`ops::Error`](crate::ops::Error),
//! which carries every layer's hint through the one [`Hint`] trait.

use std::fmt;

use pandora_core::Hint;

use crate::exit::ExitStatus;

/// An error decided by the command layer itself (a question nobody can answer, an argument
/// that cannot be used), with what to do about it.
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

impl Hint for UserError {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// The exit status an error maps to.
pub fn exit_status(error: &anyhow::Error) -> ExitStatus {
    // A `UserError` given as context is found by `downcast_ref`, not in the chain.
    error
        .downcast_ref::<UserError>()
        .map(|user| user.status)
        .or_else(|| {
            error
                .chain()
                .find_map(|cause| cause.downcast_ref::<UserError>().map(|user| user.status))
        })
        .unwrap_or(ExitStatus::Failure)
}

/// The first hint anywhere in the error's chain (its context's first).
pub fn find_hint(error: &anyhow::Error) -> Option<String> {
    if let Some(hint) = error.downcast_ref::<UserError>().and_then(Hint::hint) {
        return Some(hint);
    }
    error.chain().find_map(|cause| {
        cause
            .downcast_ref::<UserError>()
            .map(|error| error as &dyn Hint)
            .or_else(|| {
                cause
                    .downcast_ref::<crate::ops::Error>()
                    .map(|error| error as &dyn Hint)
            })
            .and_then(Hint::hint)
    })
}
