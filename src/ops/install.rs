//! Installing: configured registries' indexes, resolution, downloads into `blobs/`, full
//! verification of every blob, then the store. Everything that can fail without touching the
//! store (an index, a download, a signature) fails first, so a failed install leaves the store
//! as it was.

use pandora_core::Sha256;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pandora_core::events::Event;

use super::registries::{self, LoadedRegistry, Registries};
use super::{Error, Result};
use crate::format::metadata::encode_hex;
use crate::format::package::{Package, Scope, Verified};
use crate::format::platform::Platform;
use crate::layout::Layout;
use crate::profile::Locked;
use crate::registry::client::Freshness;
use crate::registry::download::{DownloadPolicy, DownloadRequest, Downloader};
use crate::resolver::{resolve_pinned, Have, Pins, Request, Resolved};
use crate::store::{Blob, Installed, Provenance, Store};
use crate::trust::{Policy, Verdict};

/// One thing to install: a name (optionally pinned) from the registries, or a local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `name` or `name@version`.
    Named(Request),
    /// A `.psp` on disk.
    File(PathBuf),
    /// A blob already in `blobs/` (its name its SHA-256, checked again before use), recorded
    /// as installed from `source` outside any registry: how `sync` installs a locked package
    /// no registry offers.
    Cached {
        /// The blob's SHA-256.
        sha256: Sha256,
        /// Where it first came from, for the record.
        source: String,
    },
}

impl Target {
    /// A path when it looks like one (a `/`, or the `.psp` ending), else a package name. A
    /// file that merely exists under a package's name is never taken for it: `hello` in the
    /// current directory must not stand in for the package `hello`.
    pub fn parse(text: &str) -> Result<Target, String> {
        if text.contains('/') || text.ends_with(".psp") {
            return Ok(Target::File(PathBuf::from(text)));
        }
        Request::parse(text).map(Target::Named).map_err(|reason| {
            if Path::new(text).is_file() {
                format!("{reason} (to use the file of that name, write ./{text})")
            } else {
                reason
            }
        })
    }
}

/// Everything an install needs to know.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// What to install.
    pub targets: Vec<Target>,
    /// Replace an installed version that came from other bytes.
    pub reinstall: bool,
    /// When to use cached indexes (`--offline`: only; `--refresh`: never).
    pub freshness: Freshness,
    /// The current time (Unix seconds).
    pub now: i64,
    /// Download behaviour.
    pub policy: DownloadPolicy,
    /// Packages a lockfile pins: anything resolved to one of these `name@version`s must have
    /// the same SHA-256 (from whichever registry offers those bytes; the registry's name does
    /// not matter), or nothing is installed.
    pub locked: Vec<Locked>,
    /// Whose signatures are trusted (`PANDORA_REQUIRE_TRUSTED` refuses the rest).
    pub trust: Policy,
    /// Run packages' install hooks (`--no-hooks`: not).
    pub run_hooks: bool,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct InstallReport {
    /// Newly written store entries, in dependency order.
    pub installed: Vec<String>,
    /// Entries that were already there.
    pub already: Vec<String>,
    /// What the targets resolved to (without dependencies), in the order given.
    pub requested: Vec<String>,
    /// Bytes downloaded.
    pub downloaded_bytes: u64,
    /// How many blobs were downloaded.
    pub downloads: usize,
    /// Packages installed although their signer is not trusted (allowed by the policy).
    pub untrusted: Vec<String>,
    /// Registries that could not be read (what was installed came from the others).
    pub warnings: Vec<String>,
    /// What packages' `warn` hooks said: `(name@version, message)`.
    pub hook_messages: Vec<(String, String)>,
    /// What was moved to `rescue/` out of the trees reinstalls replaced, one line each.
    pub rescued: Vec<String>,
    /// Profiles rebuilt because a package they hold was reinstalled from other bytes.
    pub rebuilt: Vec<(String, crate::activation::Applied)>,
}

