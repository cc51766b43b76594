//! What the read-only commands ask: what is active, installed or offered (`list`, `search`,
//! `info`), answered from install records, profiles and the registries' verified indexes.

use super::registries::{self, Registries};
use super::{Error, Result};
use crate::layout::Layout;
use crate::profile::Profiles;
use crate::registry::client::Freshness;
use crate::registry::index::{IndexPackage, IndexVersion};
use crate::resolver::Request;
use crate::store::{Record, Store};

/// Installed packages as `list` shows them.
#[derive(Debug)]
pub struct Listing {
    /// The active profile.
    pub profile: String,
    /// Install records shown, each with whether the active profile holds it.
    pub packages: Vec<(Record, bool)>,
    /// The records that could not be read ([`crate::store::StoreError::Record`]): their packages
    /// are not shown.
    pub damaged: Vec<crate::store::StoreError>,
}

/// The active profile's packages, or with `store` every installed one.
pub fn installed(layout: &Layout, store: bool) -> Result<Listing> {
    let (records, damaged) = Store::new(layout).readable_records()?;
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let active = profiles.members(&profile)?;
    let packages = records
        .into_iter()
        .map(|record| {
            let is_active = active.contains(&record.id());
            (record, is_active)
        })
        .filter(|(_, is_active)| store || *is_active)
        .collect();
    Ok(Listing {
        profile,
        packages,
        damaged,
    })
}

/// The registries that could be read; an error only if none could (and some are configured).
fn readable(layout: &Layout, freshness: Freshness) -> Result<Registries> {
    let registries = registries::read(layout, freshness)?;
    if registries.loaded.is_empty() && !registries.failed.is_empty() {
        return Err(registries.none_readable());
    }
    Ok(registries)
}

/// Every configured registry that could be read, with its index (for `list --remote`), and
/// why the others could not.
pub fn remote(layout: &Layout, freshness: Freshness) -> Result<Registries> {
    readable(layout, freshness)
}

/// What `search` found.
#[derive(Debug)]
pub struct Found {
    /// Matching packages, each with the registry offering it, in priority order.
    pub packages: Vec<(String, IndexPackage)>,
    /// How many registries were searched.
    pub searched: usize,
    /// Registries that could not be searched, and why.
    pub warnings: Vec<String>,
}

/// Packages whose name, description or tags contain `term` (case-insensitive).
pub fn search(layout: &Layout, term: &str, freshness: Freshness) -> Result<Found> {
    let registries = readable(layout, freshness)?;
    let mut found = Vec::new();
    for loaded in &registries.loaded {
        for package in loaded.index.index.search(term) {
            found.push((loaded.index.name.clone(), package.clone()));
        }
    }
    Ok(Found {
        packages: found,
        searched: registries.loaded.len(),
        warnings: registries.warnings(),
    })
}

/// What `info` shows about a package.
#[derive(Debug, Clone)]
pub struct Info {
    /// The first registry (by priority) offering the asked version: its name, the package, the
    /// version and the version's absolute URL.
    pub offered: Option<Offered>,
    /// Installed versions of the name.
    pub installed: Vec<Record>,
    /// The signed `pandora` metadata of each installed version, in the same order (`None`
    /// when its blob was pruned): hooks, provenance.
    pub details: Vec<Option<crate::format::metadata::PandoraInfo>>,
    /// Registries that could not be read, and why.
    pub warnings: Vec<String>,
}

/// A version as a registry offers it.
#[derive(Debug, Clone)]
pub struct Offered {
    /// The registry.
    pub registry: String,
    /// The package.
    pub package: IndexPackage,
    /// The version asked for (or the latest).
    pub version: IndexVersion,
    /// Where its file is.
    pub url: String,
    /// Where its manifest is, if the index says.
    pub manifest: Option<String>,
}

/// What the registries and the store know about `NAME[@VERSION]`.
pub fn info(layout: &Layout, package: &str, freshness: Freshness) -> Result<Info> {
    let request = Request::parse(package).map_err(|reason| Error::Refused {
        message: format!("invalid package {reason}"),
        hint: None,
    })?;
    let installed: Vec<Record> = Store::new(layout)
        .records()?
        .into_iter()
        .filter(|record| record.name == request.name)
        .collect();
    let registries = registries::read(layout, freshness)?;
    let offered = registries.loaded.iter().find_map(|loaded| {
        let registry = &loaded.index;
        let package = registry.index.package(&request.name)?;
        let wanted = request
            .version
            .clone()
            .unwrap_or_else(|| package.latest.clone());
        let version = package.versions.iter().find(|v| v.version == wanted)?;
        Some(Offered {
            registry: registry.name.clone(),
            url: match version.file_for(&crate::format::platform::Platform::current()) {
                Ok(file) => package
                    .version_url(&registry.index_url, file.pkg_url)
                    .map_or_else(
                        |reason| format!("(refused: {reason})"),
                        |url| url.to_string(),
                    ),
                Err(offered) => format!(
                    "(none for this machine, {}; built for {})",
                    crate::format::platform::Platform::current(),
                    offered.join(", ")
                ),
            },
            manifest: package
                .manifest_url(&registry.index_url, version)
                .map(|url| {
                    url.map_or_else(
                        |reason| format!("(refused: {reason})"),
                        |url| url.to_string(),
                    )
                }),
            package: package.clone(),
            version: version.clone(),
        })
    });
    if offered.is_none() && installed.is_empty() {
        if registries.loaded.is_empty() && !registries.failed.is_empty() {
            return Err(registries.none_readable());
        }
        let unread = registries.warnings();
        return Err(Error::refused(
            if unread.is_empty() {
                format!("{package} is neither installed nor in any configured registry")
            } else {
                format!(
                    "{package} is neither installed nor in any registry that could be read\n  {}",
                    unread.join("\n  ")
                )
            },
            format!("`pandora search {}` looks for similar names", request.name),
        ));
    }
    let store = Store::new(layout);
    let details = installed
        .iter()
        .map(|record| store.pandora_info_of(record))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Info {
        offered,
        details,
        installed,
        warnings: registries.warnings(),
    })
}

