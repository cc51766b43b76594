//! Everything the launcher writes. `println!` and `eprintln!` panic when the write fails (a
//! closed pipe, a full disk), and a panic in a launcher means the program never runs, so none
//! are used (the crate denies them). Diagnostics on stderr are dropped when they cannot be
//! written; a maintenance command's data goes to stdout in one piece at the end, where a write
//! error can be handled as the caller decides.

use std::io::Write;

/// Writes `pandora-launcher: MESSAGE` as one line on stderr; dropped if it cannot be written.
pub(crate) fn diagnostic(message: std::fmt::Arguments<'_>) {
    text(&format!("pandora-launcher: {message}\n"));
}

/// Writes `text` on stderr as it is; dropped if it cannot be written.
pub(crate) fn text(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A maintenance command's data, collected and then written to stdout by [`Data::emit`].
#[derive(Debug, Default)]
pub(crate) struct Data(Vec<u8>);

impl Data {
    /// Appends a line.
    pub(crate) fn line(&mut self, line: std::fmt::Arguments<'_>) {
        // Writing into a Vec cannot fail.
        let _ = self.0.write_fmt(line);
        self.0.push(b'\n');
    }

    /// Appends bytes as they are.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Writes everything to stdout and flushes it.
    pub(crate) fn emit(&self) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&self.0)?;
        stdout.flush()
    }
}
