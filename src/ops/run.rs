//! Finding the package file to run for `pandora run NAME[@VERSION]`: an installed package's
//! own blob (the `.psp` it was installed from), or, for a package that is not installed, the
//! registries' file fetched into the blob cache and checked as an install checks it, without
//! touching the store or any profile (as `uvx`, `npx` and `nix run` do). A `.psp` is
//! self-contained, so running one needs none of its dependencies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::activate::installed_id;
use super::install::{check_blob, download_request, Progress};
use super::registries;
use super::{Error, Result};
use crate::layout::Layout;
use crate::registry::client::Freshness;
use crate::registry::download::{DownloadPolicy, Downloader};
use crate::resolver::{find, Request};
use crate::store::Store;
use crate::trust::Policy;
use pandora_core::Sha256;

/// What to run and how to find it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `name` or `name@version`.
    pub request: Request,
    /// When to use cached indexes (for a package that is not installed).
    pub freshness: Freshness,
    /// The current time (Unix seconds).
    pub now: i64,
    /// Download behaviour.
    pub policy: DownloadPolicy,
    /// Whose signatures are trusted.
    pub trust: Policy,
}

/// The package file to hand to the launcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runnable {
    /// `name@version`.
    pub id: String,
    /// The `.psp` in the blob cache.
    pub blob: PathBuf,
    /// Where it came from: `None` for an installed package, else the registry it was fetched
    /// from (or found cached for).
    pub fetched_from: Option<String>,
    /// Bytes downloaded; `None` when the blob cache had the file (or another process put it
    /// there while this one waited).
    pub downloaded_bytes: Option<u64>,
    /// Packages signed by a key that is not trusted (allowed by the policy).
    pub untrusted: Vec<String>,
    /// Registries that could not be read.
    pub warnings: Vec<String>,
    /// Keys that vouch for it as they do at install and activation: those configured for the
    /// registry it came from (the launcher is told, so the policy agrees with install's).
    pub vouched: Vec<pandora_core::PublicKey>,
}

/// Finds the file to run for `options.request`: an installed package by the shared naming rule
/// ([`installed_id`]: `NAME` is the active version, else the only installed one), else the
/// registries' package, fetched into the blob cache (verified against the SHA-256 of the signed
/// index, the trust policy applied as for install). Neither the store nor a profile changes.
pub fn locate(
    layout: &Layout,
    options: &RunOptions,
    progress: &Arc<dyn Progress>,
) -> Result<Runnable> {
    let store = Store::new(layout);
    let request = &options.request;
    let installed = match &request.version {
        Some(version) => {
            let id = pandora_core::id::id(&request.name, version);
            store.record(&id)?.map(|_| id)
        }
        None if store
            .records()?
            .iter()
            .any(|record| record.name == request.name) =>
        {
            Some(installed_id(layout, &request.name)?)
        }
        None => None,
    };
    if let Some(id) = installed {
        return installed_blob(layout, &store, &id);
    }
    fetch(layout, options, progress)
}

