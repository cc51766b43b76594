//! Making a profile hold exactly what a lockfile lists: what the store lacks is downloaded and
//! installed byte for byte as locked, then the profile gets one new generation from the lock.
//!
//! A locked package is its name, version and SHA-256; the registry it was locked from is only
//! informational. Its bytes come from any configured registry that offers them (a teammate may
//! call the same registry something else), else from the blob cache (how a package installed
//! from a file is synced again), else nowhere: an error naming it and what to do.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::activate::{finish, ProfileChange};
use super::install::{install_with, InstallOptions, InstallReport, Progress, Target};
use super::registries::{self, Registries};
use super::{Error, Result};
use crate::activation::{apply, Change};
use crate::format::metadata::encode_hex;
use crate::layout::Layout;
use crate::profile::{Locked, Lockfile, Prefer, Profiles};
use crate::registry::download::{DownloadPolicy, Downloader};
use crate::resolver::Request;
use crate::store::Store;

/// What to sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The profile (default: the active one).
    pub profile: Option<String>,
    /// The lockfile (default: the profile's own).
    pub lockfile: Option<PathBuf>,
    /// When to use cached indexes (`--offline`: only; `--refresh`: never).
    pub freshness: crate::registry::client::Freshness,
    /// Whose signatures are trusted.
    pub trust: crate::trust::Policy,
    /// How downloads are bounded.
    pub download: DownloadPolicy,
    /// Run the installed packages' install hooks (`--no-hooks`: not).
    pub run_hooks: bool,
}

/// What `sync` did.
#[derive(Debug, Clone)]
pub struct Synced {
    /// The packages installed for the lock (empty when the store had everything).
    pub installed: InstallReport,
    /// The profile's new generation.
    pub change: ProfileChange,
}

/// Installs what the lockfile needs, then makes the profile's new generation from it.
pub fn sync(
    layout: &Layout,
    home: Option<&Path>,
    options: &SyncOptions,
    progress: &Arc<dyn Progress>,
) -> Result<Synced> {
    let profiles = Profiles::new(layout);
    let profile = match &options.profile {
        Some(profile) => profile.clone(),
        None => profiles.active()?,
    };
    let (lockfile, source) = match &options.lockfile {
        Some(path) => (Lockfile::load(path)?, path.display().to_string()),
        None => (
            profiles.lockfile(&profile).map_err(|error| {
                Error::refused(
                    format!("profile {profile} has no lockfile yet ({error})"),
                    "name one with `--lockfile FILE`",
                )
            })?,
            profiles.lockfile_path(&profile).display().to_string(),
        ),
    };
    let store = Store::new(layout);
    let mut missing = Vec::new();
    for locked in &lockfile.packages {
        match store.record(&locked.id())? {
            Some(record) if record.blob == locked.sha256 => {}
            Some(record) => {
                return Err(Error::refused(
                    format!(
                        "{} is installed from SHA-256 {}, but the lockfile pins SHA-256 {}",
                        locked.id(),
                        encode_hex(&record.blob),
                        encode_hex(&locked.sha256)
                    ),
                    format!(
                        "nothing changed. To follow the lockfile, remove the installed one first: `pandora remove {}`",
                        locked.id()
                    ),
                ))
            }
            None => missing.push(locked.clone()),
        }
    }
    let installed = if missing.is_empty() {
        InstallReport::default()
    } else {
        let now = pandora_core::time::now();
        let downloader = Downloader::new(options.download).map_err(pandora_core::IoError::at(
            "start the network client for",
            &layout.blobs_dir(),
        ))?;
        let registries = registries::load(layout, &downloader, options.freshness, now)?;
        let targets = missing
            .iter()
            .map(|locked| source_of(locked, &registries, &store))
            .collect::<Result<Vec<_>>>()?;
        let install_options = InstallOptions {
            targets,
            reinstall: false,
            freshness: options.freshness,
            now,
            policy: options.download,
            locked: lockfile.packages.clone(),
            trust: options.trust.clone(),
            run_hooks: options.run_hooks,
        };
        install_with(layout, &install_options, progress, registries)?
    };
    let ids: Vec<String> = lockfile.packages.iter().map(|locked| locked.id()).collect();
    super::activate::check_trust(layout, &ids, &options.trust)?;
    let description = format!("synced from {source}");
    let applied = apply(
        layout,
        &profile,
        Change::Lock(&lockfile),
        Prefer::Neither,
        &description,
    )?;
    Ok(Synced {
        installed,
        change: finish(layout, home, profile, applied)?,
    })
}

/// The SHA-256 of the file of `offer` this machine would download.
fn sha256_here(offer: &crate::registry::index::IndexVersion) -> Option<pandora_core::Sha256> {
    offer
        .file_for(&crate::format::platform::Platform::current())
        .ok()
        .map(|file| file.sha256)
}

/// Where a locked package's exact bytes come from: a configured registry that offers
/// `name@version` with the locked SHA-256 (whatever it is called here), else the blob cache,
/// else nowhere, which is an error naming the package and what to do.
fn source_of(locked: &Locked, registries: &Registries, store: &Store) -> Result<Target> {
    let offered = registries.loaded.iter().any(|loaded| {
        loaded
            .index
            .index
            .package(&locked.name)
            .is_some_and(|package| {
                package.versions.iter().any(|offer| {
                    offer.version == locked.version && sha256_here(offer) == Some(locked.sha256)
                })
            })
    });
    if offered {
        return Ok(Target::Named(Request {
            name: locked.name.clone(),
            version: Some(locked.version.clone()),
        }));
    }
    if store.has_blob(&locked.sha256) {
        return Ok(Target::Cached {
            sha256: locked.sha256,
            source: locked.source.clone(),
        });
    }
    let origin = match &locked.registry {
        Some(registry) => format!("registry `{registry}`, {}", locked.source),
        None => format!("a file, {}", locked.source),
    };
    let others: Vec<String> = registries
        .loaded
        .iter()
        .filter_map(|loaded| {
            let offer = loaded
                .index
                .index
                .package(&locked.name)?
                .versions
                .iter()
                .find(|offer| offer.version == locked.version)?;
            Some(match sha256_here(offer) {
                Some(sha256) => format!(
                    "registry `{}` offers SHA-256 {}",
                    loaded.configured.name,
                    encode_hex(&sha256)
                ),
                None => format!(
                    "registry `{}` has no file of it for this machine",
                    loaded.configured.name
                ),
            })
        })
        .collect();
    let mut message = format!(
        "the lockfile pins {} to SHA-256 {} (locked from {origin}), but no configured registry offers those bytes and the blob cache does not have them",
        locked.id(),
        encode_hex(&locked.sha256),
    );
    if !others.is_empty() {
        message = format!("{message}; {}", others.join(", "));
    }
    let unreadable: Vec<&str> = registries
        .failed
        .iter()
        .map(|failed| failed.name.as_str())
        .collect();
    if !unreadable.is_empty() {
        message = format!(
            "{message} (registries that could not be read: {})",
            unreadable.join(", ")
        );
    }
    let hint = match &locked.registry {
        None => format!(
            "nothing was installed. Install that file first (`pandora install --no-activate {}`), then sync again",
            locked.source
        ),
        Some(_) => "nothing was installed. Add a registry that offers those bytes (`pandora registry add NAME URL`), or install the exact file first (`pandora install --no-activate FILE.psp`), then sync again".to_string(),
    };
    Err(Error::refused(message, hint))
}