/// Progress reporting for a caller with a terminal.
pub trait Progress: Send + Sync {
    /// Downloads are about to start: `(name@version, size)` each.
    fn start(&self, downloads: &[(String, u64)]);
    /// Download `index` has `bytes` so far.
    fn advance(&self, index: usize, bytes: u64);
    /// All downloads ended.
    fn finish(&self);
    /// A package's install hooks are about to run (even with `--yes`: for a package from a
    /// registry, this is the first time they are known).
    fn hooks(&self, _id: &str, _hooks: &crate::format::metadata::Hooks) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &[(String, u64)]) {}
    fn advance(&self, _: usize, _: u64) {}
    fn finish(&self) {}
}

/// Refuses a plan that disagrees with a lockfile about a package's bytes. The registry it was
/// locked from is only informational: the same bytes from another registry are the same package.
fn check_locked(plan: &[Resolved], locked: &[Locked]) -> Result<()> {
    for resolved in plan {
        let Some(pin) = locked.iter().find(|pin| pin.id() == resolved.id()) else {
            continue;
        };
        if pin.sha256 != resolved.sha256 {
            return Err(Error::refused(format!(
                "the lockfile pins {} to SHA-256 {} (locked from {}), but no configured registry offers those bytes: registry `{}` offers SHA-256 {}",
                resolved.id(),
                encode_hex(&pin.sha256),
                pin.registry.as_deref().map_or("a local file".to_string(), |name| format!("registry `{name}`")),
                resolved.registry,
                encode_hex(&resolved.sha256),
            ), format!(
                "nothing was installed. If you trust the new package, install and activate it (`pandora install {}`): that writes a new lockfile",
                resolved.id()
            )));
        }
    }
    Ok(())
}

/// A `.psp` given on the command line, copied into `blobs/` and verified there (so the file
/// can change afterwards without changing what is installed).
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// As given.
    pub path: PathBuf,
    /// Its bytes' SHA-256: the blob it was copied to.
    pub sha256: Sha256,
    /// `name@version`.
    pub id: String,
    /// Its pins.
    pub dependencies: Vec<String>,
    /// Where it came from, for the install record (the file's absolute path, or where a
    /// cached blob first came from).
    pub source: String,
    /// The hooks its signed metadata declares, shown before anything runs.
    pub hooks: crate::format::metadata::Hooks,
}

/// What an install will do, decided before anything is downloaded, so a caller can show it
/// and ask first.
#[derive(Debug)]
pub struct Plan {
    /// What comes from the registries, dependencies before dependents.
    pub fetch: Vec<Resolved>,
    /// Local files.
    pub files: Vec<LocalFile>,
    /// What the targets are (without dependencies), in the order given.
    pub requested: Vec<String>,
    /// Of `fetch`, what is not installed yet (or is being reinstalled).
    pub needed: Vec<Resolved>,
    /// Of `needed`, what must be downloaded: `(name@version, size)`.
    pub downloads: Vec<(String, u64)>,
    /// Packages the registries mark deprecated, with the publisher's messages.
    pub deprecated: Vec<super::query::Deprecation>,
    /// Local files whose signer is not trusted (allowed by the policy).
    untrusted: Vec<String>,
    registries: Registries,
    /// Every installed `name@version` with its blob.
    store_has: Vec<(String, Sha256)>,
    /// Installed packages the targets involve (satisfying their pins), not installed again.
    at_hand: Vec<String>,
}

impl Plan {
    /// One warning line per registry that could not be read.
    pub fn warnings(&self) -> Vec<String> {
        self.registries.warnings()
    }

    /// The pins of `id` as this plan knows them: a package being fetched or a local file.
    pub fn pins(&self, id: &str) -> Option<Vec<String>> {
        self.fetch
            .iter()
            .find(|resolved| resolved.id() == id)
            .map(|resolved| resolved.dependencies.clone())
            .or_else(|| {
                self.files
                    .iter()
                    .find(|file| file.id == id)
                    .map(|file| file.dependencies.clone())
            })
    }