/// The blob an installed package came from.
fn installed_blob(layout: &Layout, store: &Store, id: &str) -> Result<Runnable> {
    let Some(record) = store.record(id)? else {
        return Err(Error::refused(
            format!("{id} is not installed"),
            format!("pandora install {id}"),
        ));
    };
    let blob = store.blob_path(&record.blob);
    // A cache is not trusted: the blob must still be the bytes the package was installed from.
    if !store.has_blob(&record.blob) {
        let again = match &record.registry {
            None if !record.source.is_empty() => record.source.clone(),
            _ => id.to_string(),
        };
        return Err(Error::refused(
            format!(
                "{id} is installed, but the package file it was installed from is no longer in the blob cache ({} is missing or changed), and `run` runs that file",
                blob.display()
            ),
            format!("put it back with `pandora install --reinstall --no-activate {again}`; meanwhile the installed program runs from ~/bin"),
        ));
    }
    let blob = whole_file(layout, &blob, &record.blob)?;
    let vouched = match &record.registry {
        Some(name) => crate::config::RegistriesFile::load(&layout.registries_file())?
            .find(name)
            .map(|registry| registry.keys.clone())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(Runnable {
        id: id.to_string(),
        blob,
        fetched_from: None,
        downloaded_bytes: None,
        untrusted: Vec::new(),
        warnings: Vec::new(),
        vouched,
    })
}

/// A package that is not installed, from the registries into the blob cache.
fn fetch(layout: &Layout, options: &RunOptions, progress: &Arc<dyn Progress>) -> Result<Runnable> {
    let request = &options.request;
    let wanted = request
        .version
        .as_ref()
        .map_or(request.name.clone(), |version| {
            pandora_core::id::id(&request.name, version)
        });
    let downloader = Downloader::new(options.policy).map_err(pandora_core::IoError::at(
        "start the network client for",
        &layout.blobs_dir(),
    ))?;
    let registries = registries::load(layout, &downloader, options.freshness, options.now)?;
    if registries.loaded.is_empty() {
        if registries.failed.is_empty() {
            return Err(Error::refused(
                format!("{wanted} is not installed, and no registries are configured to fetch it from"),
                "add one with `pandora registry add NAME URL`, or run a file: `pandora run ./FILE.psp`",
            ));
        }
        return Err(registries.none_readable());
    }
    let resolved = find(request, &registries.indexes()).map_err(|error| {
        if registries.failed.is_empty() {
            Error::Resolve(error)
        } else {
            Error::ResolvedWithout {
                error: Box::new(error),
                unavailable: registries
                    .failed
                    .iter()
                    .map(registries::Unavailable::describe)
                    .collect(),
            }
        }
    })?;
    let store = Store::new(layout);
    let mut downloaded_bytes = None;
    if !store.has_blob(&resolved.sha256) {
        if let Some(launcher) = &resolved.launcher {
            // Best effort, as for install: without it, the whole file travels.
            let _ = crate::registry::launchers::seed(&layout.blobs_dir(), launcher);
        }
        let fetch = [download_request(&resolved)];
        progress.start(&[(resolved.id(), resolved.size.unwrap_or(0))]);
        let reporter = progress.clone();
        let on_progress: Arc<dyn Fn(usize, u64) + Send + Sync> =
            Arc::new(move |index, bytes| reporter.advance(index, bytes));
        let results = downloader.fetch_all_counted(&fetch, &layout.blobs_dir(), &on_progress);
        progress.finish();
        let mut travelled = 0;
        for result in results {
            // What travelled: a file whose launcher was held already brings only the rest.
            travelled += result?.downloaded;
        }
        // Nothing travelled when another process fetched it while this one waited for it.
        downloaded_bytes = (travelled > 0).then_some(travelled);
    }
    let blob = store.blob_path(&resolved.sha256);
    let mut untrusted = Vec::new();
    check_blob(
        &blob,
        &resolved,
        &registries,
        &options.trust,
        &mut untrusted,
    )?;
    let blob = whole_file(layout, &blob, &resolved.sha256)?;
    let vouched = registries
        .loaded
        .iter()
        .find(|loaded| loaded.configured.name == resolved.registry)
        .map(|loaded| loaded.configured.keys.clone())
        .unwrap_or_default();
    Ok(Runnable {
        id: resolved.id(),
        blob,
        fetched_from: Some(resolved.registry.clone()),
        downloaded_bytes,
        untrusted,
        warnings: registries.warnings(),
        vouched,
    })
}

/// The file `run` hands the launcher: the blob itself, or for a blob kept split (its launcher
/// in `blobs/launchers/`), the whole file put back together once in `cache/run/<sha>.psp`
/// (kept, so the launcher's warm start finds it unchanged next time; checked against its
/// name's SHA-256 when written and whenever it is reused).
fn whole_file(layout: &Layout, blob: &Path, sha256: &Sha256) -> Result<PathBuf> {
    use crate::registry::launchers;
    let split = launchers::split_reference(blob)
        .map_err(pandora_core::IoError::at("read", blob))?
        .is_some();
    if !split {
        return Ok(blob.to_path_buf());
    }
    let directory = layout.cache_dir().join("run");
    let target = directory.join(format!("{}.psp", pandora_core::hex::encode(sha256.bytes())));
    if crate::registry::download::file_sha256(&target).is_ok_and(|actual| actual == *sha256.bytes())
    {
        return Ok(target);
    }
    fs_err::create_dir_all(&directory).map_err(pandora_core::IoError::at("create", &directory))?;
    let staging = directory.join(format!(
        ".{}.{}.partial",
        pandora_core::hex::encode(sha256.bytes()),
        std::process::id()
    ));
    let _ = fs_err::remove_file(&staging);
    let written = launchers::materialize(blob, &staging)
        .map_err(pandora_core::IoError::at("write", &staging))?;
    if written != *sha256.bytes() {
        let _ = fs_err::remove_file(&staging);
        return Err(Error::refused(
            format!(
                "{} does not put back together into the package it was installed from",
                blob.display()
            ),
            "run `pandora install --reinstall` for it to fetch the package again",
        ));
    }
    fs_err::rename(&staging, &target).map_err(pandora_core::IoError::at("rename", &target))?;
    Ok(target)
}

/// The files of `cache/run/` whose blob is gone (or, in a dry run, is among `going`, the blobs
/// being pruned), and leftovers of an interrupted put-together older than an hour: deleted
/// unless `dry_run`, each reported with its size. A file there is only a copy of a blob kept
/// whole for the launcher, worth nothing once its blob is gone.
pub fn prune_run_cache(
    layout: &Layout,
    going: &std::collections::BTreeSet<PathBuf>,
    dry_run: bool,
    mut each: impl FnMut(&Path, u64),
) -> Result<()> {
    let directory = layout.cache_dir().join("run");
    // Only the directory `run` makes: never one a link leads to (the user's own files).
    if !fs_err::symlink_metadata(&directory).is_ok_and(|metadata| metadata.is_dir()) {
        return Ok(());
    }
    let entries = match fs_err::read_dir(&directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(pandora_core::IoError::at("read", &directory)(error).into()),
    };
    let blobs = layout.blobs_dir();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in entries {
        let entry = entry.map_err(pandora_core::IoError::at("read", &directory))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let metadata =
            fs_err::symlink_metadata(&path).map_err(pandora_core::IoError::at("access", &path))?;
        // Only names `run` gives: `HASH.psp`, `.HASH.PID.partial`.
        let hash = |text: &str| text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
        let stale = match name.strip_suffix(".psp") {
            Some(stem) if hash(stem) => {
                let blob = blobs.join(stem);
                !blob.exists() || going.contains(&blob)
            }
            _ => {
                let partial = name
                    .strip_prefix('.')
                    .and_then(|rest| rest.strip_suffix(".partial"))
                    .and_then(|rest| rest.split_once('.'))
                    .is_some_and(|(stem, pid)| {
                        hash(stem) && pid.bytes().all(|b| b.is_ascii_digit())
                    });
                partial
                    && metadata
                        .modified()
                        .is_ok_and(|modified| modified < hour_ago)
            }
        };
        if !stale || !metadata.is_file() {
            continue;
        }
        each(
            &path,
            crate::fs::disk_usage(&path).unwrap_or(metadata.len()),
        );
        if !dry_run {
            fs_err::remove_file(&path).map_err(pandora_core::IoError::at("remove", &path))?;
        }
    }
    Ok(())
}
