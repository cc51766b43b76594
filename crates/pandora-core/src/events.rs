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
        // Without waiting: a FIFO put there with no reader would block the open forever.
        let file = fs_err::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
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

/// The events the activity log keeps ([`ActivityLog`]): what changed what is installed,
/// active or published. Everything else (fetches, downloads, command start and end) goes only
/// to `--log`.
pub const ACTIVITY: &[&str] = &[
    "install", "remove", "activate", "rollback", "switch", "publish",
];

/// The activity log, `$PANDORA_HOME/log/events.log` (see [`crate::layout::Layout::events_log`]):
/// the lines of [`ACTIVITY`] events, in the `--log` format, kept whatever `--log` says. Bounded:
/// past `limit` bytes the file becomes `events.log.1` (replacing the one before) and a new one
/// starts, so at most about twice the limit is ever kept.
#[derive(Debug)]
pub struct ActivityLog {
    path: PathBuf,
    limit: u64,
    /// The file appended to, with its device and inode, kept open between lines: an install
    /// of twenty packages writes twenty-one.
    open: std::sync::Mutex<Option<(std::fs::File, (u64, u64))>>,
}

impl Clone for ActivityLog {
    fn clone(&self) -> ActivityLog {
        ActivityLog::new(self.path.clone(), self.limit)
    }
}

/// How large the activity log grows before it is rotated (1 MiB: some ten thousand lines).
pub const ACTIVITY_LIMIT: u64 = 1 << 20;

impl ActivityLog {
    /// The log at `path`, rotated past `limit` bytes.
    pub fn new(path: PathBuf, limit: u64) -> ActivityLog {
        ActivityLog {
            path,
            limit,
            open: std::sync::Mutex::new(None),
        }
    }

    /// The current file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rotated file, the lines before the current file's.
    pub fn rotated(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".1");
        PathBuf::from(name)
    }

    /// Appends `event`'s line, if it is an activity event. The directory is created when
    /// missing; the caller decides what a failure means (the CLI warns and carries on).
    pub fn record(&self, event: &Event, seconds: u64) -> Result<(), crate::IoError> {
        use std::os::unix::fs::MetadataExt;
        if !ACTIVITY.contains(&event.name) {
            return Ok(());
        }
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Two processes may both see the file over the limit and both rename: the second
        // rename moves a nearly empty file, which loses at most the few lines in between. Never
        // more than the bound is kept, and every kept line is whole.
        let named = fs_err::metadata(&self.path).ok();
        if named
            .as_ref()
            .is_some_and(|metadata| metadata.len() >= self.limit)
        {
            let rotated = self.rotated();
            fs_err::rename(&self.path, &rotated)
                .map_err(crate::IoError::at("rotate the activity log", &self.path))?;
            *open = None;
        }
        // The file kept open is used while it still has the log's name (no process rotated
        // or removed it since).
        let identity = named.map(|metadata| (metadata.dev(), metadata.ino()));
        if open.as_ref().map(|(_, held)| Some(*held)) != Some(identity) {
            *open = None;
        }
        let file = match &mut *open {
            Some((file, _)) => file,
            None => {
                let (file, identity) = self.open_file()?;
                &mut open.insert((file, identity)).0
            }
        };
        let mut bytes = event.line(seconds).into_bytes();
        bytes.push(b'\n');
        file.write_all(&bytes).map_err(|source| crate::IoError {
            action: "append to",
            path: self.path.clone(),
            source,
        })
    }

    /// Opens the current file for appending (made, with its directory, when missing), and
    /// says its device and inode.
    fn open_file(&self) -> Result<(std::fs::File, (u64, u64)), crate::IoError> {
        use std::os::unix::fs::MetadataExt;
        let not_a_file = || crate::IoError {
            action: "append to",
            path: self.path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file; remove it and Pandora makes a new log",
            ),
        };
        let opened = match FileSink::open(&self.path) {
            Err(error) if error.source.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = self.path.parent() {
                    fs_err::create_dir_all(parent).map_err(crate::IoError::at("create", parent))?;
                }
                FileSink::open(&self.path)
            }
            opened => opened,
        };
        let sink = match opened {
            Ok(sink) => sink,
            // A FIFO, a directory or a dangling link there: say what to do, not only errno.
            Err(error) => {
                let there = fs_err::symlink_metadata(&self.path);
                return Err(match there {
                    Ok(metadata) if !metadata.is_file() => not_a_file(),
                    _ => error,
                });
            }
        };
        // A link to a device there would swallow every line without a word.
        let metadata = sink
            .file
            .metadata()
            .ok()
            .filter(|metadata| metadata.is_file());
        let Some(metadata) = metadata else {
            return Err(not_a_file());
        };
        Ok((sink.file, (metadata.dev(), metadata.ino())))
    }

    /// Every line kept, oldest first, parsed; lines that do not parse (a torn tail after a
    /// full disk, an edit by hand) are counted in the second value.
    pub fn read(&self) -> Result<(Vec<LogLine>, usize), crate::IoError> {
        let mut lines = Vec::new();
        let mut unreadable = 0;
        for path in [self.rotated(), self.path.clone()] {
            // Pandora writes and rotates these files; a FIFO or a link to a device there is
            // refused, and a file far past the rotation size is not read into memory.
            let text = match crate::fs::read_regular(&path, self.limit.saturating_mul(16)) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(crate::IoError::at("read", &path)(error)),
            };
            for line in text.lines().filter(|line| !line.is_empty()) {
                match LogLine::parse(line) {
                    Some(parsed) => lines.push(parsed),
                    None => unreadable += 1,
                }
            }
        }
        Ok((lines, unreadable))
    }
}

