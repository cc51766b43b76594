//! `pandora publish`, `yank`, `deprecate` and `registry gc`: changes to a registry this user
//! may write (`allow_publish` and a `publish_url` in `registries.acl`), each one read-merge-
//! sign-write of its index that never loses another publisher's update.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pandora_core::events::Event;

use super::keys::{signing_key, KeySource};
use super::{Error, Result};
use crate::config::{RegistriesFile, Registry};
use crate::format::metadata::encode_hex;
use crate::layout::Layout;
use crate::registry::index::RegistryIndex;
use crate::registry::publish::aws::AwsEnvironment;
use crate::registry::publish::file::DirectoryTarget;
use crate::registry::publish::merge::{self, Added};
use crate::registry::publish::offer::{offer, Offered};
use crate::registry::publish::s3::{S3Location, S3Target};
use crate::registry::publish::target::{Listed, Target};
use crate::registry::publish::update::{self, Signer, Updated};
use crate::registry::publish::{blob_key, PublishError};

/// Which registry to change, with what key, from which environment.
#[derive(Debug, Clone, Copy)]
pub struct Publisher<'a> {
    /// The configured registry's name.
    pub registry: &'a str,
    /// The key signing its index.
    pub key: KeySource<'a>,
    /// Days until clients refuse the new index.
    pub expires_in_days: u32,
    /// The user's home (for `~/.aws`).
    pub home: Option<&'a Path>,
    /// Environment lookup (the AWS variables).
    pub variable: fn(&str) -> Option<String>,
}

/// One package `publish` handled.
#[derive(Debug, Clone)]
pub struct PublishedPackage {
    /// `name@version`.
    pub id: String,
    /// The file given.
    pub file: PathBuf,
    /// SHA-256 (hex).
    pub sha256: String,
    /// Where it is stored, relative to the index.
    pub blob: String,
    /// Whether this run added it to the index (`false`: the same bytes were there already).
    pub added: bool,
    /// Whether this run uploaded its bytes (`false`: they were stored already).
    pub uploaded: bool,
}

/// What a change to a registry did.
#[derive(Debug, Clone)]
pub struct RegistryChangeReport {
    /// The registry.
    pub registry: String,
    /// Where it is written.
    pub location: String,
    /// The packages (publish only).
    pub packages: Vec<PublishedPackage>,
    /// Whether a new index was written.
    pub changed: bool,
    /// The index's serial now.
    pub serial: Option<i64>,
    /// Tries it took (more than one: other publishers were writing too).
    pub attempts: u32,
}

/// The registry, checked to allow publishing, with its storage opened.
fn open(publisher: &Publisher<'_>, layout: &Layout) -> Result<(Registry, Box<dyn Target>)> {
    let file = RegistriesFile::load(&layout.registries_file())?;
    let registry = file.find(publisher.registry)?.clone();
    let name = &registry.name;
    let Some(url) = registry
        .publish_url
        .clone()
        .filter(|_| registry.allow_publish)
    else {
        return Err(Error::refused(
            format!("registry `{name}` does not allow publishing from here"),
            format!("allow it where its files are written: `pandora registry set {name} --allow-publish --publish-url s3://BUCKET/PREFIX` (or file:///DIR); with s3, add --s3-endpoint URL for storage other than AWS"),
        ));
    };
    let target: Box<dyn Target> = if url.scheme() == "file" {
        let directory = url.to_file_path().map_err(|()| {
            Error::refused(
                format!("registry `{name}`'s publish_url {url} is not a local directory"),
                format!("`pandora registry set {name} --publish-url file:///DIR`"),
            )
        })?;
        Box::new(DirectoryTarget::new(&directory)?)
    } else {
        let mut location = S3Location::parse(&url).ok_or_else(|| {
            Error::refused(
                format!("registry `{name}`'s publish_url {url} is neither s3:// nor file://"),
                format!("`pandora registry set {name} --publish-url s3://BUCKET/PREFIX`"),
            )
        })?;
        location.endpoint = registry
            .s3_endpoint
            .as_ref()
            .map(|url| url.as_str().trim_end_matches('/').to_string());
        location.region.clone_from(&registry.s3_region);
        let environment = AwsEnvironment::new(&publisher.variable, publisher.home);
        Box::new(S3Target::new(location, &environment)?)
    };
    Ok((registry, target))
}