/// The active profile's name and the `name@version`s it holds.
pub fn active_profile(layout: &Layout) -> Result<(String, Vec<String>)> {
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let members = profiles.members(&profile)?;
    Ok((profile, members))
}

/// Of `ids` (installed `name@version`s), those the registry each came from marks deprecated,
/// with the publisher's message, from cached indexes only: a warning must never cost a
/// network round trip or fail a command.
pub fn deprecated(layout: &Layout, ids: &[String]) -> Result<Vec<Deprecation>> {
    let store = Store::new(layout);
    let mut from: Vec<(String, String)> = Vec::new();
    for id in ids {
        if let Some(registry) = store.record(id)?.and_then(|record| record.registry) {
            from.push((id.clone(), registry));
        }
    }
    if from.is_empty() {
        return Ok(Vec::new());
    }
    let registries = registries::read(layout, Freshness::Offline)?;
    Ok(from
        .into_iter()
        .filter_map(|(id, registry)| {
            let (name, version) = pandora_core::id::split_id(&id)?;
            let found = registries
                .loaded
                .iter()
                .filter(|loaded| loaded.configured.name == registry)
                .filter_map(|loaded| loaded.index.index.package(name))
                .flat_map(|package| &package.versions)
                .find(|candidate| {
                    candidate.version == version && (candidate.deprecated || candidate.yanked)
                })?;
            Some(Deprecation {
                id: format!("{id} (registry `{registry}`)"),
                message: found.deprecation.clone().filter(|_| found.deprecated),
                yanked: found.yanked,
            })
        })
        .collect())
}

/// A deprecated (or yanked) version about to be installed or activated, for the warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    /// `name@version (registry NAME)`.
    pub id: String,
    /// The publisher's message.
    pub message: Option<String>,
    /// Withdrawn from new installs (only a lockfile's pin brings it).
    pub yanked: bool,
}

impl std::fmt::Display for Deprecation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.yanked {
            write!(formatter, "{} was yanked by its publisher", self.id)?;
        } else {
            write!(formatter, "{} is deprecated", self.id)?;
        }
        match &self.message {
            Some(message) => write!(formatter, " ({message})"),
            None => Ok(()),
        }
    }
}

/// The SBOM of the installed `NAME[@VERSION]` (the only installed version of NAME, or the one named), as
/// pretty JSON: the `sbom` member of the attestation its package carried, kept beside its
/// install record.
pub fn sbom(layout: &Layout, package: &str) -> Result<String> {
    let request = Request::parse(package).map_err(|reason| Error::Refused {
        message: format!("invalid package {reason}"),
        hint: None,
    })?;
    let store = Store::new(layout);
    let installed: Vec<Record> = store
        .records()?
        .into_iter()
        .filter(|record| record.name == request.name)
        .filter(|record| {
            request
                .version
                .as_ref()
                .is_none_or(|version| &record.version == version)
        })
        .collect();
    let record = match installed.as_slice() {
        [] => {
            return Err(Error::refused(
                format!("{package} is not installed"),
                "the SBOM of a package file is in it: `pandora unpack FILE DIR` writes it to DIR/_attestation",
            ))
        }
        [record] => record,
        _ => {
            return Err(Error::refused(
                format!(
                    "{} versions of {} are installed",
                    installed.len(),
                    request.name
                ),
                format!("name one: {}", installed.iter().map(Record::id).collect::<Vec<_>>().join(", ")),
            ))
        }
    };
    let path = store.attestation_path(&record.id());
    // Written by Pandora from the package's signed attestation; nothing else belongs there.
    const ATTESTATION_LIMIT: u64 = 1 << 28;
    let bytes = match crate::fs::read_regular(&path, ATTESTATION_LIMIT) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::refused(
                format!("{} carries no SBOM", record.id()),
                "packages built by `pandora build` carry one; ask its publisher to rebuild it",
            ))
        }
        Err(source) => {
            return Err(Error::Io(pandora_core::IoError {
                action: "read",
                path,
                source,
            }))
        }
    };
    let document = crate::build::sbom::sbom_of(&bytes).ok_or_else(|| {
        Error::refused(
            format!("the attestation of {} holds no SBOM", record.id()),
            "reinstall the package; if it persists, ask its publisher",
        )
    })?;
    Ok(serde_json::to_string_pretty(&document).expect("JSON values serialise"))
}
