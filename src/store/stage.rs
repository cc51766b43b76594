//! Staging packages into `tmp/`: each blob opened and checked in order, then extracted, its
//! entry points written and its tree sealed on every core at once (each package's tree is a
//! directory `tmp/install-XXXX` of its own, its entry points and attestation beside it as
//! `install-XXXX.entries` and `install-XXXX.attestation`, so packages share nothing), then
//! install hooks run one package at a time, in order, as the user is told about them. Nothing
//! in `store/` changes until [`Transaction::commit`].

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pandora_core::id::{validate_name, validate_version};
use pandora_core::Sha256;

use super::{
    entries, hooks, io, remove_tree, seal, BeforeHooks, Installed, Provenance, Record, Staged,
    StoreError, Transaction,
};
use crate::format::extract::{Extraction, Limits};
use crate::format::metadata::{encode_hex, Hooks};
use crate::format::package::{Package, Scope, Verified};

/// A blob to stage, opened and verified already if its caller checked it first.
#[derive(Debug)]
pub struct Blob {
    /// Its SHA-256, its name in `blobs/`.
    pub sha256: Sha256,
    /// Where it came from, for its record.
    pub provenance: Provenance,
    /// The package it holds and what verifying it found, if the caller has them.
    pub opened: Option<(Package, Verified)>,
}

/// A package opened and checked, waiting for its tree.
struct Opened {
    package: Package,
    verified: Verified,
    id: String,
    source: String,
    staging: PathBuf,
    /// Its place in the transaction's staged packages.
    slot: usize,
    /// The install hooks to run, if any (none with `--no-hooks`).
    hooks: Option<Hooks>,
}

/// What staging one package came to before its tree is made.
enum Step {
    /// Installed already, from these bytes.
    Done(Box<Installed>),
    /// The same `name@version` as a package staged earlier in this transaction (its slot).
    SameAs(usize),
    Make(Box<Opened>),
}

/// A staged tree's description, for its record.
struct Made {
    entries: Vec<crate::store::RecordedEntry>,
    entry_points: Vec<String>,
    writable: Vec<crate::launcher::WritableDirectory>,
}