/// The signing key, refused unless the registry trusts it: clients would refuse what it signs.
fn key_for(
    layout: &Layout,
    publisher: &Publisher<'_>,
    registry: &Registry,
) -> Result<crate::format::signing::SigningKey> {
    let key = signing_key(layout, publisher.key)?;
    let public = key.public_key();
    if !registry.keys.contains(&public) {
        return Err(Error::refused(
            format!(
                "registry `{}` does not trust the signing key {public}, so its clients would refuse the index it signs; nothing was written",
                registry.name
            ),
            format!(
                "sign with one of the keys `pandora registry list -v` shows for `{0}` (--key NAME|FILE), or trust this one first: `pandora registry set {0} --add-key {public}`",
                registry.name
            ),
        ));
    }
    Ok(key)
}

fn signer<'a>(
    layout: &Layout,
    publisher: &'a Publisher<'_>,
    registry: &'a Registry,
    key: &'a crate::format::signing::SigningKey,
) -> Signer<'a> {
    let floor = crate::registry::client::highest_serial(&layout.cache_dir(), &registry.name);
    Signer {
        key,
        trusted: &registry.keys,
        registry: &registry.name,
        expires_in_days: publisher.expires_in_days,
        now: pandora_core::time::now(),
        floor,
    }
}

fn report(
    layout: &Layout,
    registry: &Registry,
    target: &dyn Target,
    packages: Vec<PublishedPackage>,
    updated: &Updated,
) -> RegistryChangeReport {
    // This home's floor for the next publish (and for fetching). Best effort: the index is
    // written already, and the next fetch records its serial too.
    if let Some(serial) = updated.index.serial {
        let _ = crate::registry::client::remember_serial(
            &layout.cache_dir(),
            &registry.name,
            &registry.keys,
            serial,
        );
    }
    RegistryChangeReport {
        registry: registry.name.clone(),
        location: target.location(),
        packages,
        changed: updated.changed,
        serial: updated.index.serial,
        attempts: updated.attempts,
    }
}

