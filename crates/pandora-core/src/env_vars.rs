//! Every environment variable Pandora or its launcher reads, or sets for a launched program, in
//! one place. Settings resolve as: command-line flags, then these variables, then files under
//! `$PANDORA_HOME`, then defaults. Nothing else in the code names a variable by its string.

// Read by the CLI.

/// Pandora's home directory (default: `$HOME/pandora`). Overridden by `--home`.
pub const PANDORA_HOME: &str = "PANDORA_HOME";

/// The user's home directory: the default `PANDORA_HOME` is `$HOME/pandora`, `$HOME/bin` and
/// friends are linked into the active profile, and the launcher's cache defaults to
/// `$HOME/.cache`.
pub const HOME: &str = "HOME";

/// Any non-empty value turns colour off unless `--color always` is given (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";

/// `dumb` turns colour and progress bars off, as on a terminal that cannot show them.
pub const TERM: &str = "TERM";

/// The login shell, which `pandora env` writes for when `--shell` is not given.
pub const SHELL: &str = "SHELL";

/// Reproducible builds: the timestamp recorded in packages (default 0).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// The slowest acceptable download, in bytes per second (default 1024; 0 turns the floor
/// off): an attempt that brings less over a sliding window of 30 s, after 10 s of grace, is
/// retried, and it also scales each package's overall deadline.
pub const PANDORA_DOWNLOAD_MIN_RATE: &str = "PANDORA_DOWNLOAD_MIN_RATE";

/// The fixed part of each package download's overall deadline, in seconds (default 120; 0: no
/// deadline). The deadline is this plus the package's indexed size at
/// `PANDORA_DOWNLOAD_MIN_RATE`, every retry included.
pub const PANDORA_DOWNLOAD_TIMEOUT: &str = "PANDORA_DOWNLOAD_TIMEOUT";

/// A file to append one machine-readable line per event to (see README, "Log format"); the
/// `--log FILE` flag wins over it.
pub const PANDORA_LOG: &str = "PANDORA_LOG";

/// Set (to the shell's name) by the scripts `pandora completions` prints, when the shell asks
/// `pandora` for completion candidates; never set it yourself.
pub const PANDORA_COMPLETE: &str = "PANDORA_COMPLETE";

/// Where installed packages' writable work-environment directories go (FlavorPack's
/// `workenv.directories`): `$FLAVOR_WORKENV_DIR/NAME@VERSION/DIR` instead of
/// `$PANDORA_HOME/var/NAME@VERSION/DIR`. Read when a package is installed: its store entry's
/// `{workenv}/DIR` becomes a link there, and its entry points create the directory if missing.
pub const FLAVOR_WORKENV_DIR: &str = "FLAVOR_WORKENV_DIR";

// Read by the CLI and the launcher.

/// FlavorPack's trusted-keys directory (`*.pub` files); Pandora trusts these keys too.
pub const FLAVOR_TRUSTED_KEYS_DIR: &str = "FLAVOR_TRUSTED_KEYS_DIR";

/// `1` refuses to run packages signed by keys that are not trusted.
pub const PANDORA_REQUIRE_TRUSTED: &str = "PANDORA_REQUIRE_TRUSTED";

// Read by the launcher (FlavorPack's names, with FlavorPack's meaning).

/// `1` makes the launcher say what it decided (warm start, verification, extraction).
pub const PANDORA_LAUNCHER_DEBUG: &str = "PANDORA_LAUNCHER_DEBUG";

/// Where work environments are cached: `$FLAVOR_CACHE_DIR/pandora/workenv`.
pub const FLAVOR_CACHE_DIR: &str = "FLAVOR_CACHE_DIR";

/// The XDG cache directory, used when `FLAVOR_CACHE_DIR` is not set.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";

/// `false` (or `0`) re-extracts the work environment on every start.
pub const FLAVOR_WORKENV_CACHE: &str = "FLAVOR_WORKENV_CACHE";

/// `spawn` runs the program as a child and forwards its exit code instead of exec'ing it.
pub const FLAVOR_EXEC_MODE: &str = "FLAVOR_EXEC_MODE";

/// `1` turns the package into FlavorPack's maintenance CLI (`info`, `verify`, `extract`, ...).
pub const FLAVOR_LAUNCHER_CLI: &str = "FLAVOR_LAUNCHER_CLI";

// Set by the launcher for the program it runs.

/// The work environment the package was extracted into.
pub const FLAVOR_WORKENV: &str = "FLAVOR_WORKENV";

/// The name the package was run as (its file name).
pub const FLAVOR_COMMAND_NAME: &str = "FLAVOR_COMMAND_NAME";

/// `argv[0]` as the launcher received it.
pub const FLAVOR_ORIGINAL_COMMAND: &str = "FLAVOR_ORIGINAL_COMMAND";

/// Searched for programs; the launcher puts `<workenv>/bin` first, `pandora env` the active
/// profile's `bin`.
pub const PATH: &str = "PATH";

// Written by `pandora env` for the user's shell.

/// Searched for manual pages; `pandora env` puts the active profile's `share/man` first.
pub const MANPATH: &str = "MANPATH";

/// Searched for shared data (desktop files, icons, completions); `pandora env` puts the active
/// profile's `share` first (default when unset: `/usr/local/share:/usr/share`).
pub const XDG_DATA_DIRS: &str = "XDG_DATA_DIRS";

/// Every variable above, for documentation and the test that keeps this list complete.
pub const ALL: &[&str] = &[
    PANDORA_HOME,
    HOME,
    NO_COLOR,
    TERM,
    SHELL,
    SOURCE_DATE_EPOCH,
    PANDORA_DOWNLOAD_MIN_RATE,
    PANDORA_DOWNLOAD_TIMEOUT,
    PANDORA_LOG,
    PANDORA_COMPLETE,
    FLAVOR_WORKENV_DIR,
    FLAVOR_TRUSTED_KEYS_DIR,
    PANDORA_REQUIRE_TRUSTED,
    PANDORA_LAUNCHER_DEBUG,
    FLAVOR_CACHE_DIR,
    XDG_CACHE_HOME,
    FLAVOR_WORKENV_CACHE,
    FLAVOR_EXEC_MODE,
    FLAVOR_LAUNCHER_CLI,
    FLAVOR_WORKENV,
    FLAVOR_COMMAND_NAME,
    FLAVOR_ORIGINAL_COMMAND,
    PATH,
    MANPATH,
    XDG_DATA_DIRS,
];
