//! The one place output is written. Data a script would pipe goes to stdout; status, warnings,
//! errors and prompts go to stderr. Colour is decided once (see `settings`), and everything reads
//! the same without it.

use std::fmt::Display;
use std::io::{BufRead, Write};

use owo_colors::{OwoColorize, Style};

use crate::error::{find_hint, UserError};
use crate::exit::ExitStatus;
use crate::settings::Settings;

/// Writes what the user sees.
#[derive(Debug, Clone)]
pub struct Printer {
    color: bool,
    quiet: bool,
    verbose: u8,
    assume_yes: bool,
    interactive: bool,
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
        // A closed pipe (`pandora registry list | head`) is not worth a panic or an error.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }

    /// A progress line on stderr, cargo style: a right-aligned verb, then what happened.
    /// Silenced by `-q`.
    pub fn status(&self, verb: &str, message: impl Display) {
        if self.quiet {
            return;
        }
        let verb = self.paint(&format!("{verb:>12}"), Style::new().green().bold());
        eprintln!("{verb} {message}");
    }

    /// Detail shown only with `-v`.
    pub fn detail(&self, message: impl Display) {
        if self.verbose > 0 && !self.quiet {
            eprintln!("{} {message}", self.paint("note:", Style::new().cyan()));
        }
    }

    /// A warning on stderr (shown even with `-q`: it is about something the user should know).
    pub fn warn(&self, message: impl Display) {
        eprintln!(
            "{} {message}",
            self.paint("warning:", Style::new().yellow().bold())
        );
    }

    /// A hint on stderr.
    pub fn hint(&self, message: impl Display) {
        eprintln!(
            "{} {message}",
            self.paint("hint:", Style::new().cyan().bold())
        );
    }

    /// An error and its causes: `error: ...`, `caused by: ...` for each cause, then the first
    /// hint found in the chain.
    pub fn error(&self, error: &anyhow::Error) {
        let mut chain = error.chain();
        if let Some(top) = chain.next() {
            // Dependency graphs in a message mark the offending package with ✗: highlight it.
            let text: Vec<String> = top
                .to_string()
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
            eprintln!(
                "{} {}",
                self.paint("error:", Style::new().red().bold()),
                text.join("\n")
            );
        }
        for cause in chain {
            eprintln!("{} {cause}", self.paint("caused by:", Style::new().bold()));
        }
        if let Some(hint) = find_hint(error) {
            self.hint(hint);
        }
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
        eprint!(
            "{} {question} [y/N] ",
            self.paint("?", Style::new().cyan().bold())
        );
        let _ = std::io::stderr().flush();
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