    /// Whether the store already has everything.
    pub fn installs_nothing(&self) -> bool {
        self.needed.is_empty()
            && self
                .files
                .iter()
                .all(|file| self.already_installed(&file.id, &file.sha256))
    }

    fn already_installed(&self, id: &str, sha256: &Sha256) -> bool {
        self.store_has
            .iter()
            .any(|(have, blob)| have == id && blob == sha256)
    }
}

/// Installs the targets and their dependencies.
pub fn install(
    layout: &Layout,
    options: &InstallOptions,
    progress: &Arc<dyn Progress>,
) -> Result<InstallReport> {
    let plan = plan(layout, options)?;
    execute(layout, plan, options, progress)
}

/// [`install`] with the registries already loaded by the caller (they are used only if
/// something must come from a registry).
pub(super) fn install_with(
    layout: &Layout,
    options: &InstallOptions,
    progress: &Arc<dyn Progress>,
    loaded: Registries,
) -> Result<InstallReport> {
    let plan = plan_with(layout, options, Some(loaded))?;
    execute(layout, plan, options, progress)
}

/// Decides what to install: local files are copied into `blobs/` and verified; packages
/// already installed (and local files) satisfy exact pins without any registry; the rest is
/// resolved against the registries, which are read only when something is missing.
pub fn plan(layout: &Layout, options: &InstallOptions) -> Result<Plan> {
    plan_with(layout, options, None)
}

