//! The two things every library error shares: an I/O failure names its path ([`IoError`]), and
//! an error can say what the user should do next ([`Hint`]).

use std::path::{Path, PathBuf};

/// What the user can do about an error. Every library error enum implements it, so the CLI
/// renders any of them the same way without knowing its type.
pub trait Hint: std::error::Error {
    /// The next step to suggest, if there is a useful one.
    fn hint(&self) -> Option<String> {
        None
    }
}

/// An I/O failure and the path it happened on: the one shape every layer uses.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}")]
pub struct IoError {
    /// What was being done (`read`, `write`, `create`, ...).
    pub action: &'static str,
    /// The path.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// A closure for `map_err`: `.map_err(IoError::at("read", &path))`.
    pub fn at<'a>(
        action: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> IoError + 'a {
        move |source| IoError {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl Hint for IoError {
    fn hint(&self) -> Option<String> {
        match self.source.raw_os_error() {
            Some(code) if code == nix::libc::ENOSPC => Some(
                "the disk is full: free some space (`pandora prune`) and run the command again"
                    .into(),
            ),
            Some(code) if code == nix::libc::EACCES || code == nix::libc::EROFS => Some(format!(
                "check that {} is writable by you",
                self.path.display()
            )),
            _ => None,
        }
    }
}

/// An error and its causes on one line, `outer: inner: innermost`, for warnings that must
/// keep the underlying cause (such as "connection refused").
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let message = inner.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = inner.source();
    }
    text
}
