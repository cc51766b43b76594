//! Pandora: a per-user package manager for PSPF/2025 (`.psp`) packages.
//!
//! # Module map
//!
//! Layers, bottom up; a module only calls modules in its own layer or below.
//!
//! | layer | module | owns on disk (under `$PANDORA_HOME`) |
//! |---|---|---|
//! | language | the `acl-parser` crate | nothing: parses and writes ACL text |
//! | primitives | [`fs`] (atomic replace, locks), [`keys`] (Ed25519 public keys), [`layout`] (every path) | lock files beside the state they guard |
//! | format | [`format`](mod@format): PSPF/2025 read, verify, extract, write; signing keys | `.psp` files |
//! | packages | [`build`] (`manifest.acl` + `files/` to `.psp`), [`trust`] (trusted keys) | `keys/`, `keys/trusted/` |
//! | registries | [`registry`]: the signed index format, indexing a directory, fetching indexes (cache, trust checks), downloading blobs | `cache/registries/`, `blobs/`; a registry's `index.acl`, `index.acl.sig` |
//! | store | [`store`]: verified, read-only `store/name@version` trees, installed in transactions | `store/`, `records/`, `tmp/` |
//! | resolution | [`resolver`]: the closure of exact pins, with the fix when it fails | nothing |
//! | installing | [`install`]: registries, resolution, downloads, checks, one store transaction | through the layers above |
//! | launcher | [`launcher`]: verify, extract once, exec | `~/.cache/pandora/workenv/` |
//! | configuration | [`config`] | `registries.acl` |
//! | commands | [`commands`] (one file per subcommand) | through the layers above |
//! | CLI | [`cli`] (clap definitions, man pages), [`settings`], [`printer`], [`error`], [`exit`], [`env_vars`] | nothing |
//!
//! The `pandora-launcher` binary (`src/bin/`) links only the format, trust and launcher layers
//! (no network stack). Profiles join as they are built, owning `profiles/`, `vir` and
//! `manifests/` of DESIGN.md section 2.
//!
//! # How a command flows
//!
//! `main` parses the command line ([`cli::Cli`]) and calls [`commands::run`], which resolves
//! [`settings::Settings`] once (flags over `PANDORA_*` variables over defaults), builds the
//! [`printer::Printer`] and dispatches to one `commands::<name>::run`. That function takes a
//! lock on what it changes, calls the library, writes state with [`fs::write_atomic`], and
//! reports: data on stdout, status on stderr. Errors travel back as `anyhow::Error` chains
//! whose library parts carry hints; `main` prints `error:`, `caused by:` and `hint:` lines and
//! exits with an [`exit::ExitStatus`].
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
pub mod settings;
pub mod store;

pub use pandora_core::{env_vars, fs, layout};
pub use pandora_format as format;
pub use pandora_format::trust;
pub use pandora_launcher as launcher;