fn plan_with(
    layout: &Layout,
    options: &InstallOptions,
    loaded: Option<Registries>,
) -> Result<Plan> {
    let store = Store::new(layout);
    let mut requests: Vec<Request> = Vec::new();
    let mut files: Vec<LocalFile> = Vec::new();
    let mut untrusted = Vec::new();
    let mut have = Have::default();
    for target in &options.targets {
        let (path, sha256, source) = match target {
            Target::Named(request) => {
                requests.push(request.clone());
                continue;
            }
            Target::Cached { sha256, source } if !store.has_blob(sha256) => {
                return Err(Error::refused(
                    format!(
                        "{} is not in the blob cache (or no longer hashes to its name)",
                        store.blob_path(sha256).display()
                    ),
                    format!("install the package from {source} again"),
                ));
            }
            Target::Cached { sha256, source } => (store.blob_path(sha256), *sha256, source.clone()),
            Target::File(path) => {
                let source = std::path::absolute(path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
                    .to_string();
                (path.clone(), store.add_blob(path)?, source)
            }
        };
        let file = local_file(&store, path, sha256, source, options, &mut untrusted)?;
        for pin in &file.dependencies {
            Request::parse(pin).map_err(|reason| Error::Refused {
                message: format!("{}: dependency {reason}", file.path.display()),
                hint: None,
            })?;
        }
        // The file itself is the request, at hand: its pins are resolved under it, so what is
        // missing says what needs it.
        requests.push(Request {
            name: pandora_core::id::name_of(&file.id).to_string(),
            version: pandora_core::id::split_id(&file.id).map(|(_, version)| version.to_string()),
        });
        have.0.insert(file.id.clone(), file.dependencies.clone());
        files.push(file);
    }
    // Installed packages satisfy exact pins, unless a lockfile pins other bytes for them or
    // everything is being reinstalled.
    // A package whose record is damaged counts as not installed: fetched again, it is refused
    // (with how to replace it) unless reinstalling.
    let mut store_has = Vec::new();
    for record in store.readable_records()?.0 {
        let id = record.id();
        store_has.push((id.clone(), record.blob));
        let locked_elsewhere = options
            .locked
            .iter()
            .any(|pin| pin.id() == id && pin.sha256 != record.blob);
        if !options.reinstall && !locked_elsewhere && store.entry_path(&id).is_dir() {
            have.0.entry(id).or_insert(record.dependencies);
        }
    }
    let pins: Pins = options
        .locked
        .iter()
        .map(|locked| (locked.id(), locked.sha256))
        .collect();
    let at_hand = resolve_pinned(&requests, &have, &[], &pins);
    let (fetch, registries) = match at_hand {
        Ok(fetch) => (fetch, Registries::default()),
        // Only what is missing can come from a registry: two versions at hand stay two.
        Err(error) if !matches!(error, crate::resolver::ResolveError::Missing { .. }) => {
            return Err(error.into())
        }
        Err(missing) => {
            let registries = match loaded {
                Some(loaded) => loaded,
                None => {
                    let downloader =
                        Downloader::new(options.policy).map_err(pandora_core::IoError::at(
                            "start the network client for",
                            &layout.blobs_dir(),
                        ))?;
                    registries::load(layout, &downloader, options.freshness, options.now)?
                }
            };
            if registries.loaded.is_empty() {
                if registries.failed.is_empty() {
                    let wanted = match &missing {
                        crate::resolver::ResolveError::Missing { wanted, chain, .. }
                            if !chain.is_empty() =>
                        {
                            format!("{wanted} (needed by {})", chain.join(" -> "))
                        }
                        crate::resolver::ResolveError::Missing { wanted, .. } => wanted.clone(),
                        other => other.to_string(),
                    };
                    return Err(Error::refused(
                        format!("{wanted} is not installed, and no registries are configured to get it from"),
                        "add one with `pandora registry add NAME URL`",
                    ));
                }
                return Err(registries.none_readable());
            }
            match resolve_pinned(&requests, &have, &registries.indexes(), &pins) {
                Ok(fetch) => (fetch, registries),
                Err(error) if !registries.failed.is_empty() => {
                    return Err(Error::ResolvedWithout {
                        error: Box::new(error),
                        unavailable: registries
                            .failed
                            .iter()
                            .map(registries::Unavailable::describe)
                            .collect(),
                    })
                }
                Err(error) => return Err(error.into()),
            }
        }
    };
    check_locked(&fetch, &options.locked)?;
    let needed: Vec<Resolved> = fetch
        .iter()
        .filter(|resolved| {
            options.reinstall
                || !store_has.contains(&(resolved.id(), resolved.sha256))
                || !store.entry_path(&resolved.id()).is_dir()
        })
        .cloned()
        .collect();
    // A cached blob counts only if it still hashes to its name; a damaged one is fetched again.
    let downloads = needed
        .iter()
        .filter(|resolved| !store.has_blob(&resolved.sha256))
        .map(|resolved| (resolved.id(), resolved.size.unwrap_or(0)))
        .collect();
    let deprecated = fetch
        .iter()
        .filter(|resolved| resolved.deprecated)
        .map(|resolved| super::query::Deprecation {
            id: format!("{} (registry `{}`)", resolved.id(), resolved.registry),
            message: resolved.deprecation.clone(),
            yanked: false,
        })
        .collect();
    let mut requested = Vec::new();
    let mut local = files.iter();
    for target in &options.targets {
        match target {
            Target::Named(request) => {
                let id = match &request.version {
                    Some(version) => pandora_core::id::id(&request.name, version),
                    None => fetch
                        .iter()
                        .find(|resolved| resolved.name == request.name)
                        .map(Resolved::id)
                        .unwrap_or_default(),
                };
                requested.push(id);
            }
            Target::File(_) | Target::Cached { .. } => {
                if let Some(file) = local.next() {
                    requested.push(file.id.clone());
                }
            }
        }
    }
    requested.retain(|id| !id.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    requested.retain(|id| seen.insert(id.clone()));
    // What is at hand already and involved: the closure over installed pins.
    let mut at_hand = Vec::new();
    let mut pending: Vec<String> = requested.clone();
    pending.extend(
        fetch
            .iter()
            .flat_map(|resolved| resolved.dependencies.clone()),
    );
    let mut visited = std::collections::BTreeSet::new();
    while let Some(id) = pending.pop() {
        if !visited.insert(id.clone()) || fetch.iter().any(|resolved| resolved.id() == id) {
            continue;
        }
        if let Some(pins) = have.0.get(&id) {
            if !files.iter().any(|file| file.id == id) {
                at_hand.push(id.clone());
            }
            pending.extend(pins.iter().cloned());
        }
    }
    Ok(Plan {
        fetch,
        files,
        requested,
        needed,
        downloads,
        deprecated,
        untrusted,
        registries,
        store_has,
        at_hand,
    })
}

/// Verifies a local package from its copy in `blobs/` (so the file can change afterwards
/// without changing what is installed): signature, every slot, trust, platform, exact pins.
fn local_file(
    store: &Store,
    path: PathBuf,
    sha256: Sha256,
    source: String,
    options: &InstallOptions,
    untrusted: &mut Vec<String>,
) -> Result<LocalFile> {
    let package = crate::registry::launchers::open_blob(&store.blob_path(&sha256))?;
    let verified = package.verified(Scope::Full).map_err(|error| {
        Error::refused(
            format!(
                "{} is not a valid package: {}",
                path.display(),
                pandora_core::error::chain(&error)
            ),
            "`pandora verify FILE` shows every check",
        )
    })?;
    let id = pandora_core::id::id(
        &verified.metadata.package.name,
        &verified.metadata.package.version,
    );
    check_trust(&options.trust, &id, &verified, &[], untrusted)?;
    package
        .check_platform(&verified.metadata, &Platform::current())
        .map_err(|error| wrong_platform(error, path.display()))?;
    let pandora = verified.metadata.pandora.clone().unwrap_or_default();
    let (dependencies, hooks) = (pandora.dependencies, pandora.hooks);
    if let Some(pin) = dependencies
        .iter()
        .find(|pin| pandora_core::id::split_id(pin).is_none())
    {
        return Err(Error::refused(
            format!("{}: dependency `{pin}` has no version", path.display()),
            "dependencies are exact pins, NAME@VERSION: ask the publisher",
        ));
    }
    Ok(LocalFile {
        path,
        sha256,
        id,
        dependencies,
        source,
        hooks,
    })
}

/// Carries out a plan: downloads, verifies every blob, stages, then commits the store.
pub fn execute(
    layout: &Layout,
    plan: Plan,
    options: &InstallOptions,
    progress: &Arc<dyn Progress>,
) -> Result<InstallReport> {
    let store = Store::new(layout);
    let downloader = Downloader::new(options.policy).map_err(pandora_core::IoError::at(
        "start the network client for",
        &layout.blobs_dir(),
    ))?;
    let Plan {
        fetch,
        at_hand,
        needed,
        files,
        requested,
        mut untrusted,
        registries,
        ..
    } = plan;
    // The home's copy of the launcher entry points run as (made once per home) needs nothing
    // from the network: made while the downloads arrive.
    let preparing = Joined((!needed.is_empty() || !files.is_empty()).then(|| {
        let store = store.clone();
        std::thread::spawn(move || store.prepare_entry_points())
    }));
    let downloads: Vec<&Resolved> = needed
        .iter()
        .filter(|resolved| !store.has_blob(&resolved.sha256))
        .collect();
    let mut seeded = std::collections::HashSet::new();
    for launcher in downloads
        .iter()
        .filter_map(|resolved| resolved.launcher.as_ref())
    {
        if seeded.insert(launcher.sha256) {
            // Best effort: without it, the first download brings the launcher.
            let _ = crate::registry::launchers::seed(&layout.blobs_dir(), launcher);
        }
    }
    let requests_to_fetch: Vec<DownloadRequest> = downloads
        .iter()
        .map(|resolved| download_request(resolved))
        .collect();
    let mut downloaded_bytes = 0;
    let mut served_by: std::collections::BTreeMap<String, url::Url> =
        std::collections::BTreeMap::new();
    if !downloads.is_empty() {
        progress.start(
            &downloads
                .iter()
                .map(|resolved| (resolved.id(), resolved.size.unwrap_or(0)))
                .collect::<Vec<_>>(),
        );
        let reporter = progress.clone();
        let on_progress: Arc<dyn Fn(usize, u64) + Send + Sync> =
            Arc::new(move |index, bytes| reporter.advance(index, bytes));
        let results =
            downloader.fetch_all_counted(&requests_to_fetch, &layout.blobs_dir(), &on_progress);
        // The record says where the bytes really came from: a mirror, when the primary failed.
        progress.finish();
        for (result, resolved) in results.iter().zip(&downloads) {
            let served = result
                .as_ref()
                .ok()
                .and_then(|fetched| fetched.served_by.as_ref())
                .unwrap_or(&resolved.url);
            let event = Event::new("download")
                .with("id", resolved.id())
                .with("registry", &resolved.registry)
                .with("url", served);
            match result {
                Ok(fetched) => event
                    .with("status", "ok")
                    .with("bytes", fetched.downloaded)
                    .with("sha256", resolved.sha256),
                Err(error) => event
                    .with("status", "failed")
                    .with("cause", pandora_core::error::chain(error)),
            }
            .emit();
        }
        for (result, resolved) in results.into_iter().zip(&downloads) {
            let fetched = result?;
            downloaded_bytes += fetched.downloaded;
            if let Some(url) = fetched.served_by {
                served_by.insert(resolved.id(), url);
            }
        }
    }
    // Its failure is met again, and reported, where entry points are staged.
    drop(preparing);
    // From here on the store's lock is held, and `prune` takes it too: no blob can vanish
    // any more. One pruned between its download and now is fetched (or copied) again.
    let mut transaction = store.begin()?;
    transaction.set_run_hooks(options.run_hooks);
    let reporter = progress.clone();
    transaction.set_before_hooks(Arc::new(move |id, hooks| reporter.hooks(id, hooks)));
    let gone: Vec<DownloadRequest> = needed
        .iter()
        // Hashed again (a split blob's launcher was hashed once already): a launcher pruned
        // since makes its blobs incomplete, and they are fetched again.
        .filter(|resolved| !store.has_blob(&resolved.sha256))
        .map(download_request)
        .collect();
    let silent: Arc<dyn Fn(usize, u64) + Send + Sync> = Arc::new(|_, _| {});
    for (result, request) in downloader
        .fetch_all_counted(&gone, &layout.blobs_dir(), &silent)
        .into_iter()
        .zip(&gone)
    {
        let fetched = result?;
        let url = fetched.served_by.unwrap_or_else(|| request.url.clone());
        if let Some(resolved) = needed
            .iter()
            .find(|resolved| resolved.sha256 == request.sha256)
        {
            served_by.insert(resolved.id(), url.clone());
        }
        Event::new("download")
            .with("registry", &request.registry)
            .with("url", &url)
            .with("status", "ok")
            .with("bytes", request.size.unwrap_or(0))
            .with("sha256", pandora_core::hex::encode(request.sha256))
            .emit();
    }
    for file in &files {
        if !store.blob_path(&file.sha256).is_file() && store.add_blob(&file.path)? != file.sha256 {
            return Err(Error::refused(
                format!(
                    "{} changed while it was being installed",
                    file.path.display()
                ),
                "nothing was installed; run the command again",
            ));
        }
    }
    let mut report = InstallReport {
        downloads: downloads.len(),
        // What arrived (an index that gives no sizes does not say in advance; a launcher
        // already here did not travel).
        downloaded_bytes,
        ..InstallReport::default()
    };
    // Identity and signer checked on every blob (side by side) before anything is staged;
    // staging hashes every slot as it extracts; the store changes only when everything has
    // staged. What checking opened and verified is staged as it is, not read again.
    let checked = pandora_core::parallel::map(&needed, |resolved| {
        let mut signers = Vec::new();
        check_blob(
            &store.blob_path(&resolved.sha256),
            resolved,
            &registries,
            &options.trust,
            &mut signers,
        )
        .map(|opened| (opened, signers))
    });
    let mut blobs = Vec::with_capacity(needed.len() + files.len());
    for (resolved, checked) in needed.iter().zip(checked) {
        let (opened, signers) = checked?;
        untrusted.extend(signers);
        blobs.push(Blob {
            sha256: resolved.sha256,
            provenance: Provenance {
                registry: Some(resolved.registry.clone()),
                source: served_by
                    .get(&resolved.id())
                    .unwrap_or(&resolved.url)
                    .to_string(),
            },
            opened: Some(opened),
        });
    }
    blobs.extend(files.iter().map(|file| Blob {
        sha256: file.sha256,
        provenance: Provenance {
            registry: None,
            source: file.source.clone(),
        },
        opened: None,
    }));
    let outcomes = transaction.stage_all(blobs, options.reinstall)?;
    let hook_messages = transaction.messages().to_vec();
    let (_, rescued) = transaction.commit()?;
    report.hook_messages = hook_messages;
    report.rescued = rescued;
    for outcome in outcomes {
        match outcome {
            Installed::New(record) => report.installed.push(record.id()),
            Installed::Already(record) => report.already.push(record.id()),
        }
    }
    let involved = fetch
        .iter()
        .map(Resolved::id)
        .chain(at_hand)
        .chain(requested.iter().cloned());
    for id in involved {
        if !report.installed.contains(&id) && !report.already.contains(&id) {
            report.already.push(id);
        }
    }
    // The activity log's record: what entered the store, and what was asked for although it
    // was already there (an install all the same, from the user's side).
    for id in report
        .installed
        .iter()
        .chain(requested.iter().filter(|id| !report.installed.contains(id)))
    {
        Event::new("install")
            .with("id", id)
            .with("new", report.installed.contains(id))
            .with("requested", requested.contains(id))
            .emit();
    }
    if options.reinstall {
        report.rebuilt = rebuild_holding(layout, &report.installed)?;
    }
    report.requested = requested;
    report.untrusted = untrusted;
    report.warnings = registries.warnings();
    Ok(report)
}

/// A thread waited for however the function that started it returns: a failed download must
/// not end the process while the thread is half way through writing a file.
struct Joined<T>(Option<std::thread::JoinHandle<T>>);

impl<T> Drop for Joined<T> {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            let _ = thread.join();
        }
    }
}

