//! The one place output is written. Data a script would pipe goes to stdout; status, warnings,
//! errors and prompts go to stderr. Colour is decided once (see `settings`), and everything reads
//! the same without it.

use std::fmt::Display;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use owo_colors::{OwoColorize, Style};

use crate::error::{find_hint, UserError};
use crate::exit::ExitStatus;
use crate::ops::install::{Progress, Silent};
use crate::settings::Settings;

/// Writes what the user sees.
#[derive(Debug, Clone)]
pub struct Printer {
    color: bool,
    quiet: bool,
    verbose: u8,
    assume_yes: bool,
    interactive: bool,
    bars: bool,
    /// The first failure to write data to stdout other than a closed pipe.
    stdout_error: Arc<Mutex<Option<std::io::Error>>>,
}

impl Printer {
    /// A printer following the resolved settings.
    pub fn new(settings: &Settings) -> Self {
        Printer {
            color: settings.color,
            quiet: settings.quiet,
            verbose: settings.verbose,
            assume_yes: settings.assume_yes,
            interactive: settings.interactive,
            bars: settings.progress,
            stdout_error: Arc::default(),
        }
    }

    /// A printer for errors that happen before settings exist.
    pub fn plain(color: bool) -> Self {
        Printer {
            color,
            quiet: false,
            verbose: 0,
            assume_yes: false,
            interactive: false,
            bars: false,
            stdout_error: Arc::default(),
        }
    }

    fn paint(&self, text: &str, style: Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }

    /// A line of data on stdout.
    pub fn data(&self, line: impl Display) {
        self.data_bytes(format!("{}\n", visible(&line.to_string())).as_bytes());
    }

    /// Raw data on stdout. A closed pipe (`pandora list | head -1`) ends the output quietly;
    /// any other failure (a full disk behind `>`) is remembered for [`Printer::stdout_error`].
    pub fn data_bytes(&self, bytes: &[u8]) {
        let mut stdout = std::io::stdout().lock();
        if let Err(error) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
            if error.kind() != std::io::ErrorKind::BrokenPipe {
                let mut first = self
                    .stdout_error
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                first.get_or_insert(error);
            }
        }
    }

    /// The first failure to write data, other than a closed pipe: the command's output is
    /// incomplete, which the caller reports as an error.
    pub fn stdout_error(&self) -> Option<std::io::Error> {
        self.stdout_error
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take()
    }

    /// A line on stderr. Diagnostics that cannot be written (stderr closed or a broken pipe)
    /// are dropped: they must never turn a finished command into a crash.
    fn diagnostic(&self, line: std::fmt::Arguments<'_>) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// A progress line on stderr, cargo style: a right-aligned verb, then what happened.
    /// Silenced by `-q`.
    pub fn status(&self, verb: &str, message: impl Display) {
        if self.quiet {
            return;
        }
        let verb = self.paint(&format!("{verb:>12}"), Style::new().green().bold());
        let message = visible(&message.to_string()).into_owned();
        self.diagnostic(format_args!("{verb} {message}"));
    }

    /// Detail shown only with `-v`.
    pub fn detail(&self, message: impl Display) {
        if self.verbose > 0 && !self.quiet {
            let message = visible(&message.to_string()).into_owned();
            self.diagnostic(format_args!(
                "{} {message}",
                self.paint("note:", Style::new().cyan())
            ));
        }
    }

    /// A warning on stderr (shown even with `-q`: it is about something the user should know).
    pub fn warn(&self, message: impl Display) {
        let message = visible(&message.to_string()).into_owned();
        self.diagnostic(format_args!(
            "{} {message}",
            self.paint("warning:", Style::new().yellow().bold())
        ));
    }

    /// A hint on stderr.
    pub fn hint(&self, message: impl Display) {
        let message = visible(&message.to_string()).into_owned();
        self.diagnostic(format_args!(
            "{} {message}",
            self.paint("hint:", Style::new().cyan().bold())
        ));
    }

    /// An error and its causes: `error: ...`, `caused by: ...` for each cause, then the first
    /// hint found in the chain.
    pub fn error(&self, error: &anyhow::Error) {
        let mut chain = error.chain();
        if let Some(top) = chain.next() {
            // Dependency graphs in a message mark the offending package with ✗: highlight it.
            let text: Vec<String> = visible(&top.to_string())
                .lines()
                .map(|line| {
                    if !self.color || !line.contains('✗') {
                        return line.to_string();
                    }
                    let start = line
                        .rfind("── ")
                        .map_or(line.len() - line.trim_start().len(), |at| at + "── ".len());
                    let (guide, label) = line.split_at(start);
                    format!("{guide}{}", self.paint(label, Style::new().red().bold()))
                })
                .collect();
            self.diagnostic(format_args!(
                "{} {}",
                self.paint("error:", Style::new().red().bold()),
                text.join("\n")
            ));
        }
        for cause in chain {
            let cause = visible(&cause.to_string()).into_owned();
            self.diagnostic(format_args!(
                "{} {cause}",
                self.paint("caused by:", Style::new().bold())
            ));
        }
        if let Some(hint) = find_hint(error) {
            self.hint(hint);
        }
    }

    /// Download progress: a bar per download and one overall on a terminal, nothing otherwise
    /// (and nothing with `-q`).
    pub fn download_progress(&self) -> Arc<dyn Progress> {
        if !self.bars {
            return Arc::new(Silent);
        }
        Arc::new(Bars {
            multi: MultiProgress::new(),
            bars: Mutex::new(Vec::new()),
            total: Mutex::new(None),
        })
    }

    /// Asks a yes/no question on stderr; `--yes` answers yes without asking. Without a terminal
    /// on stdin there is nobody to ask, so that is an error telling the user about `--yes`.
    pub fn confirm(&self, question: &str) -> Result<bool, UserError> {
        if self.assume_yes {
            return Ok(true);
        }
        if !self.interactive {
            return Err(UserError::new(format!(
                "cannot ask \"{question}\": standard input is not a terminal"
            ))
            .hint("pass --yes to confirm without a prompt")
            .status(ExitStatus::NotConfirmed));
        }
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "{} {question} [y/N] ",
            self.paint("?", Style::new().cyan().bold())
        );
        let _ = stderr.flush();
        drop(stderr);
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|error| UserError::new(format!("cannot read the answer: {error}")))?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
}

