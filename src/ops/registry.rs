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
    /// Other URLs serving the same registry, tried in order.
    pub mirrors: Vec<String>,
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
    let keys = parse_keys(&new.keys)?;
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
    registry.mirrors = parse_mirrors(&new.mirrors)?;
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

fn parse_keys(keys: &[String]) -> Result<Vec<PublicKey>> {
    Ok(keys
        .iter()
        .map(|key| key.parse::<PublicKey>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(ConfigError::from)?)
}

fn parse_mirrors(mirrors: &[String]) -> Result<Vec<url::Url>> {
    let mut parsed: Vec<url::Url> = Vec::new();
    for mirror in mirrors {
        let url = crate::config::parse_url(mirror)?;
        if !parsed.contains(&url) {
            parsed.push(url);
        }
    }
    Ok(parsed)
}

/// What `set` changes; `None` (or empty) leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct RegistryChange {
    /// New priority.
    pub priority: Option<i64>,
    /// Replace the keys with these.
    pub keys: Option<Vec<String>>,
    /// Keys to trust as well.
    pub add_keys: Vec<String>,
    /// Keys to stop trusting.
    pub remove_keys: Vec<String>,
    /// Require signatures, or not.
    pub require_signatures: Option<bool>,
    /// New cache TTL, in seconds.
    pub cache_ttl: Option<i64>,
    /// Replace the mirrors with these (an empty list removes them all).
    pub mirrors: Option<Vec<String>>,
    /// Allow publishing, or not.
    pub allow_publish: Option<bool>,
    /// Where it is published (`Some(None)`: forget it, with the S3 settings).
    pub publish_url: Option<Option<String>>,
    /// The S3 endpoint.
    pub s3_endpoint: Option<String>,
    /// The S3 region.
    pub s3_region: Option<String>,
}

/// What `set` did.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The registry before.
    pub before: Registry,
    /// The registry as saved.
    pub after: Registry,
    /// The file written.
    pub file: PathBuf,
}

/// Changes a registry in `registries.acl` in place, under the same lock as `add` and `remove`.
/// The client's cache needs nothing done: it is keyed by the key set, so an index cached under
/// other keys is fetched again (see `registry::client`).
pub fn set(layout: &Layout, name: &str, change: &RegistryChange) -> Result<Changed> {
    let replace_keys = change.keys.as_deref().map(parse_keys).transpose()?;
    let add_keys = parse_keys(&change.add_keys)?;
    let remove_keys = parse_keys(&change.remove_keys)?;
    let mirrors = change.mirrors.as_deref().map(parse_mirrors).transpose()?;
    let publish_url = match &change.publish_url {
        Some(Some(url)) => Some(Some(crate::config::parse_publish_url(url)?)),
        Some(None) => Some(None),
        None => None,
    };
    let s3_endpoint = change
        .s3_endpoint
        .as_deref()
        .map(crate::config::parse_endpoint)
        .transpose()?;
    let _lock = lock(layout)?;
    let mut file = RegistriesFile::load(&layout.registries_file())?;
    let before = file.find(name)?.clone();
    let mut keys = replace_keys.unwrap_or_else(|| before.keys.clone());
    for key in &remove_keys {
        let Some(position) = keys.iter().position(|known| known == key) else {
            return Err(Error::refused(
                format!("registry `{name}` does not trust key {key}, so it cannot be removed"),
                format!("`pandora registry list -v` shows the keys `{name}` trusts"),
            ));
        };
        keys.remove(position);
    }
    for key in add_keys {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let require_signatures = change
        .require_signatures
        .unwrap_or(before.require_signatures);
    if require_signatures && keys.is_empty() {
        return Err(Error::refused(
            format!("registry `{name}` would require signatures but trust no key"),
            "keep at least one key (--key or --add-key), or pass --no-require-signatures",
        ));
    }
    let after = file.update(name, |registry| {
        registry.keys = keys;
        registry.require_signatures = require_signatures;
        if let Some(priority) = change.priority {
            registry.priority = priority;
        }
        if let Some(ttl) = change.cache_ttl {
            registry.cache_ttl = ttl;
        }
        if let Some(mirrors) = mirrors {
            registry.mirrors = mirrors;
        }
        if let Some(allow) = change.allow_publish {
            registry.allow_publish = allow;
        }
        match publish_url {
            Some(Some(url)) => registry.publish_url = Some(url),
            Some(None) => {
                registry.publish_url = None;
                registry.s3_endpoint = None;
                registry.s3_region = None;
            }
            None => {}
        }
        if let Some(endpoint) = s3_endpoint {
            registry.s3_endpoint = Some(endpoint);
        }
        if let Some(region) = &change.s3_region {
            registry.s3_region = Some(region.clone());
        }
        if registry.allow_publish && registry.publish_url.is_none() {
            return Err(ConfigError::InvalidUrl {
                url: String::new(),
                reason: format!("registry `{name}` cannot allow publishing without a publish URL: add --publish-url s3://BUCKET/PREFIX or file:///DIR"),
            });
        }
        Ok(())
    })?;
    file.save()?;
    Ok(Changed {
        before,
        after,
        file: file.path().to_path_buf(),
    })
}

/// A configured registry as `registry list` shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its configuration.
    pub registry: Registry,
    /// What its cached index says (read for display only, never trusted), if one is cached.
    pub cached: Option<crate::registry::client::CachedSummary>,
}

/// The configured registries, highest priority first, and the file they are in.
pub fn list(layout: &Layout) -> Result<(Vec<Listed>, PathBuf)> {
    let file = RegistriesFile::load(&layout.registries_file())?;
    let registries = file
        .by_priority()
        .into_iter()
        .map(|registry| Listed {
            cached: crate::registry::client::cached_summary(&layout.cache_dir(), &registry.name),
            registry: registry.clone(),
        })
        .collect();
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

/// What `index` wrote.
#[derive(Debug, Clone)]
pub struct Indexed {
    /// The signed index.
    pub published: Published,
    /// The web page beside it (`index.html`), or why it was not written.
    pub page: crate::registry::html::Written,
}

/// Writes `index.acl` and its signature for every package in a directory, and the registry's
/// web page beside them.
pub fn index(layout: &Layout, request: IndexRequest<'_>) -> Result<Indexed> {
    let key = signing_key(layout, request.key)?;
    let directory = request.directory.clone();
    let published = index_directory(&PublishOptions {
        directory: request.directory,
        key,
        expires_in_days: request.expires_in_days,
        name: request.name,
        priority: request.priority,
        now: pandora_core::time::now(),
    })?;
    let page = super::metrics::write_page(&directory, &published.index, None)?;
    Ok(Indexed { published, page })
}