impl Transaction<'_> {
    /// Verifies the blob `sha256` and extracts it into `tmp/` (every slot hashed as it streams),
    /// sealed read-only.
    pub fn stage(
        &mut self,
        sha256: &Sha256,
        provenance: &Provenance,
        reinstall: bool,
    ) -> Result<Installed, StoreError> {
        let blob = Blob {
            sha256: *sha256,
            provenance: provenance.clone(),
            opened: None,
        };
        let mut staged = self.stage_all(vec![blob], reinstall)?;
        staged.pop().ok_or_else(|| StoreError::NotInstalled {
            id: encode_hex(sha256),
        })
    }

    /// [`Transaction::stage`] for several blobs, in order; their trees are made side by side.
    /// The first failure (in order) is the error, and the transaction then commits nothing.
    pub fn stage_all(
        &mut self,
        blobs: Vec<Blob>,
        reinstall: bool,
    ) -> Result<Vec<Installed>, StoreError> {
        let store = self.store;
        let opened = pandora_core::parallel::map(&blobs, |blob| match &blob.opened {
            Some(_) => Ok(None),
            None => {
                let package =
                    crate::registry::launchers::open_blob(&store.blob_path(&blob.sha256))?;
                let verified = package.verified(Scope::Structure)?;
                Ok::<_, StoreError>(Some((package, verified)))
            }
        });
        let mut steps = Vec::with_capacity(blobs.len());
        for (blob, opened) in blobs.into_iter().zip(opened) {
            let (package, verified) = match (blob.opened, opened?) {
                (Some(given), _) | (None, Some(given)) => given,
                (None, None) => unreachable!("opened above when not given"),
            };
            steps.push(self.open(&blob.sha256, &blob.provenance, reinstall, package, verified)?);
        }
        let layout = &self.store.layout;
        let jobs: Vec<&Opened> = steps
            .iter()
            .filter_map(|step| match step {
                Step::Make(opened) => Some(&**opened),
                _ => None,
            })
            .collect();
        let made = pandora_core::parallel::map(&jobs, |opened| {
            extract(opened)?;
            // A package whose hooks run is finished after them, in order.
            match opened.hooks {
                Some(_) => Ok(None),
                None => finish(layout, opened).map(Some),
            }
        });
        let mut made = made.into_iter();
        let mut outcomes = Vec::with_capacity(steps.len());
        for step in steps {
            let opened = match step {
                Step::Done(installed) => {
                    outcomes.push(Ok(*installed));
                    continue;
                }
                Step::SameAs(slot) => {
                    outcomes.push(Err(slot));
                    continue;
                }
                Step::Make(opened) => opened,
            };
            let made = match made.next().unwrap_or(Ok(None))? {
                Some(made) => made,
                None => {
                    self.run_hooks_of(&opened)?;
                    finish(layout, &opened)?
                }
            };
            let staged = &mut self.staged[opened.slot];
            staged.record.entries = made.entries.into();
            staged.record.entry_points = made.entry_points;
            staged.writable = made.writable;
            outcomes.push(Err(opened.slot));
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|slot| Installed::New(self.staged[slot].record.clone()))
            })
            .collect())
    }

    /// Checks what an opened blob is against the store, and makes its staging directory
    /// (registered before anything can fail, so a drop cleans it up).
    fn open(
        &mut self,
        sha256: &Sha256,
        provenance: &Provenance,
        reinstall: bool,
        package: Package,
        verified: Verified,
    ) -> Result<Step, StoreError> {
        let store = self.store;
        let (name, version) = (
            verified.metadata.package.name.clone(),
            verified.metadata.package.version.clone(),
        );
        validate_name(&name)
            .and_then(|()| validate_version(&version))
            .map_err(|reason| StoreError::Identity {
                path: provenance.source.clone().into(),
                reason,
            })?;
        let id = pandora_core::id::id(&name, &version);
        // A record whose tree is gone (a removal cut short) describes nothing installed; a
        // damaged one is replaced when asked to (its hint says how).
        let existing = match store.record(&id) {
            Err(StoreError::Record { .. }) if reinstall => None,
            read => read?,
        }
        .filter(|_| store.entry_path(&id).is_dir());
        if let Some(existing) = existing {
            if existing.blob == *sha256 && !reinstall {
                return Ok(Step::Done(Box::new(Installed::Already(existing))));
            }
            if existing.blob != *sha256 && !reinstall {
                return Err(StoreError::Conflict {
                    id,
                    installed: encode_hex(&existing.blob),
                    offered: encode_hex(sha256),
                });
            }
        }
        if let Some(slot) = self
            .staged
            .iter()
            .position(|staged| staged.record.id() == id)
        {
            // Two files of one `name@version` in one command: the same bytes twice are one
            // package; other bytes are refused, as they are from separate commands.
            let first = self.staged[slot].record.blob;
            if first != *sha256 {
                return Err(StoreError::Twice {
                    id,
                    first: encode_hex(&first),
                    second: encode_hex(sha256),
                });
            }
            return Ok(Step::SameAs(slot));
        }
        let tmp = store.layout.tmp_dir();
        // The tree itself: 0755 (less the umask), as extraction makes every directory.
        let staging = tempfile::Builder::new()
            .prefix("install-")
            .permissions(std::fs::Permissions::from_mode(0o755))
            .tempdir_in(&tmp)
            .map_err(io(&tmp))?
            .keep();
        let hooks = verified
            .metadata
            .pandora
            .as_ref()
            .map(|pandora| pandora.hooks.clone())
            .filter(|hooks| self.run_hooks && !hooks.is_empty());
        self.staged.push(Staged {
            staging: staging.clone(),
            record: Record {
                name,
                version,
                blob: *sha256,
                registry: provenance.registry.clone(),
                source: provenance.source.clone(),
                public_key: verified.public_key,
                installed_at: crate::registry::publish::now(),
                dependencies: verified
                    .metadata
                    .pandora
                    .clone()
                    .unwrap_or_default()
                    .dependencies,
                entries: Vec::new().into(),
                entry_points: Vec::new(),
            },
            writable: Vec::new(),
        });
        Ok(Step::Make(Box::new(Opened {
            package,
            verified,
            id,
            source: provenance.source.clone(),
            staging,
            slot: self.staged.len() - 1,
            hooks,
        })))
    }

    fn run_hooks_of(&mut self, opened: &Opened) -> Result<(), StoreError> {
        let Some(package_hooks) = &opened.hooks else {
            return Ok(());
        };
        if let Some(BeforeHooks(observer)) = &self.before_hooks {
            observer(&opened.id, package_hooks);
        }
        let messages = hooks::run(
            &opened.id,
            package_hooks,
            hooks::Phase::Install,
            &opened.staging,
            &self.store.entry_path(&opened.id),
        )?;
        self.messages.extend(
            messages
                .into_iter()
                .map(|message| (opened.id.clone(), message)),
        );
        Ok(())
    }
}

