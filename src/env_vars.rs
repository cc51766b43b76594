//! Every environment variable Pandora reads, in one place. Settings resolve as: command-line
//! flags, then these variables, then files under `$PANDORA_HOME`, then defaults.

/// Pandora's home directory (default: `$HOME/pandora`). Overridden by `--home`.
pub const PANDORA_HOME: &str = "PANDORA_HOME";

/// The user's home directory; the default `PANDORA_HOME` is `$HOME/pandora`.
pub const HOME: &str = "HOME";

/// Any non-empty value turns colour off unless `--color always` is given (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