/// Gives every profile whose current generation holds one of `ids` (just reinstalled, perhaps
/// from other bytes) a generation whose lockfile pins the bytes now installed, as `remove`
/// rebuilds every profile it touches: none keeps pinning bytes that are gone. A profile whose
/// lockfile already pins them is left as it is.
fn rebuild_holding(
    layout: &Layout,
    ids: &[String],
) -> Result<Vec<(String, crate::activation::Applied)>> {
    let mut rebuilt = Vec::new();
    if ids.is_empty() {
        return Ok(rebuilt);
    }
    for profile in super::remove::holding_profiles(layout, ids)? {
        let applied = crate::activation::apply(
            layout,
            &profile,
            crate::activation::Change::Forget(&[]),
            crate::profile::Prefer::Neither,
            &format!("rebuilt: {} reinstalled", ids.join(", ")),
        )?;
        if applied.new_generation {
            rebuilt.push((profile, applied));
        }
    }
    Ok(rebuilt)
}

/// Checks the downloaded `blob` of `resolved` before anything uses it: it is the package the
/// index says (name and version, in its signed metadata), its signer is one the trust policy
/// accepts (a registry's configured keys vouch for what came from it), and a registry that
/// requires signatures trusts that signer. Its slots are checked as they are extracted or run.
pub(super) fn check_blob(
    blob: &Path,
    resolved: &Resolved,
    registries: &Registries,
    trust: &Policy,
    untrusted: &mut Vec<String>,
) -> Result<(Package, Verified)> {
    // The blob hashes to what the signed index gives: what is wrong with its content was
    // published so.
    let published = |error: crate::format::FormatError| match error {
        crate::format::FormatError::TooSmall { .. }
        | crate::format::FormatError::CheckFailed { .. }
        | crate::format::FormatError::UnsafeEntry { .. }
        | crate::format::FormatError::UnsafeDirectory { .. } => Error::Published {
            url: resolved.url.to_string(),
            registry: resolved.registry.clone(),
            source: Box::new(error),
        },
        other => other.into(),
    };
    let package = crate::registry::launchers::open_blob(blob).map_err(published)?;
    let verified = package.verified(Scope::Structure).map_err(published)?;
    package
        .check_platform(&verified.metadata, &Platform::current())
        .map_err(|error| wrong_platform(error, resolved.id()))?;
    let identity = (
        &verified.metadata.package.name,
        &verified.metadata.package.version,
    );
    if identity != (&resolved.name, &resolved.version) {
        return Err(Error::Refused {
            message: format!(
                "{} (registry `{}`) is {}@{}, not {} as the index says",
                resolved.url,
                resolved.registry,
                identity.0,
                identity.1,
                resolved.id()
            ),
            hint: Some(format!("the registry is broken or hostile: tell its operator, or `pandora registry remove {}`", resolved.registry)),
        });
    }
    let configured = registries
        .loaded
        .iter()
        .map(|loaded: &LoadedRegistry| &loaded.configured)
        .find(|configured| configured.name == resolved.registry);
    let vouched = configured.map_or(&[][..], |configured| &configured.keys[..]);
    check_trust(trust, &resolved.id(), &verified, vouched, untrusted)?;
    if let Some(configured) = configured.filter(|configured| configured.require_signatures) {
        if !configured
            .keys
            .iter()
            .any(|key| key == &verified.public_key)
        {
            return Err(Error::refused(format!(
                "{} is signed by key {} (fingerprint {}), which registry `{}` does not trust (require_signatures)",
                resolved.id(),
                verified.public_key,
                verified.key_fingerprint,
                resolved.registry
            ),
            format!(
                "if its publisher confirms that key, add it: `pandora registry set {0} --add-key {1}`",
                resolved.registry, verified.public_key
            )));
        }
    }
    Ok((package, verified))
}

