//! The configured registries with their verified indexes, as installing and the read-only
//! commands (search, info, list --remote, graph) see them.

use std::time::Duration;

use super::{Error, Result};
use crate::config::{RegistriesFile, Registry as ConfiguredRegistry};
use crate::layout::Layout;
use crate::registry::client::{load_index, IndexError, RegistrySource};
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

/// The configured registries that could be read, and why the others could not.
#[derive(Debug, Default)]
pub struct Registries {
    /// Readable registries with their verified indexes, highest priority first.
    pub loaded: Vec<LoadedRegistry>,
    /// Registries that could not be used (down, slow, unsigned, rolled back, ...).
    pub failed: Vec<Unavailable>,
}

/// A registry that could not be used, and why.
#[derive(Debug)]
pub struct Unavailable {
    /// Its name.
    pub name: String,
    /// What went wrong, with the underlying cause (such as "connection refused").
    pub error: IndexError,
}

impl Unavailable {
    /// One line: the registry, why, and the cause.
    pub fn describe(&self) -> String {
        pandora_core::error::chain(&self.error)
    }
}

impl Registries {
    /// One warning line per registry that could not be read.
    pub fn warnings(&self) -> Vec<String> {
        self.failed
            .iter()
            .map(|failure| format!("{}; skipped it", failure.describe()))
            .collect()
    }

    /// The indexes, highest priority first.
    pub fn indexes(&self) -> Vec<Registry> {
        self.loaded
            .iter()
            .map(|loaded| loaded.index.clone())
            .collect()
    }

    /// An error for when nothing could be read: the one registry's own error (with its hint),
    /// or every registry and why it failed.
    pub fn none_readable(self) -> Error {
        let mut failed = self.failed;
        if failed.len() == 1 {
            return Error::Index(failed.remove(0).error);
        }
        Error::Refused {
            message: format!(
                "no configured registry could be read:\n{}",
                failed
                    .iter()
                    .map(|failure| format!("  {}", failure.describe()))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            hint: Some("`pandora registry list` shows them; try again, or `--offline` to use what was cached".into()),
        }
    }
}

/// Every configured registry's index, highest priority first. A registry that cannot be read
/// (down, stalled, badly signed) does not stop the others: it is listed in
/// [`Registries::failed`] for the caller to report, and what it would have offered can come
/// only from registries that could be read.
pub fn load(
    layout: &Layout,
    downloader: &Downloader,
    offline: bool,
    now: i64,
) -> Result<Registries> {
    let file = RegistriesFile::load(&layout.registries_file())?;
    let mut registries = Registries::default();
    for configured in file.by_priority() {
        let source = registry_source(configured);
        match load_index(downloader, &source, &layout.cache_dir(), offline, now) {
            Ok(index) => registries.loaded.push(LoadedRegistry {
                configured: configured.clone(),
                index: Registry {
                    name: configured.name.clone(),
                    index_url: source.index_url(),
                    index,
                },
            }),
            Err(error) => registries.failed.push(Unavailable {
                name: configured.name.clone(),
                error,
            }),
        }
    }
    Ok(registries)
}

/// Every configured registry's index, for the commands that only read them.
pub fn read(layout: &Layout, offline: bool) -> Result<Registries> {
    let downloader =
        Downloader::new(DownloadPolicy::default()).map_err(|source| pandora_core::IoError {
            action: "start the network client for",
            path: layout.cache_dir(),
            source,
        })?;
    load(layout, &downloader, offline, pandora_core::time::now())
}
