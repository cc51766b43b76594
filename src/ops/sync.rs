//! Making a profile hold exactly what a lockfile lists: what the store lacks is downloaded and
//! installed byte for byte as locked, then the profile gets one new generation from the lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::activate::{finish, ProfileChange};
use super::install::{install, InstallOptions, InstallReport, Progress, Target};
use super::{Error, Result};
use crate::activation::{apply, Change};
use crate::format::metadata::encode_hex;
use crate::layout::Layout;
use crate::profile::{Lockfile, Prefer, Profiles};
use crate::registry::download::DownloadPolicy;
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
            None if locked.registry.is_none() => {
                return Err(Error::refused(
                    format!(
                        "{} was installed from a file ({}), so no registry can supply it",
                        locked.id(),
                        locked.source
                    ),
                    "install that file with `pandora install --no-activate FILE`, then sync again",
                ))
            }
            None => missing.push(locked.clone()),
        }
    }
    let installed = if missing.is_empty() {
        InstallReport::default()
    } else {
        let options = InstallOptions {
            targets: missing
                .iter()
                .map(|locked| {
                    Target::Named(Request {
                        name: locked.name.clone(),
                        version: Some(locked.version.clone()),
                    })
                })
                .collect(),
            reinstall: false,
            freshness: options.freshness,
            now: pandora_core::time::now(),
            policy: options.download,
            locked: lockfile.packages.clone(),
            trust: options.trust.clone(),
        };
        install(layout, &options, progress)?
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
