//! Installing: configured registries' indexes, resolution, downloads into `blobs/`, full
//! verification of every blob, then the store. Everything that can fail without touching the
//! store (an index, a download, a signature) fails first, so a failed install leaves the store
//! as it was.

use pandora_core::Sha256;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::registries::{self, LoadedRegistry, Registries};
use super::{Error, Result};
use crate::format::metadata::encode_hex;
use crate::format::package::{Package, Scope, Verified};
use crate::layout::Layout;
use crate::profile::Locked;
use crate::registry::client::Freshness;
use crate::registry::download::{DownloadPolicy, DownloadRequest, Downloader};
use crate::resolver::{resolve, Registry, Request, Resolved};
use crate::store::{Installed, Provenance, Store};
use crate::trust::{Policy, Verdict};

/// One thing to install: a name (optionally pinned) from the registries, or a local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `name` or `name@version`.
    Named(Request),
    /// A `.psp` on disk.
    File(PathBuf),
}

impl Target {
    /// A path when it names an existing file (or looks like one), else a package name.
    pub fn parse(text: &str) -> Result<Target, String> {
        if text.contains('/') || text.ends_with(".psp") || Path::new(text).is_file() {
            return Ok(Target::File(PathBuf::from(text)));
        }
        Request::parse(text).map(Target::Named)
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
    /// Packages a lockfile pins: anything resolved to one of these `name@version`s must come
    /// from the same registry with the same SHA-256, or nothing is installed.
    pub locked: Vec<Locked>,
    /// Whose signatures are trusted (`PANDORA_REQUIRE_TRUSTED` refuses the rest).
    pub trust: Policy,
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
}

/// Progress reporting for a caller with a terminal.
pub trait Progress: Send + Sync {
    /// Downloads are about to start: `(name@version, size)` each.
    fn start(&self, downloads: &[(String, u64)]);
    /// Download `index` has `bytes` so far.
    fn advance(&self, index: usize, bytes: u64);
    /// All downloads ended.
    fn finish(&self);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &[(String, u64)]) {}
    fn advance(&self, _: usize, _: u64) {}
    fn finish(&self) {}
}