/// Verifies each file in full, uploads its bytes under their SHA-256 and adds it to the
/// registry's index, signed. Every file is checked before anything is written; a version the
/// index has with other bytes is refused, the same bytes again change nothing.
pub fn publish(
    layout: &Layout,
    publisher: &Publisher<'_>,
    files: &[PathBuf],
) -> Result<RegistryChangeReport> {
    let (registry, target) = open(publisher, layout)?;
    let key = key_for(layout, publisher, &registry)?;
    let mut offered: Vec<Offered> = Vec::with_capacity(files.len());
    for file in files {
        let package = offer(file)?;
        if registry.require_signatures && !registry.keys.contains(&package.signer) {
            return Err(Error::refused(
                format!(
                    "{} ({}) is signed by {}, which registry `{}` does not trust: its clients would refuse it",
                    package.id(),
                    file.display(),
                    package.signer,
                    registry.name
                ),
                format!(
                    "sign the package with one of the registry's keys, or trust its key: `pandora registry set {} --add-key {}`",
                    registry.name, package.signer
                ),
            ));
        }
        if let Some(twin) = offered.iter().find(|known| known.id() == package.id()) {
            if twin.entry.sha256 != package.entry.sha256 {
                return Err(PublishError::Conflict {
                    first: twin.path.clone(),
                    second: package.path,
                    name: twin.name.clone(),
                    version: twin.entry.version.clone(),
                }
                .into());
            }
            continue;
        }
        offered.push(package);
    }
    let signer = signer(layout, publisher, &registry, &key);
    let mut packages: Vec<PublishedPackage> = Vec::new();
    let updated = {
        let target_ref: &dyn Target = &*target;
        let mut uploads: Vec<(String, bool)> = Vec::new();
        // Runs again on every retry, against the index read then.
        let mut change = |index: &mut RegistryIndex| -> std::result::Result<bool, PublishError> {
            let mut changed = false;
            packages.clear();
            // A refusal uploads nothing, for any of the files: check them all before storing.
            let added: Vec<bool> = offered
                .iter()
                .map(|package| Ok(merge::check_immutable(index, package)? == Added::New))
                .collect::<std::result::Result<_, PublishError>>()?;
            for (package, added) in offered.iter().zip(added) {
                let blob = blob_key(&package.entry.sha256);
                let uploaded = match uploads.iter().find(|(key, _)| *key == blob) {
                    Some((_, uploaded)) => *uploaded,
                    None => {
                        let bytes = fs_err::read(&package.path).map_err(|source| {
                            PublishError::Io(pandora_core::IoError {
                                action: "read",
                                path: package.path.clone(),
                                source: std::io::Error::new(source.kind(), source),
                            })
                        })?;
                        // The file changed since it was verified: refuse rather than upload
                        // bytes nobody checked.
                        if pandora_core::Sha256::of(&bytes) != package.entry.sha256 {
                            return Err(PublishError::BadIdentity {
                                path: package.path.clone(),
                                reason: "the file changed while it was being published".into(),
                            });
                        }
                        let stored = target_ref.create(&blob, bytes)?;
                        uploads.push((blob.clone(), stored));
                        stored
                    }
                };
                if added {
                    merge::add(index, package, &blob)?;
                    changed = true;
                }
                packages.push(PublishedPackage {
                    id: package.id(),
                    file: package.path.clone(),
                    sha256: encode_hex(&package.entry.sha256),
                    blob,
                    added,
                    uploaded,
                });
            }
            Ok(changed)
        };
        // `change` borrows the target for uploads while the loop drives it: a second handle.
        update::update(target_ref, &signer, &mut change)?
    };
    for package in &packages {
        Event::new("publish")
            .with("registry", &registry.name)
            .with("id", &package.id)
            .with("sha256", &package.sha256)
            .with("status", if package.added { "added" } else { "unchanged" })
            .with("serial", updated.index.serial.unwrap_or(0))
            .emit();
    }
    Ok(report(layout, &registry, &*target, packages, &updated))
}

/// The log line of a yank or deprecation.
fn log_change(event: &'static str, id: &str, report: &RegistryChangeReport, detail: &str) {
    Event::new(event)
        .with("registry", &report.registry)
        .with("id", id)
        .with("status", detail)
        .with("serial", report.serial.unwrap_or(0))
        .emit();
}

/// Yanks `name@version` (or, with `undo`, takes the yank back).
pub fn yank(
    layout: &Layout,
    publisher: &Publisher<'_>,
    id: &str,
    undo: bool,
) -> Result<RegistryChangeReport> {
    if pandora_core::id::validate_pin(id).is_err() {
        let name = id.split('@').next().unwrap_or(id);
        return Err(Error::refused(
            format!("`{id}` names no exact version: a yank withdraws one version, NAME@VERSION"),
            format!("`pandora info {name}` lists its versions; yank each one you mean: `pandora yank {name}@VERSION --registry {}`", publisher.registry),
        ));
    }
    let (registry, target) = open(publisher, layout)?;
    let key = key_for(layout, publisher, &registry)?;
    let location = target.location();
    let updated = update::update(
        &*target,
        &signer(layout, publisher, &registry, &key),
        &mut |index| merge::yank(index, id, !undo, &location),
    )?;
    let report = report(layout, &registry, &*target, Vec::new(), &updated);
    log_change("yank", id, &report, if undo { "undone" } else { "yanked" });
    Ok(report)
}