/// Extracts every slot into `staging/tree` and sets the attestation (SBOM, provenance) aside,
/// beside the record rather than in the tree a profile links: every package has one, under
/// the same name.
fn extract(opened: &Opened) -> Result<(), StoreError> {
    let tree = &opened.staging;
    let mut extraction = Extraction::new(Limits::default());
    for slot in &opened.verified.slots {
        extraction.extract_slot(&opened.package, slot, tree)?;
    }
    extraction.finish()?;
    let attestation = tree.join(crate::build::sbom::ATTESTATION);
    if fs_err::symlink_metadata(&attestation).is_ok_and(|metadata| metadata.is_file()) {
        let kept = beside(&opened.staging, ATTESTATION);
        fs_err::rename(&attestation, &kept).map_err(io(&attestation))?;
    }
    Ok(())
}

/// Writes the entry points and seals the tree (after its hooks, if it has any).
fn finish(layout: &crate::layout::Layout, opened: &Opened) -> Result<Made, StoreError> {
    let tree = &opened.staging;
    let prepared = entries::prepare(
        layout,
        &opened.verified.metadata,
        &opened.verified.public_key,
        &opened.id,
        tree,
        &opened.source,
    )?;
    if !prepared.records.is_empty() {
        entries::write(layout, &beside(tree, ENTRIES), &prepared.records)?;
    }
    Ok(Made {
        entries: seal(tree)?,
        entry_points: prepared.records.into_keys().collect(),
        writable: prepared.writable,
    })
}

/// What a staged package's tree comes with lies beside it in `tmp/`, under the tree's name and
/// a suffix: a package costs one staging directory, its tree, not a directory holding one.
pub(super) const ENTRIES: &str = "entries";
/// The package's SBOM and provenance, set aside from its tree.
pub(super) const ATTESTATION: &str = "attestation";
/// Entry points a reinstall without any replaced.
pub(super) const OLD_ENTRIES: &str = "old-entries";

/// `staging`'s companion `what` (one of the constants above).
pub(super) fn beside(staging: &Path, what: &str) -> PathBuf {
    let mut name = staging.as_os_str().to_owned();
    name.push(".");
    name.push(what);
    PathBuf::from(name)
}

/// Removes what is left of a staged package: its tree (or the old one it was exchanged with)
/// and its companions. The first failure is the error; the rest are still tried.
pub(super) fn remove_staged(staging: &Path) -> Result<(), StoreError> {
    let mut result = remove_tree(staging);
    for what in [ENTRIES, ATTESTATION, OLD_ENTRIES] {
        let removed = remove_tree(&beside(staging, what));
        if result.is_ok() {
            result = removed;
        }
    }
    result
}
