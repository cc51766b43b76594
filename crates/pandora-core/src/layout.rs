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

    /// `store/`: one read-only tree per installed `name@version`.
    pub fn store_dir(&self) -> PathBuf {
        self.root.join("store")
    }

    /// `blobs/`: the `.psp` files installed from, named by SHA-256.
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// `entries/`: installed packages' entry points, what a profile's `bin/NAME` links to:
    /// `entries/<id>/NAME` (a hard link to `entries/.launcher-<hash>`, the launcher as an exec
    /// trampoline) and its record `entries/<id>/.NAME.entry`, written at install, read-only.
    pub fn entries_dir(&self) -> PathBuf {
        self.root.join("entries")
    }

    /// `var/`: what installed packages write into their work environment: the store entry's
    /// `workenv.directories` are links to `var/<id>/<directory>` (unless `FLAVOR_WORKENV_DIR`
    /// named another root at install).
    pub fn var_dir(&self) -> PathBuf {
        self.root.join("var")
    }

    /// `log/events.log`: the activity log (installs, removals, activations, publications),
    /// rotated to `events.log.1`; what `pandora metrics` counts.
    pub fn events_log(&self) -> PathBuf {
        self.root.join("log").join("events.log")
    }

    /// `records/`: one install record per store entry, outside the package trees.
    pub fn records_dir(&self) -> PathBuf {
        self.root.join("records")
    }

    /// `profiles/`: one directory of generations per profile.
    pub fn profiles_dir(&self) -> PathBuf {
        self.root.join("profiles")
    }

    /// `manifests/`: each profile's lockfile, `NAME.lock`.
    pub fn manifests_dir(&self) -> PathBuf {
        self.root.join("manifests")
    }

    /// `vir`: the link to the active profile's current forest.
    pub fn vir(&self) -> PathBuf {
        self.root.join("vir")
    }

    /// `tmp/`: staging on the same filesystem, so renames into place are atomic.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `cache/`: registry indexes (and other things that can be fetched again).
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// `rescue/`: files a user saved into the active forest (through `$HOME/bin`, say) that no
    /// package provides, moved here before a new generation leaves them behind.
    pub fn rescue_dir(&self) -> PathBuf {
        self.root.join("rescue")
    }

    /// The lock serializing changes to the store.
    pub fn store_lock(&self) -> PathBuf {
        self.root.join(".store.lock")
    }

    /// The lock serializing changes to `registries.acl`.
    pub fn registries_lock(&self) -> PathBuf {
        self.root.join(".registries.acl.lock")
    }
}