/// Deprecates `name@version`, or every version of `name`, with `message` (`None`: undo).
pub fn deprecate(
    layout: &Layout,
    publisher: &Publisher<'_>,
    target_id: &str,
    message: Option<&str>,
) -> Result<RegistryChangeReport> {
    if let Some(message) = message {
        if message.trim().is_empty() || message.chars().any(char::is_control) {
            return Err(Error::refused(
                format!("the deprecation message {message:?} is empty or has control characters (line breaks among them); nothing was written"),
                "give one line that says what to use instead: `--message \"use tool 2.x\"`",
            ));
        }
    }
    let (registry, target) = open(publisher, layout)?;
    let key = key_for(layout, publisher, &registry)?;
    let location = target.location();
    let updated = update::update(
        &*target,
        &signer(layout, publisher, &registry, &key),
        &mut |index| merge::deprecate(index, target_id, message, &location),
    )?;
    let report = report(layout, &registry, &*target, Vec::new(), &updated);
    log_change("deprecate", target_id, &report, message.unwrap_or("undone"));
    Ok(report)
}

/// What `registry gc` would delete.
#[derive(Debug, Clone)]
pub struct GcPlan {
    /// The registry.
    pub registry: String,
    /// Where it is.
    pub location: String,
    /// Stored files no index entry points at, and stale staged signatures.
    pub garbage: Vec<Listed>,
    /// Unreferenced files younger than the grace period, kept: a publisher may be about to
    /// index them.
    pub recent: Vec<Listed>,
}

/// Finds what nothing in the registry's (verified) index points at. Only reads.
pub fn plan_gc(layout: &Layout, publisher: &Publisher<'_>, grace_seconds: i64) -> Result<GcPlan> {
    let (registry, target) = open(publisher, layout)?;
    let index = update::read(&*target, &registry.keys, &registry.name)?;
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    for package in index.packages() {
        for version in &package.versions {
            // Every file of it: its own and each platform's.
            for (pkg_url, _) in version.all_files() {
                referenced.insert(pkg_url.to_string());
            }
        }
    }
    let current_signature = target
        .read("index.acl")?
        .map(|text| update::staged_signature_key(&text));
    let now = pandora_core::time::now();
    let (mut garbage, mut recent) = (Vec::new(), Vec::new());
    let candidates = target
        .list("blobs/sha256/")?
        .into_iter()
        .filter(|listed| !referenced.contains(&listed.key))
        .chain(
            target
                .list("signatures/")?
                .into_iter()
                .filter(|listed| Some(&listed.key) != current_signature.as_ref()),
        );
    for listed in candidates {
        if now - listed.modified < grace_seconds {
            recent.push(listed);
        } else {
            garbage.push(listed);
        }
    }
    Ok(GcPlan {
        registry: registry.name,
        location: target.location(),
        garbage,
        recent,
    })
}

/// Deletes what [`plan_gc`] found, checking again first that the index (which may have
/// changed since) does not point at it.
pub fn gc(layout: &Layout, publisher: &Publisher<'_>, plan: &GcPlan) -> Result<Vec<Listed>> {
    let (registry, target) = open(publisher, layout)?;
    let index = update::read(&*target, &registry.keys, &registry.name)?;
    let referenced: BTreeSet<&str> = index
        .packages()
        .into_iter()
        .flat_map(|package| package.versions.iter().flat_map(|v| v.all_files()))
        .map(|(pkg_url, _)| pkg_url)
        .collect();
    let current_signature = target
        .read("index.acl")?
        .map(|text| update::staged_signature_key(&text));
    let mut deleted = Vec::new();
    for listed in &plan.garbage {
        if referenced.contains(listed.key.as_str())
            || Some(&listed.key) == current_signature.as_ref()
        {
            continue;
        }
        target.delete(&listed.key)?;
        deleted.push(listed.clone());
    }
    Event::new("registry-gc")
        .with("registry", &registry.name)
        .with("items", deleted.len())
        .with(
            "bytes",
            deleted.iter().map(|listed| listed.size).sum::<u64>(),
        )
        .emit();
    Ok(deleted)
}