/// Progress bars on a terminal: one per download and one overall.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<Vec<ProgressBar>>,
    /// Drawn only once there is something to download: never a `0 B/0 B` flash.
    total: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn bars(&self) -> std::sync::MutexGuard<'_, Vec<ProgressBar>> {
        lock(&self.bars)
    }
}

/// A panic elsewhere cannot leave the bars inconsistent (they are only added and taken), so a
/// poisoned lock is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Progress for Bars {
    fn start(&self, downloads: &[(String, u64)]) {
        if downloads.is_empty() {
            return;
        }
        let total = self.multi.add(
            ProgressBar::new(downloads.iter().map(|(_, size)| size).sum()).with_style(
                ProgressStyle::with_template(
                    "{prefix:>24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        );
        total.set_prefix("total");
        *lock(&self.total) = Some(total);
        let style = ProgressStyle::with_template("{prefix:>24} [{bar:30}] {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let mut bars = self.bars();
        for (id, size) in downloads {
            let bar = self.multi.add(
                ProgressBar::new(*size)
                    .with_style(style.clone())
                    .with_prefix(id.clone()),
            );
            bars.push(bar);
        }
    }

    fn advance(&self, index: usize, bytes: u64) {
        if let Some(bar) = self.bars().get(index) {
            let before = bar.position();
            bar.set_position(bytes);
            if let Some(total) = lock(&self.total).as_ref() {
                total.inc(bytes.saturating_sub(before));
            }
        }
    }

    fn finish(&self) {
        for bar in self.bars().iter() {
            bar.finish_and_clear();
        }
        if let Some(total) = lock(&self.total).take() {
            total.finish_and_clear();
        }
    }
}

pub use pandora_core::text::visible;

/// Bytes for people: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// An event in words, for `-v`: what was fetched from where, what was decided and why.
pub fn describe_event(event: &pandora_core::events::Event) -> String {
    let field = |key: &str| event.field(key).unwrap_or("");
    let bytes = |key: &str| {
        event
            .field(key)
            .and_then(|value| value.parse().ok())
            .map_or_else(String::new, human_bytes)
    };
    match event.name {
        "command-start" => format!("running `pandora {}` (pid {})", field("args"), field("pid")),
        "command-end" => format!(
            "`{}` finished with exit code {} in {} ms",
            field("command"),
            field("exit"),
            field("ms")
        ),
        "fetch" => {
            let what = match field("status") {
                "fetched" => format!("fetched (serial {})", field("serial")),
                "not-modified" => format!(
                    "not modified since the last fetch: the cached copy is used (serial {})",
                    field("serial")
                ),
                "cached" => format!(
                    "the cached copy is fresh (within cache_ttl) or --offline: not asked (serial {})",
                    field("serial")
                ),
                _ => format!("failed: {}", field("cause")),
            };
            format!(
                "index of registry `{}` from {}: {what}",
                field("registry"),
                field("url")
            )
        }
        "download" if field("status") == "ok" => format!(
            "downloaded {} from {} ({}, sha256 {})",
            event.field("id").unwrap_or("a package"),
            field("url"),
            bytes("bytes"),
            field("sha256")
        ),
        "download" => format!(
            "download of {} from {} failed: {}",
            field("id"),
            field("url"),
            field("cause")
        ),
        "store-commit" => format!("stored {} (from {})", field("id"), field("source")),
        "activate" => {
            let list = |key: &str| match field(key) {
                "" => "nothing".to_string(),
                items => items.replace(',', ", "),
            };
            format!(
                "profile `{}` is now generation {}: added {}, removed {}",
                field("profile"),
                field("generation"),
                list("added"),
                list("removed")
            )
        }
        "remove" => format!("removed {} from the store", field("id")),
        "install" => format!(
            "installed {}{}{}",
            field("id"),
            if field("new") == "true" {
                ""
            } else {
                " (already in the store)"
            },
            if field("requested") == "true" {
                ""
            } else {
                " as a dependency"
            }
        ),
        "publish" => format!(
            "published {} to registry `{}` (sha256 {})",
            field("id"),
            field("registry"),
            field("sha256")
        ),
        "prune" => format!(
            "pruned {} item(s), {}{}",
            field("items"),
            bytes("bytes"),
            if field("dry_run") == "true" {
                " (dry run: nothing deleted)"
            } else {
                ""
            }
        ),
        "error" => format!("failed: {}", field("message")),
        _ => {
            let fields: Vec<String> = event
                .fields
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            format!("{} {}", event.name, fields.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_written_out() {
        assert_eq!(visible("plain ✗ text\n\tnext"), "plain ✗ text\n\tnext");
        assert_eq!(visible("\u{1b}[31mRED\u{7}"), "\\u{1b}[31mRED\\u{7}");
    }
}
