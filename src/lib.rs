//! Pandora: a per-user package manager for PSPF/2025 (`.psp`) packages.
//!
//! # Module map
//!
//! Crates, bottom up: `acl-parser` (the ACL language) -> `pandora-core` (names, versions,
//! `name@version`, SHA-256 digests, keys and fingerprints, [`layout`], [`fs`] primitives,
//! [`env_vars`]) -> `pandora-format` ([`format`]: PSPF read, verify, extract, write, sign;
//! [`trust`]) -> `pandora-launcher` ([`launcher`]: verify, extract once, exec; no network
//! stack) -> this crate. Cargo enforces that order; `tests/layering.rs` checks it stays so.
//!
//! Inside this crate, layers bottom up. A module may use modules of its own layer or lower,
//! never higher; `tests/layering.rs` reads this table and every `crate::` path in `src/` and
//! fails on an upward one.
//!
//! | layer | modules | owns on disk (under `$PANDORA_HOME`) |
//! |---|---|---|
//! | 0 | [`format`](mod@format), [`fs`], [`layout`], [`env_vars`], [`events`], [`trust`], [`launcher`] (the crates above); [`sandbox`] (namespaces, seccomp, Landlock for builds and hooks) | `keys/trusted/`; `log/events.log` (the activity log); `~/.cache/pandora/workenv/` |
//! | 1 | [`graph`] (dependency graphs drawn as text), [`config`] (`registries.acl`), [`build`] (`manifest.acl` + `files/` to a signed `.psp`) | `registries.acl` |
//! | 2 | [`registry`]: the signed index format, transports per URL scheme, fetching and trusting indexes, downloading blobs, indexing a directory, publishing to a directory or S3 (`registry::publish`), its web page, download metrics from access logs | `cache/registries/`, `blobs/`; a registry's `index.acl`, `index.acl.sig`, `blobs/sha256/`, `index.html`, `index-data*`, `metrics.acl`, `metrics.acl.sig` |
//! | 3 | [`store`] (verified, read-only `store/name@version` trees, installed in transactions, with their entry points), [`resolver`] (the closure of exact pins, with the fix when it fails) | `store/`, `records/`, `entries/`, `var/`, `tmp/` |
//! | 4 | [`profile`]: generations as symlink forests, the atomic `vir` switch, lockfiles, `$HOME` links | `profiles/`, `vir`, `manifests/`, `$HOME/bin` ... |
//! | 5 | [`activation`]: what a profile holds, decided from install records (closures, pins) | through `profile` |
//! | 6 | [`ops`]: one function per workflow, plain inputs, a typed report or [`ops::Error`] | through the layers below |
//! | 7 | [`commands`] (one file per subcommand), [`cli`] (clap definitions, man pages), [`settings`], [`printer`], [`error`], [`exit`] | nothing |
//!
//! # How a command flows
//!
//! `main` parses the command line ([`cli::Cli`]) and calls [`commands::run`], which resolves
//! [`settings::Settings`] once (flags over `PANDORA_*` variables over defaults), builds the
//! [`printer::Printer`] and dispatches to one `commands::<name>::run`. That function asks
//! what must be asked, calls one [`ops`] function and renders the report it returns: data on
//! stdout, status on stderr. The operation takes the locks on what it changes and writes state
//! with [`fs::write_atomic`]. Failures come back as [`ops::Error`], into which every layer's
//! error converts; each implements [`pandora_core::Hint`], so `main` prints `error:`,
//! `caused by:` and `hint:` lines for any of them and exits with an [`exit::ExitStatus`].
#![deny(missing_docs)]

pub mod activation;
pub mod build;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod exit;
pub mod graph;
pub mod ops;
pub mod printer;
pub mod profile;
pub mod registry;
pub mod resolver;
pub mod sandbox;
pub mod settings;
pub mod store;

pub use pandora_core::{env_vars, events, fs, layout};
pub use pandora_format as format;
pub use pandora_format::trust;
pub use pandora_launcher as launcher;
