//! The configured registries with their verified indexes, as installing and the read-only
//! commands (search, info, list --remote, graph) see them.

use std::time::Duration;

use super::Result;
use crate::config::{RegistriesFile, Registry as ConfiguredRegistry};
use crate::layout::Layout;
use crate::registry::client::{load_index, RegistrySource};
use crate::registry::download::{DownloadPolicy, Downloader};
use crate::resolver::Registry;

/// A configured registry and its index, verified against the registry's keys.
#[derive(Debug, Clone)]
pub struct LoadedRegistry {
    /// How it is configured.
    pub configured: ConfiguredRegistry,
    /// Its index.
    pub index: Registry,
}

/// A configured registry as the index client sees it.
pub fn registry_source(registry: &ConfiguredRegistry) -> RegistrySource {
    RegistrySource {
        name: registry.name.clone(),
        url: registry.url.clone(),
        keys: registry.keys.clone(),
        ttl: Duration::from_secs(u64::try_from(registry.cache_ttl).unwrap_or(0)),
    }
}

/// Every configured registry's index, highest priority first. Any registry that cannot be used
/// stops everything: quietly falling through to a lower-priority registry would let it supply
/// packages the user meant to get elsewhere.
pub fn load(
    layout: &Layout,
    downloader: &Downloader,
    offline: bool,
    now: i64,
) -> Result<Vec<LoadedRegistry>> {
    let file = RegistriesFile::load(&layout.registries_file())?;
    let mut registries = Vec::new();
    for configured in file.by_priority() {
        let source = registry_source(configured);
        let index = load_index(downloader, &source, &layout.cache_dir(), offline, now)?;
        registries.push(LoadedRegistry {
            configured: configured.clone(),
            index: Registry {
                name: configured.name.clone(),
                index_url: source.index_url(),
                index,
            },
        });
    }
    Ok(registries)
}

/// Every configured registry's index, for the commands that only read them.
pub fn read(layout: &Layout, offline: bool) -> Result<Vec<LoadedRegistry>> {
    let downloader =
        Downloader::new(DownloadPolicy::default()).map_err(|source| pandora_core::IoError {
            action: "start the network client for",
            path: layout.cache_dir(),
            source,
        })?;
    load(layout, &downloader, offline, pandora_core::time::now())
}
