//! The configured registries with their verified indexes, as installing and the read-only
//! commands (search, info, list --remote, graph) see them, and `pandora update`: every
//! registry's index fetched now.

use std::time::Duration;

use super::{Error, Result};
use crate::config::{RegistriesFile, Registry as ConfiguredRegistry};
use crate::layout::Layout;
use crate::registry::client::{self, Freshness, IndexError, IndexLimits, RegistrySource};
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
        mirrors: registry.mirrors.clone(),
        keys: registry.keys.clone(),
        require_signatures: registry.require_signatures,
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
    freshness: Freshness,
    now: i64,
) -> Result<Registries> {
    let file = RegistriesFile::load(&layout.registries_file())?;
    let mut registries = Registries::default();
    let configured: Vec<&ConfiguredRegistry> = file.by_priority();
    // All at once: a registry that is slow to answer costs its own timeout, not the sum of
    // every registry's. Results are taken in priority order whatever order they finish in.
    let cache = layout.cache_dir();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = configured
            .iter()
            .map(|configured| {
                let cache = &cache;
                scope.spawn(move || {
                    let source = registry_source(configured);
                    client::load(
                        downloader,
                        &source,
                        cache,
                        freshness,
                        now,
                        &IndexLimits::default(),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for (configured, result) in configured.into_iter().zip(results) {
        match result {
            Ok(loaded) => registries.loaded.push(LoadedRegistry {
                configured: configured.clone(),
                index: Registry {
                    name: configured.name.clone(),
                    index_url: loaded.served_by,
                    mirrors: loaded.others,
                    index: loaded.index,
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

fn downloader(layout: &Layout) -> Result<Downloader> {
    Ok(
        Downloader::new(DownloadPolicy::default()).map_err(|source| pandora_core::IoError {
            action: "start the network client for",
            path: layout.cache_dir(),
            source,
        })?,
    )
}

/// Every configured registry's index, for the commands that only read them.
pub fn read(layout: &Layout, freshness: Freshness) -> Result<Registries> {
    load(
        layout,
        &downloader(layout)?,
        freshness,
        pandora_core::time::now(),
    )
}

/// What `pandora update` found for one registry.
#[derive(Debug)]
pub enum Updated {
    /// The index was fetched and verified.
    Fetched {
        /// The registry.
        name: String,
        /// The serial of the index cached before (`None`: none cached, or no serial).
        previous: Option<i64>,
        /// Whether an index was cached before.
        was_cached: bool,
        /// The new index's serial (`None`: the index has none).
        serial: Option<i64>,
        /// Whether its signature was verified.
        signed: bool,
        /// The `index.acl` URL that served it (a mirror when the registry's own URL failed).
        served_by: String,
        /// Whether a mirror served it.
        by_mirror: bool,
    },
    /// It could not be fetched or was refused.
    Failed(Unavailable),
}

/// Fetches every configured registry's index now, whatever the cache's age; a registry that
/// fails does not stop the others. An error when nothing is configured, or when no registry
/// could be fetched (naming each and why).
pub fn update(layout: &Layout) -> Result<Vec<Updated>> {
    let file = RegistriesFile::load(&layout.registries_file())?;
    if file.registries().is_empty() {
        return Err(Error::refused(
            format!("no registries are configured in {}", file.path().display()),
            "add one with `pandora registry add NAME URL`",
        ));
    }
    let downloader = downloader(layout)?;
    let now = pandora_core::time::now();
    let mut report = Vec::new();
    for configured in file.by_priority() {
        let source = registry_source(configured);
        let result = client::load(
            &downloader,
            &source,
            &layout.cache_dir(),
            Freshness::Refresh,
            now,
            &IndexLimits::default(),
        );
        report.push(match result {
            Ok(loaded) => Updated::Fetched {
                name: configured.name.clone(),
                previous: loaded.previous_serial,
                was_cached: loaded.was_cached,
                serial: loaded.index.serial,
                signed: loaded.signed,
                by_mirror: loaded.served_by != source.index_url(),
                served_by: loaded.served_by.to_string(),
            },
            Err(error) => Updated::Failed(Unavailable {
                name: configured.name.clone(),
                error,
            }),
        });
    }
    if report
        .iter()
        .all(|updated| matches!(updated, Updated::Failed(_)))
    {
        let failed = report
            .into_iter()
            .filter_map(|updated| match updated {
                Updated::Failed(failure) => Some(failure),
                Updated::Fetched { .. } => None,
            })
            .collect();
        return Err(Registries {
            loaded: Vec::new(),
            failed,
        }
        .none_readable());
    }
    Ok(report)
}