/// Refuses a plan that disagrees with a lockfile about where a package comes from or its bytes.
fn check_locked(plan: &[Resolved], locked: &[Locked]) -> Result<()> {
    for resolved in plan {
        let Some(pin) = locked.iter().find(|pin| pin.id() == resolved.id()) else {
            continue;
        };
        if pin.sha256 != resolved.sha256 || pin.registry.as_deref() != Some(&resolved.registry) {
            return Err(Error::refused(format!(
                "the lockfile pins {} to SHA-256 {} from registry `{}`, but registry `{}` now offers SHA-256 {}",
                resolved.id(),
                encode_hex(&pin.sha256),
                pin.registry.as_deref().unwrap_or("(a local file)"),
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

/// Installs the targets and their dependencies.
pub fn install(
    layout: &Layout,
    options: &InstallOptions,
    progress: &Arc<dyn Progress>,
) -> Result<InstallReport> {
    let store = Store::new(layout);
    let downloader = Downloader::new(options.policy).map_err(pandora_core::IoError::at(
        "start the network client for",
        &layout.blobs_dir(),
    ))?;
    let mut requests: Vec<Request> = Vec::new();
    let mut files: Vec<(PathBuf, Sha256)> = Vec::new();
    let mut untrusted = Vec::new();
    for target in &options.targets {
        match target {
            Target::Named(request) => requests.push(request.clone()),
            Target::File(path) => {
                let package = Package::open(path)?;
                let verified = package.verified(Scope::Full)?;
                let id = pandora_core::id::id(
                    &verified.metadata.package.name,
                    &verified.metadata.package.version,
                );
                check_trust(&options.trust, &id, &verified, &[], &mut untrusted)?;
                for pin in verified.metadata.pandora.unwrap_or_default().dependencies {
                    requests.push(Request::parse(&pin).map_err(|reason| Error::Refused {
                        message: format!("{}: dependency {reason}", path.display()),
                        hint: None,
                    })?);
                }
                files.push((path.clone(), store.add_blob(path)?));
            }
        }
    }
    let registries = if requests.is_empty() {
        Registries::default()
    } else {
        registries::load(layout, &downloader, options.freshness, options.now)?
    };
    if !requests.is_empty() && registries.loaded.is_empty() {
        if registries.failed.is_empty() {
            return Err(Error::refused(
                "no registries are configured, so nothing can be installed by name",
                "add one with `pandora registry add NAME URL`",
            ));
        }
        return Err(registries.none_readable());
    }
    let index_only: Vec<Registry> = registries.indexes();
    let plan = match resolve(&requests, &index_only) {
        Ok(plan) => plan,
        Err(error) if !registries.failed.is_empty() => {
            return Err(Error::ResolvedWithout {
                error,
                unavailable: registries
                    .failed
                    .iter()
                    .map(registries::Unavailable::describe)
                    .collect(),
            })
        }
        Err(error) => return Err(error.into()),
    };
    check_locked(&plan, &options.locked)?;
    let needed: Vec<&Resolved> = plan
        .iter()
        .filter(|resolved| {
            options.reinstall
                || store
                    .record(&resolved.id())
                    .ok()
                    .flatten()
                    .is_none_or(|record| {
                        record.blob != resolved.sha256 || !store.entry_path(&resolved.id()).is_dir()
                    })
        })
        .collect();
    // A cached blob counts only if it still hashes to its name; a damaged one is fetched again.
    let downloads: Vec<&Resolved> = needed
        .iter()
        .copied()
        .filter(|resolved| !store.has_blob(&resolved.sha256))
        .collect();
    let requests_to_fetch: Vec<DownloadRequest> = downloads
        .iter()
        .map(|resolved| download_request(resolved))
        .collect();
    progress.start(
        &downloads
            .iter()
            .map(|resolved| (resolved.id(), resolved.size.unwrap_or(0)))
            .collect::<Vec<_>>(),
    );
    let reporter = progress.clone();
    let on_progress: Arc<dyn Fn(usize, u64) + Send + Sync> =
        Arc::new(move |index, bytes| reporter.advance(index, bytes));
    let results = downloader.fetch_all(&requests_to_fetch, &layout.blobs_dir(), &on_progress);
    progress.finish();
    for result in results {
        result?;
    }
    // From here on the store's lock is held, and `prune` takes it too: no blob can vanish
    // any more. One pruned between its download and now is fetched (or copied) again.
    let mut transaction = store.begin()?;
    let gone: Vec<DownloadRequest> = needed
        .iter()
        .filter(|resolved| !store.blob_path(&resolved.sha256).is_file())
        .map(|resolved| download_request(resolved))
        .collect();
    let silent: Arc<dyn Fn(usize, u64) + Send + Sync> = Arc::new(|_, _| {});
    for result in downloader.fetch_all(&gone, &layout.blobs_dir(), &silent) {
        result?;
    }
    for (path, sha256) in &files {
        if !store.blob_path(sha256).is_file() {
            store.add_blob(path)?;
        }
    }
    let mut report = InstallReport {
        downloads: downloads.len(),
        downloaded_bytes: downloads
            .iter()
            .map(|resolved| resolved.size.unwrap_or(0))
            .sum(),
        ..InstallReport::default()
    };
    // Identity and signer checked on every blob before anything is staged; staging hashes
    // every slot as it extracts; the store changes only when everything has staged.
    for resolved in &needed {
        let blob = store.blob_path(&resolved.sha256);
        let package = Package::open(&blob)?;
        let verified = package.verified(Scope::Structure)?;
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
        check_trust(
            &options.trust,
            &resolved.id(),
            &verified,
            vouched,
            &mut untrusted,
        )?;
        if let Some(configured) = configured.filter(|configured| configured.require_signatures) {
            if !configured
                .keys
                .iter()
                .any(|key| key == &verified.public_key)
            {
                return Err(Error::refused(format!(
                    "{} is signed by key {}, which registry `{}` does not trust (require_signatures)",
                    resolved.id(),
                    verified.key_fingerprint,
                    resolved.registry
                ),
                format!("ask the publisher, or add the key: `pandora registry remove {0}` then `pandora registry add {0} URL --key ed25519:...`", resolved.registry)));
            }
        }
    }
    let mut outcomes = Vec::new();
    for resolved in &plan {
        let provenance = Provenance {
            registry: Some(resolved.registry.clone()),
            source: resolved.url.to_string(),
        };
        outcomes.push(transaction.stage(&resolved.sha256, &provenance, options.reinstall)?);
    }
    for (path, sha256) in &files {
        let provenance = Provenance {
            registry: None,
            source: std::path::absolute(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        };
        outcomes.push(transaction.stage(sha256, &provenance, options.reinstall)?);
    }
    transaction.commit()?;
    let named = options.targets.iter().filter_map(|target| match target {
        Target::Named(request) => Some(request),
        Target::File(_) => None,
    });
    for request in named {
        if let Some(resolved) = plan.iter().find(|resolved| resolved.name == request.name) {
            report.requested.push(resolved.id());
        }
    }
    for outcome in &outcomes[plan.len()..] {
        let (Installed::New(record) | Installed::Already(record)) = outcome;
        report.requested.push(record.id());
    }
    for outcome in outcomes {
        match outcome {
            Installed::New(record) => report.installed.push(record.id()),
            Installed::Already(record) => report.already.push(record.id()),
        }
    }
    report.untrusted = untrusted;
    report.warnings = registries.warnings();
    Ok(report)
}

/// What the downloader needs to fetch `resolved`'s file.
fn download_request(resolved: &Resolved) -> DownloadRequest {
    DownloadRequest {
        url: resolved.url.clone(),
        mirrors: resolved.mirrors.clone(),
        sha256: resolved.sha256.into(),
        size: resolved.size,
        registry: resolved.registry.clone(),
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
            untrusted.push(format!("{id} (signed by {})", verified.key_fingerprint));
            Ok(())
        }
        Verdict::Refused => Err(Error::refused(
            format!(
                "{id} is signed by key {} ({}), which is not trusted, and PANDORA_REQUIRE_TRUSTED=1 requires trusted keys; nothing was installed",
                verified.public_key, verified.key_fingerprint
            ),
            format!(
                "if you trust its publisher: put the key in a .pub file in the trusted keys directory (`echo {} > $PANDORA_HOME/keys/trusted/NAME.pub`)",
                verified.public_key
            ),
        )),
    }
}
