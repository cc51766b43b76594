//! Every environment variable Pandora reads, in one place. Settings resolve as: command-line
//! flags, then these variables, then files under `$PANDORA_HOME`, then defaults.

/// Pandora's home directory (default: `$HOME/pandora`). Overridden by `--home`.
pub const PANDORA_HOME: &str = "PANDORA_HOME";

/// The user's home directory; the default `PANDORA_HOME` is `$HOME/pandora`.
pub const HOME: &str = "HOME";

/// Any non-empty value turns colour off unless `--color always` is given (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";

/// FlavorPack's trusted-keys directory (`*.pub` files); Pandora trusts these keys too.
pub const FLAVOR_TRUSTED_KEYS_DIR: &str = "FLAVOR_TRUSTED_KEYS_DIR";

/// `1` refuses to run packages signed by keys that are not trusted.
pub const PANDORA_REQUIRE_TRUSTED: &str = "PANDORA_REQUIRE_TRUSTED";

/// Reproducible builds: the timestamp recorded in packages (default 0).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// `1` makes the launcher say what it decided (warm start, verification, extraction).
pub const PANDORA_LAUNCHER_DEBUG: &str = "PANDORA_LAUNCHER_DEBUG";