/// A package for another platform, named as the user knows it (the file given, or
/// `name@version`) rather than by its blob's path.
fn wrong_platform(error: crate::format::FormatError, shown: impl std::fmt::Display) -> Error {
    match error {
        crate::format::FormatError::WrongPlatform {
            package,
            host,
            evidence,
            ..
        } => Error::refused(
            format!("{shown} is built for {package}, and this machine is {host} ({evidence}); nothing was installed"),
            format!("install the build of it for {host}: ask its publisher, or look for it with `pandora search`"),
        ),
        other => other.into(),
    }
}

/// What the downloader needs to fetch `resolved`'s file.
pub(super) fn download_request(resolved: &Resolved) -> DownloadRequest {
    DownloadRequest {
        url: resolved.url.clone(),
        mirrors: resolved.mirrors.clone(),
        sha256: resolved.sha256.into(),
        size: resolved.size,
        registry: resolved.registry.clone(),
        launcher: resolved.launcher,
    }
}

/// Applies the trust policy to one verified package: refused under `PANDORA_REQUIRE_TRUSTED`
/// unless its signer is trusted (or `vouched` for by its registry's configuration), noted in
/// `untrusted` otherwise.
fn check_trust(
    policy: &Policy,
    id: &str,
    verified: &Verified,
    vouched: &[pandora_core::PublicKey],
    untrusted: &mut Vec<String>,
) -> Result<()> {
    match policy.check(&verified.public_key, vouched) {
        Verdict::Trusted(_) => Ok(()),
        Verdict::Untrusted => {
            untrusted.push(format!(
                "{id} is signed by key {} (fingerprint {}), which you do not trust; to trust it: `pandora key trust {}`",
                verified.public_key, verified.key_fingerprint, verified.public_key
            ));
            Ok(())
        }
        Verdict::Refused => Err(Error::refused(
            format!(
                "{id} is signed by key {} (fingerprint {}), which is not trusted, and PANDORA_REQUIRE_TRUSTED=1 requires trusted keys; nothing was installed",
                verified.public_key, verified.key_fingerprint
            ),
            format!(
                "if you trust its publisher: `pandora key trust {}`",
                verified.public_key
            ),
        )),
    }
}
