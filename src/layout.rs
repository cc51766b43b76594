//! Where everything lives under `$PANDORA_HOME` (DESIGN.md section 2). Every path Pandora
//! reads or writes is derived here, so the layout is visible in one place.

use std::path::{Path, PathBuf};

/// The directory tree of one Pandora home.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The home at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// `$PANDORA_HOME` itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `registries.acl`: the configured registries.
    pub fn registries_file(&self) -> PathBuf {
        self.root.join("registries.acl")
    }

    /// `keys/`: signing keys made by `pandora key generate` (`NAME.key`, `NAME.pub`).
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// `keys/trusted/`: public keys whose packages are trusted.
    pub fn trusted_keys_dir(&self) -> PathBuf {
        self.keys_dir().join("trusted")
    }

    /// The lock serializing changes to `registries.acl`.
    pub fn registries_lock(&self) -> PathBuf {
        self.root.join(".registries.acl.lock")
    }
}
