//! What Pandora did, as events: the registry client, the store and the operations emit them
//! here; the CLI installs one sink ([`set_sink`]) that writes them to a log file (`--log FILE`,
//! `PANDORA_LOG`) and, with `-v`, shows them on stderr. Emitting with no sink costs nothing.
//!
//! # The log line (stable)
//!
//! ```text
//! 2025-06-01T12:00:00Z fetch registry=main url=https://example.org/index.acl status=fetched bytes=1234
//! ```
//!
//! One line per event: the time (RFC 3339, UTC, whole seconds), the event name, then
//! `key=value` fields in a fixed order per event. A value is written bare when it is not empty
//! and holds only printable ASCII other than space, `"`, `\` and `=`; otherwise it is quoted:
//! `"` ... `"`, with `\"`, `\\`, `\n`, `\r`, `\t` and `\u{XXXX}` (for other control
//! characters) inside. Keys are lowercase ASCII letters, digits and `_`. Lines are appended to the file with
//! `O_APPEND` in one `write`, so the lines of concurrent runs interleave whole.

use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its name: `command-start`, `fetch`, `download`, ...
    pub name: &'static str,
    /// Its fields, in the order they were added.
    pub fields: Vec<(&'static str, String)>,
}

impl Event {
    /// An event with no fields yet.
    pub fn new(name: &'static str) -> Event {
        Event {
            name,
            fields: Vec::new(),
        }
    }

    /// Adds a field.
    pub fn with(mut self, key: &'static str, value: impl Display) -> Event {
        self.fields.push((key, value.to_string()));
        self
    }

    /// The value of field `key`, if present.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.as_str())
    }

    /// Hands the event to the sink, if one is set.
    pub fn emit(self) {
        if let Some(sink) = SINK.get() {
            sink.event(&self);
        }
    }

    /// The log line for this event at Unix time `seconds`, without the newline.
    pub fn line(&self, seconds: u64) -> String {
        let mut line = format!("{} {}", crate::time::rfc3339(seconds), self.name);
        for (key, value) in &self.fields {
            line.push(' ');
            line.push_str(key);
            line.push('=');
            line.push_str(&quote(value));
        }
        line
    }
}

/// A value as the log writes it: bare when safe, else quoted and escaped (see the module doc).
pub fn quote(value: &str) -> String {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '='));
    if bare {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where events go.
pub trait Sink: Send + Sync {
    /// Records one event. Must not fail loudly: a log that cannot be written never stops a
    /// command.
    fn event(&self, event: &Event);
}

static SINK: OnceLock<Box<dyn Sink>> = OnceLock::new();

/// Sets the process's sink, once; a second call is ignored (returns false).
pub fn set_sink(sink: Box<dyn Sink>) -> bool {
    SINK.set(sink).is_ok()
}

/// Appends log lines to a file: opened with `O_APPEND` (created 0600 if missing), one `write`
/// per line.
#[derive(Debug)]
pub struct FileSink {
    file: std::fs::File,
    path: PathBuf,
}

impl FileSink {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path) -> Result<FileSink, crate::IoError> {
        use fs_err::os::unix::fs::OpenOptionsExt;
        let file = fs_err::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(crate::IoError::at("open the log file", path))?;
        Ok(FileSink {
            file: file.into_parts().0,
            path: path.to_path_buf(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line (a newline is added) in one write.
    pub fn append(&self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        // One write(2) on an O_APPEND file: the line lands whole, after every earlier one. A
        // failure (a full disk) loses the line, never the command.
        let _ = (&self.file).write_all(&bytes);
    }
}

impl Sink for FileSink {
    fn event(&self, event: &Event) {
        let seconds = u64::try_from(crate::time::now()).unwrap_or(0);
        self.append(&event.line(seconds));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_what_would_be_ambiguous() {
        let event = Event::new("fetch")
            .with("registry", "main")
            .with("url", "https://example.org/a b")
            .with("cause", "said \"no\" = 1\\2\n")
            .with("empty", "");
        assert_eq!(
            event.line(0),
            "1970-01-01T00:00:00Z fetch registry=main url=\"https://example.org/a b\" cause=\"said \\\"no\\\" = 1\\\\2\\n\" empty=\"\""
        );
        assert_eq!(quote("\u{1}é"), "\"\\u{0001}é\"");
        assert_eq!(event.field("registry"), Some("main"));
    }

    #[test]
    fn a_file_sink_appends_whole_lines() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("log");
        let first = FileSink::open(&path).unwrap();
        let second = FileSink::open(&path).unwrap();
        first.append("one");
        second.append("two");
        first.append("three");
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "one\ntwo\nthree\n");
    }
}
