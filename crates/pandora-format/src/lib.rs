//! PSPF/2025, FlavorPack's package format: reading and verifying ([`package`]), extracting
//! ([`extract`]) and writing ([`writer`]) `.psp` files byte-compatible with FlavorPack 0.5.4.
//!
//! Layout: launcher stub, gzipped metadata JSON, slot table, slot data, then the 8200-byte
//! trailer ([`index`]). Every offset is absolute. Pandora trusts a slot only after its full
//! SHA-256 matches the one in the signed metadata (FlavorPack checks just 8 unsigned bytes).
#![deny(missing_docs)]
// The launcher runs this code: a diagnostic that cannot be written must never panic.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod extract;
pub mod index;
pub mod metadata;
pub mod package;
pub mod platform;
pub mod secure;
pub mod signing;
pub mod slot;
pub mod trust;
pub mod writer;

use std::path::PathBuf;

/// What can go wrong reading, verifying, extracting or writing a package.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file cannot be opened.
    #[error("cannot open {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Too small to hold a trailer.
    #[error("{path} is not a PSPF package: {size} bytes is less than the 8200-byte trailer")]
    TooSmall {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// A named verification check failed.
    #[error("{path}: check `{check}` failed: {reason}")]
    CheckFailed {
        /// The file.
        path: PathBuf,
        /// The check's name.
        check: String,
        /// Why.
        reason: String,
    },
    /// A slot's data cannot be read or decoded.
    #[error("{path}: slot {slot} ({id}) cannot be decoded: {source}")]
    SlotData {
        /// The file.
        path: PathBuf,
        /// Slot index.
        slot: usize,
        /// Slot name.
        id: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An archive entry that would escape or abuse the destination.
    #[error("{path}: slot {slot} has an unsafe entry `{entry}`: {reason}")]
    UnsafeEntry {
        /// The file.
        path: PathBuf,
        /// Slot index.
        slot: usize,
        /// The entry's path as written in the archive.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `workenv.directories` entry that would leave or abuse the work environment.
    #[error("{path}: workenv directory `{entry}` is unsafe: {reason}")]
    UnsafeDirectory {
        /// The file.
        path: PathBuf,
        /// The entry as the metadata writes it.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A package built for another platform than this machine.
    #[error("{path} is for {package}, and this machine is {host} ({evidence})")]
    WrongPlatform {
        /// The file.
        path: PathBuf,
        /// What the package is for.
        package: String,
        /// This machine.
        host: String,
        /// How that is known: the declared platform, or the launcher's executable header.
        evidence: String,
    },
    /// Writing the destination failed.
    #[error("cannot write {path}")]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl pandora_core::Hint for FormatError {
    fn hint(&self) -> Option<String> {
        match self {
            FormatError::TooSmall { .. } => Some("is this a .psp file?".into()),
            FormatError::CheckFailed { path, .. }
            | FormatError::UnsafeEntry { path, .. }
            | FormatError::UnsafeDirectory { path, .. } => Some(format!(
                "the package is damaged or was tampered with: get it again from where it came from (`pandora verify {}` lists every check)",
                path.display()
            )),
            FormatError::WrongPlatform { host, .. } => Some(format!(
                "get the build of the package for {host}: a registry may offer one file per platform"
            )),
            _ => None,
        }
    }
}
