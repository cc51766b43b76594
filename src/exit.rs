//! The process exit codes, documented for scripts (`pandora --help` lists them too).

/// How a `pandora` run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Everything asked for was done.
    Success = 0,
    /// The command failed: bad input, a file that cannot be read or written, a check that did
    /// not pass. Nothing was half-done.
    Failure = 1,
    /// The command line itself could not be parsed (unknown flag, missing argument).
    Usage = 2,
    /// A confirmation was declined, or was needed while standard input is not a terminal.
    NotConfirmed = 3,
}

impl ExitStatus {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

/// Every exit code and its meaning, for the man page's EXIT STATUS.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (ExitStatus::Success as u8, "success"),
    (
        ExitStatus::Failure as u8,
        "the command failed (bad input, unreadable or unwritable file, failed check); nothing half-done",
    ),
    (ExitStatus::Usage as u8, "the command line could not be parsed"),
    (
        ExitStatus::NotConfirmed as u8,
        "a confirmation was declined, or needed without a terminal (pass --yes)",
    ),
];

/// The exit codes as `pandora --help` prints them.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  success
  1  the command failed (bad input, unreadable or unwritable file, failed check); nothing half-done
  2  the command line could not be parsed
  3  a confirmation was declined, or needed without a terminal (pass --yes)";
