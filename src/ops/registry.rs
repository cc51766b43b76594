//! Registry configuration (`registries.acl`, edited under a lock and replaced atomically) and
//! indexing a directory of packages into a signed registry.

use std::path::PathBuf;

use pandora_core::{IoError, PublicKey};

use super::keys::{signing_key, KeySource};
use super::{Error, Result};
use crate::config::{ConfigError, RegistriesFile, Registry};
use crate::fs::FileLock;
use crate::layout::Layout;
use crate::registry::publish::{index_directory, PublishOptions, Published};

/// A registry to add.
#[derive(Debug, Clone)]
pub struct NewRegistry {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Its priority (higher wins).
    pub priority: i64,
    /// Keys allowed to sign its index, as `ed25519:HEX`.
    pub keys: Vec<String>,
    /// Refuse packages not signed by one of its keys.
    pub require_signatures: bool,
    /// Seconds a fetched index is used without asking again.
    pub cache_ttl: i64,
}

/// What `add` did.
#[derive(Debug, Clone)]
pub struct Added {
    /// The registry as saved.
    pub registry: Registry,
    /// The file written.
    pub file: PathBuf,
    /// Another registry already using the same URL.
    pub same_url: Option<String>,
}

fn lock(layout: &Layout) -> Result<FileLock> {
    let path = layout.registries_lock();
    Ok(FileLock::acquire(&path).map_err(IoError::at("lock", &path))?)
}

/// Adds a registry to `registries.acl`.
pub fn add(layout: &Layout, new: &NewRegistry) -> Result<Added> {
    let keys = new
        .keys
        .iter()
        .map(|key| key.parse::<PublicKey>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(ConfigError::from)?;
    if new.require_signatures && keys.is_empty() {
        return Err(Error::refused(
            "--require-signatures needs at least one --key",
            "pass the registry's signing key with --key ed25519:HEX",
        ));
    }
    let mut registry = Registry::new(
        &new.name,
        &new.url,
        new.priority,
        keys,
        new.require_signatures,
    )?;
    registry.cache_ttl = new.cache_ttl;
    let _lock = lock(layout)?;
    let mut file = RegistriesFile::load(&layout.registries_file())?;
    let same_url = file
        .registries()
        .iter()
        .find(|existing| existing.url == registry.url)
        .map(|existing| existing.name.clone());
    file.add(registry.clone())?;
    file.save()?;
    Ok(Added {
        registry,
        file: file.path().to_path_buf(),
        same_url,
    })
}

/// The configured registries, highest priority first, and the file they are in.
pub fn list(layout: &Layout) -> Result<(Vec<Registry>, PathBuf)> {
    let file = RegistriesFile::load(&layout.registries_file())?;
    let registries = file.by_priority().into_iter().cloned().collect();
    Ok((registries, file.path().to_path_buf()))
}

/// The registry called `name` (to show before asking whether to remove it).
pub fn find(layout: &Layout, name: &str) -> Result<Registry> {
    let file = RegistriesFile::load(&layout.registries_file())?;
    Ok(file.find(name)?.clone())
}

/// Removes a registry from `registries.acl`, and forgets its cached index and the highest
/// serial seen (so adding it again, with new keys say, starts afresh).
pub fn remove(layout: &Layout, name: &str) -> Result<Registry> {
    let _lock = lock(layout)?;
    let mut file = RegistriesFile::load(&layout.registries_file())?;
    let removed = file.remove(name)?;
    file.save()?;
    crate::registry::client::forget(&layout.cache_dir(), name)?;
    Ok(removed)
}

/// How to index a directory.
#[derive(Debug, Clone)]
pub struct IndexRequest<'a> {
    /// The directory of `.psp` files.
    pub directory: PathBuf,
    /// The key signing the index.
    pub key: KeySource<'a>,
    /// Days until the index expires.
    pub expires_in_days: u32,
    /// The registry's name (default: kept, or the directory's name).
    pub name: Option<String>,
    /// The priority it suggests.
    pub priority: Option<i64>,
}

/// Writes `index.acl` and its signature for every package in a directory.
pub fn index(layout: &Layout, request: IndexRequest<'_>) -> Result<Published> {
    let key = signing_key(layout, request.key)?;
    Ok(index_directory(&PublishOptions {
        directory: request.directory,
        key,
        expires_in_days: request.expires_in_days,
        name: request.name,
        priority: request.priority,
        now: pandora_core::time::now(),
    })?)
}