/// One log line read back: the inverse of [`Event::line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The time as written (RFC 3339, UTC).
    pub time: String,
    /// The event's name.
    pub event: String,
    /// Its fields, in order.
    pub fields: Vec<(String, String)>,
}

impl LogLine {
    /// Parses one line; `None` when it is not in the log format.
    pub fn parse(line: &str) -> Option<LogLine> {
        let (time, rest) = line.split_once(' ')?;
        let (event, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if time.is_empty() || event.is_empty() {
            return None;
        }
        let mut fields = Vec::new();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return None;
            }
            let (value, after) = match after.strip_prefix('"') {
                Some(quoted) => unquote(quoted)?,
                None => {
                    let (bare, after) = after.split_at(after.find(' ').unwrap_or(after.len()));
                    if bare.is_empty() || bare.contains(['"', '=']) {
                        return None;
                    }
                    (bare.to_string(), after)
                }
            };
            fields.push((key.to_string(), value));
            rest = match after.strip_prefix(' ') {
                Some(next) => next,
                None if after.is_empty() => after,
                None => return None,
            };
        }
        Some(LogLine {
            time: time.to_string(),
            event: event.to_string(),
            fields,
        })
    }

    /// The value of field `key`, if present.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// A quoted value after its opening `"`: the value, and what follows the closing `"`.
fn unquote(quoted: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, &quoted[at + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                'r' => value.push('\r'),
                't' => value.push('\t'),
                'u' => {
                    if chars.next()?.1 != '{' {
                        return None;
                    }
                    let mut hex = String::new();
                    loop {
                        match chars.next()?.1 {
                            '}' => break,
                            digit => hex.push(digit),
                        }
                    }
                    value.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
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

    #[test]
    fn log_lines_read_back_as_written() {
        let event = Event::new("install")
            .with("id", "hello@1.0.0")
            .with("note", "a \"b\" = c\\d\n\u{1}é")
            .with("empty", "");
        let parsed = LogLine::parse(&event.line(0)).unwrap();
        assert_eq!(parsed.time, "1970-01-01T00:00:00Z");
        assert_eq!(parsed.event, "install");
        assert_eq!(parsed.field("id"), Some("hello@1.0.0"));
        assert_eq!(parsed.field("note"), Some("a \"b\" = c\\d\n\u{1}é"));
        assert_eq!(parsed.field("empty"), Some(""));
        for bad in [
            "",
            "only-time",
            "t e k",
            "t e =v",
            "t e k=\"open",
            "t e K=v",
            "t e k=\"a\"b",
        ] {
            assert_eq!(LogLine::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_activity_log_keeps_only_activity_and_rotates() {
        let directory = tempfile::tempdir().unwrap();
        let log = ActivityLog::new(directory.path().join("log/events.log"), 100);
        log.record(&Event::new("fetch").with("url", "x"), 0)
            .unwrap();
        assert!(!log.path().exists(), "a fetch is not activity");
        for number in 0..6 {
            log.record(&Event::new("install").with("id", format!("p{number}@1")), 0)
                .unwrap();
        }
        let rotated = fs_err::read_to_string(log.rotated()).unwrap();
        let current = fs_err::read_to_string(log.path()).unwrap();
        // Rotated once the file reached the limit: three lines of 38 bytes each side.
        assert_eq!((rotated.lines().count(), current.lines().count()), (3, 3));
        let (lines, unreadable) = log.read().unwrap();
        assert_eq!(unreadable, 0);
        let ids: Vec<_> = lines.iter().filter_map(|line| line.field("id")).collect();
        assert_eq!(ids, ["p0@1", "p1@1", "p2@1", "p3@1", "p4@1", "p5@1"]);
        fs_err::write(log.path(), "garbage\n").unwrap();
        assert_eq!(log.read().unwrap().1, 1);
    }

    #[test]
    fn a_log_moved_or_removed_by_another_process_is_opened_again() {
        let directory = tempfile::tempdir().unwrap();
        let log = ActivityLog::new(directory.path().join("events.log"), 1 << 20);
        let install = |id: &str| Event::new("install").with("id", id);
        log.record(&install("a@1"), 0).unwrap();
        // Another process rotates it, then another removes the new one.
        fs_err::rename(log.path(), log.rotated()).unwrap();
        log.record(&install("b@1"), 0).unwrap();
        let moved = fs_err::read_to_string(log.rotated()).unwrap();
        assert!(!moved.contains("b@1"), "{moved}");
        fs_err::remove_file(log.path()).unwrap();
        log.record(&install("c@1"), 0).unwrap();
        let current = fs_err::read_to_string(log.path()).unwrap();
        assert!(
            current.contains("c@1") && !current.contains("b@1"),
            "{current}"
        );
    }

    #[test]
    fn a_log_that_is_not_a_file_says_to_remove_it() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("events.log");
        let install = Event::new("install").with("id", "a@1");
        let made: [&dyn Fn(); 2] = [&|| fs_err::create_dir(&path).unwrap(), &|| {
            std::os::unix::fs::symlink(directory.path().join("gone/x"), &path).unwrap();
        }];
        for make in made {
            let _ = fs_err::remove_dir(&path);
            let _ = fs_err::remove_file(&path);
            make();
            let error = ActivityLog::new(path.clone(), 1 << 20)
                .record(&install, 0)
                .unwrap_err();
            let said = crate::error::chain(&error);
            assert!(said.contains("remove it"), "{said}");
        }
    }
}
