//! The store: `store/name@version/`, one verified, read-only tree per installed package, and
//! `blobs/`, the `.psp` files they came from, by SHA-256.
//!
//! An entry exists only complete and verified (DESIGN.md invariant 1): the package is verified,
//! extracted into `tmp/` with every slot hashed as it streams, made read-only, flushed with one
//! `syncfs`, recorded, and renamed into place. A crash leaves at most garbage in `tmp/`, which
//! the next operation sweeps under the store's lock.

mod record;

pub use record::{newest, Record, RecordedEntry};

use pandora_core::Sha256;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::format::extract::{Extraction, Limits};
use crate::format::metadata::encode_hex;
use crate::format::package::{Package, Scope};
use crate::format::FormatError;
use crate::fs::FileLock;
use crate::layout::Layout;
use pandora_core::id::{validate_name, validate_version};

/// What can go wrong in the store. After any of them, the store is as it was.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] pandora_core::IoError),
    /// The package fails verification.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A package whose name or version Pandora does not accept.
    #[error("{path}: {reason}")]
    Identity {
        /// The package.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The same `name@version` is installed from different bytes.
    #[error("{id} is installed from another package (sha256 {installed}); this one is {offered}")]
    Conflict {
        /// `name@version`.
        id: String,
        /// The installed blob's hash.
        installed: String,
        /// The offered blob's hash.
        offered: String,
    },
    /// Nothing of that name and version is installed.
    #[error("{id} is not installed")]
    NotInstalled {
        /// `name@version`.
        id: String,
    },
    /// An install record that does not parse.
    #[error("the install record {path} is damaged")]
    Record {
        /// The record.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: acl_parser::Error,
    },
}

impl pandora_core::Hint for StoreError {
    fn hint(&self) -> Option<String> {
        match self {
            StoreError::Conflict { .. } => Some("a version's contents never change; if you trust the new one, reinstall it explicitly".into()),
            _ => None,
        }
    }
}

/// Where a package came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The registry's name, if it came from one.
    pub registry: Option<String>,
    /// The URL or path it was read from.
    pub source: String,
}

/// The outcome of an install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// Newly written.
    New(Record),
    /// Already there, from the same blob.
    Already(Record),
}

/// The store of one Pandora home.
#[derive(Debug, Clone)]
pub struct Store {
    layout: Layout,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| {
        StoreError::Io(pandora_core::IoError {
            action: "access",
            path: path.to_path_buf(),
            source: source,
        })
    }
}

impl Store {
    /// The store under `layout`.
    pub fn new(layout: &Layout) -> Store {
        Store {
            layout: layout.clone(),
        }
    }

    fn lock(&self) -> Result<FileLock, StoreError> {
        let path = self.layout.store_lock();
        FileLock::acquire(&path).map_err(io(&path))
    }

    /// The directory of an installed `name@version`.
    pub fn entry_path(&self, id: &str) -> PathBuf {
        self.layout.store_dir().join(id)
    }

    /// Removes whatever crashed operations left in `tmp/`. Callers hold the store lock.
    fn sweep(&self) -> Result<(), StoreError> {
        let tmp = self.layout.tmp_dir();
        crate::fs::clear_directory(&tmp).map_err(io(&tmp))
    }

    /// Copies a `.psp` into `blobs/` under its SHA-256 (hashing as it copies) and returns the
    /// hash. A blob already there is not copied again.
    pub fn add_blob(&self, source: &Path) -> Result<Sha256, StoreError> {
        let blobs = self.layout.blobs_dir();
        fs_err::create_dir_all(&blobs).map_err(io(&blobs))?;
        let mut input = fs_err::File::open(source).map_err(io(source))?;
        let mut temporary = tempfile::Builder::new()
            .prefix(".blob-")
            .tempfile_in(&blobs)
            .map_err(io(&blobs))?;
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; 256 << 10];
        loop {
            let read = input.read(&mut buffer).map_err(io(source))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            std::io::Write::write_all(temporary.as_file_mut(), &buffer[..read])
                .map_err(io(temporary.path()))?;
        }
        let sha256: Sha256 = hasher.finalize().into();
        let target = blobs.join(encode_hex(&sha256));
        if !target.exists() {
            temporary.as_file().sync_all().map_err(io(&target))?;
            temporary.persist(&target).map_err(|error| {
                StoreError::Io(pandora_core::IoError {
                    action: "access",
                    path: target.clone(),
                    source: error.error,
                })
            })?;
            crate::fs::sync_directory(&blobs).map_err(io(&blobs))?;
        }
        Ok(sha256)
    }

    /// The path of a blob.
    pub fn blob_path(&self, sha256: &Sha256) -> PathBuf {
        self.layout.blobs_dir().join(encode_hex(sha256))
    }

    /// Installs the blob `sha256` as `store/name@version` (a transaction of one). The same
    /// `name@version` from other bytes is refused unless `reinstall`.
    pub fn install(
        &self,
        sha256: &Sha256,
        provenance: &Provenance,
        reinstall: bool,
    ) -> Result<Installed, StoreError> {
        let mut transaction = self.begin()?;
        let outcome = transaction.stage(sha256, provenance, reinstall)?;
        transaction.commit()?;
        Ok(outcome)
    }

    /// Starts a transaction: holds the store's lock, sweeps leftovers, and lets several packages
    /// be staged and then committed together, so an install lands whole or not at all.
    pub fn begin(&self) -> Result<Transaction<'_>, StoreError> {
        let lock = self.lock()?;
        self.sweep()?;
        let tmp = self.layout.tmp_dir();
        fs_err::create_dir_all(&tmp).map_err(io(&tmp))?;
        Ok(Transaction {
            store: self,
            _lock: lock,
            staged: Vec::new(),
        })
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.layout.records_dir().join(format!("{id}.acl"))
    }

    /// The record of `name@version`, if installed.
    pub fn record(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let path = self.record_path(id);
        match fs_err::read_to_string(&path) {
            Ok(text) => Record::parse(&path.display().to_string(), &text)
                .map(Some)
                .map_err(|source| StoreError::Record { path, source }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io(pandora_core::IoError {
                action: "access",
                path: path,
                source: source,
            })),
        }
    }

    /// Every installed package's record, sorted by `name@version`.
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        let directory = self.layout.records_dir();
        let mut ids: Vec<String> = match fs_err::read_dir(&directory) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|entry| {
                    entry
                        .file_name()
                        .to_str()
                        .and_then(|name| name.strip_suffix(".acl"))
                        .map(str::to_string)
                })
                .collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(StoreError::Io(pandora_core::IoError {
                    action: "access",
                    path: directory,
                    source: source,
                }))
            }
        };
        ids.sort();
        let mut records = Vec::new();
        for id in ids {
            if let Some(record) = self.record(&id)? {
                if self.entry_path(&id).is_dir() {
                    records.push(record);
                }
            }
        }
        Ok(records)
    }

    /// Re-hashes an installed tree against its record; returns every difference (none: intact).
    pub fn verify(&self, record: &Record) -> Result<Vec<String>, StoreError> {
        let root = self.entry_path(&record.id());
        let actual = walk_tree(&root, false)?;
        let mut differences = Vec::new();
        let expected: std::collections::BTreeMap<&str, &RecordedEntry> = record
            .entries
            .iter()
            .map(|entry| (entry.path(), entry))
            .collect();
        let found: std::collections::BTreeMap<&str, &RecordedEntry> =
            actual.iter().map(|entry| (entry.path(), entry)).collect();
        for (path, entry) in &expected {
            match found.get(path) {
                None => differences.push(format!("{path}: missing")),
                Some(actual) if actual != entry => differences.push(match (entry, actual) {
                    (
                        RecordedEntry::File { sha256: a, .. },
                        RecordedEntry::File { sha256: b, .. },
                    ) if a != b => format!("{path}: content changed"),
                    (RecordedEntry::File { mode: a, .. }, RecordedEntry::File { mode: b, .. }) => {
                        format!("{path}: mode {b:04o}, recorded {a:04o}")
                    }
                    _ => format!("{path}: changed"),
                }),
                Some(_) => {}
            }
        }
        for path in found.keys().filter(|path| !expected.contains_key(*path)) {
            differences.push(format!("{path}: not part of the package"));
        }
        Ok(differences)
    }

    /// Removes an installed package: its tree leaves `store/` in one rename, then its record goes.
    pub fn remove(&self, id: &str) -> Result<Record, StoreError> {
        let _lock = self.lock()?;
        self.remove_locked(id)
    }

    fn remove_locked(&self, id: &str) -> Result<Record, StoreError> {
        let record = self
            .record(id)?
            .ok_or_else(|| StoreError::NotInstalled { id: id.to_string() })?;
        let entry = self.entry_path(id);
        let tmp = self.layout.tmp_dir();
        fs_err::create_dir_all(&tmp).map_err(io(&tmp))?;
        let trash = tmp.join(format!("removed-{id}-{}", std::process::id()));
        if entry.symlink_metadata().is_ok() {
            fs_err::rename(&entry, &trash).map_err(io(&entry))?;
        }
        let record_path = self.record_path(id);
        fs_err::remove_file(&record_path).map_err(io(&record_path))?;
        remove_tree(&trash)?;
        Ok(record)
    }

    /// Finds every installed package that is not in `roots()` nor a dependency of one, shows
    /// each (id and store entry) to `each`, then removes it unless `dry_run`. `roots` is
    /// evaluated under the store's lock, which profile changes also take, so no package can
    /// become a root between the decision and the removal.
    pub fn collect<E: From<StoreError>>(
        &self,
        roots: impl FnOnce() -> Result<std::collections::BTreeSet<String>, E>,
        dry_run: bool,
        mut each: impl FnMut(&str, &Path),
    ) -> Result<(), E> {
        let _lock = self.lock()?;
        let records: std::collections::BTreeMap<String, Record> = self
            .records()?
            .into_iter()
            .map(|record| (record.id(), record))
            .collect();
        let mut live = roots()?;
        let mut pending: Vec<String> = live.iter().cloned().collect();
        while let Some(id) = pending.pop() {
            for pin in records.get(&id).map_or(&[][..], |r| &r.dependencies) {
                if live.insert(pin.clone()) {
                    pending.push(pin.clone());
                }
            }
        }
        for id in records.keys().filter(|id| !live.contains(*id)) {
            each(id, &self.entry_path(id));
            if !dry_run {
                self.remove_locked(id)?;
            }
        }
        Ok(())
    }

    /// What nothing references: directories in `store/` without an install record (a crash
    /// between writing one and the other) and leftovers in `tmp/`.
    pub fn orphans(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut orphans = Vec::new();
        if let Ok(entries) = fs_err::read_dir(self.layout.store_dir()) {
            for entry in entries.flatten() {
                let id = entry.file_name().to_string_lossy().into_owned();
                if self.record(&id)?.is_none() {
                    orphans.push(entry.path());
                }
            }
        }
        if let Ok(entries) = fs_err::read_dir(self.layout.tmp_dir()) {
            orphans.extend(entries.flatten().map(|entry| entry.path()));
        }
        orphans.sort();
        Ok(orphans)
    }

    /// Deletes an orphan (see [`Store::orphans`]) under the store's lock.
    pub fn remove_orphan(&self, path: &Path) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        remove_tree(path)
    }

    /// Shows each blob no installed package was installed from to `each` (path and size),
    /// then deletes it unless `dry_run`. Decided and done under the store's lock, so a blob an
    /// install is about to stage is never taken from under it.
    pub fn remove_unreferenced_blobs(
        &self,
        dry_run: bool,
        mut each: impl FnMut(&Path, u64),
    ) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let unreferenced = self.unreferenced_blobs()?;
        for path in unreferenced {
            each(
                &path,
                fs_err::symlink_metadata(&path).map_or(0, |m| m.len()),
            );
            if !dry_run {
                remove_tree(&path)?;
            }
        }
        Ok(())
    }

    /// Blobs no installed package was installed from.
    pub fn unreferenced_blobs(&self) -> Result<Vec<PathBuf>, StoreError> {
        let referenced: std::collections::HashSet<String> = self
            .records()?
            .iter()
            .map(|record| encode_hex(&record.blob))
            .collect();
        let blobs = self.layout.blobs_dir();
        let Ok(entries) = fs_err::read_dir(&blobs) else {
            return Ok(Vec::new());
        };
        let mut unreferenced: Vec<PathBuf> = entries
            .flatten()
            .filter(|entry| !referenced.contains(&entry.file_name().to_string_lossy().into_owned()))
            .map(|entry| entry.path())
            .collect();
        unreferenced.sort();
        Ok(unreferenced)
    }
}

/// Packages verified, extracted and sealed in `tmp/`, waiting to be committed together. Dropped
/// without a commit, it removes what it staged and the store is as it was.
#[derive(Debug)]
pub struct Transaction<'s> {
    store: &'s Store,
    _lock: FileLock,
    staged: Vec<Staged>,
}

#[derive(Debug)]
struct Staged {
    staging: PathBuf,
    record: Record,
}

impl Transaction<'_> {
    /// Verifies the blob `sha256` and extracts it into `tmp/` (every slot hashed as it streams),
    /// sealed read-only. Nothing in `store/` changes until [`Transaction::commit`].
    pub fn stage(
        &mut self,
        sha256: &Sha256,
        provenance: &Provenance,
        reinstall: bool,
    ) -> Result<Installed, StoreError> {
        let store = self.store;
        let blob = store.blob_path(sha256);
        let package = Package::open(&blob)?;
        let verified = package.verified(Scope::Structure)?;
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
        if let Some(existing) = store.record(&id)? {
            if existing.blob == *sha256 && store.entry_path(&id).is_dir() && !reinstall {
                return Ok(Installed::Already(existing));
            }
            if existing.blob != *sha256 && !reinstall {
                return Err(StoreError::Conflict {
                    id,
                    installed: encode_hex(&existing.blob),
                    offered: encode_hex(sha256),
                });
            }
        }
        if let Some(already) = self.staged.iter().find(|staged| staged.record.id() == id) {
            return Ok(Installed::New(already.record.clone()));
        }
        let tmp = store.layout.tmp_dir();
        let staging = tempfile::Builder::new()
            .prefix("install-")
            .tempdir_in(&tmp)
            .map_err(io(&tmp))?
            .keep();
        // Registered before anything can fail, so a drop cleans it up.
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
                entries: Vec::new(),
            },
        });
        let tree = staging.join("tree");
        fs_err::create_dir(&tree).map_err(io(&tree))?;
        let mut extraction = Extraction::new(Limits::default());
        for slot in &verified.slots {
            extraction.extract_slot(&package, slot, &tree)?;
        }
        extraction.finish()?;
        let entries = seal(&tree)?;
        let staged = self
            .staged
            .last_mut()
            .ok_or_else(|| StoreError::NotInstalled { id: id.clone() })?;
        staged.record.entries = entries;
        Ok(Installed::New(staged.record.clone()))
    }

    /// Makes every staged package durable with one `syncfs`, writes their records, renames them
    /// into `store/`, and syncs again.
    pub fn commit(mut self) -> Result<Vec<Record>, StoreError> {
        let store = self.store;
        let tmp = store.layout.tmp_dir();
        syncfs(&tmp)?;
        let records_dir = store.layout.records_dir();
        let store_dir = store.layout.store_dir();
        fs_err::create_dir_all(&records_dir).map_err(io(&records_dir))?;
        fs_err::create_dir_all(&store_dir).map_err(io(&store_dir))?;
        let mut committed = Vec::new();
        for staged in std::mem::take(&mut self.staged) {
            let id = staged.record.id();
            // The record first: a crash before the rename leaves a record without an entry
            // (ignored, rewritten by the next install) or an entry without one (`prune` frees it).
            let record_path = store.record_path(&id);
            crate::fs::write_atomic(&record_path, staged.record.to_acl().as_bytes())
                .map_err(io(&record_path))?;
            let entry = store.entry_path(&id);
            if entry.symlink_metadata().is_ok() {
                fs_err::rename(&entry, staged.staging.join("replaced")).map_err(io(&entry))?;
            }
            fs_err::rename(staged.staging.join("tree"), &entry).map_err(io(&entry))?;
            remove_tree(&staged.staging)?;
            committed.push(staged.record);
        }
        syncfs(&store_dir)?;
        Ok(committed)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        for staged in &self.staged {
            let _ = remove_tree(&staged.staging);
        }
    }
}

fn syncfs(path: &Path) -> Result<(), StoreError> {
    crate::fs::syncfs(path).map_err(io(path))
}

/// Lists a tree (files hashed) and, when `seal` is set, makes it read-only: files lose their
/// write bits, directories become 0555 (deepest first, so they can still be changed on the way).
fn walk_tree(root: &Path, seal: bool) -> Result<Vec<RecordedEntry>, StoreError> {
    let mut entries = Vec::new();
    for item in walkdir::WalkDir::new(root)
        .min_depth(1)
        .contents_first(true)
        .sort_by_file_name()
    {
        let item = item.map_err(|error| {
            StoreError::Io(pandora_core::IoError {
                action: "access",
                path: error.path().unwrap_or(root).to_path_buf(),
                source: error
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
            })
        })?;
        let path = item.path();
        let relative = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        let file_type = item.file_type();
        if file_type.is_symlink() {
            let target = fs_err::read_link(path).map_err(io(path))?;
            entries.push(RecordedEntry::Link {
                path: relative,
                target: target.to_string_lossy().into_owned(),
            });
        } else if file_type.is_dir() {
            if seal {
                fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o555))
                    .map_err(io(path))?;
            }
            entries.push(RecordedEntry::Directory { path: relative });
        } else {
            let mut mode = item
                .metadata()
                .map_err(|error| {
                    StoreError::Io(pandora_core::IoError {
                        action: "access",
                        path: path.to_path_buf(),
                        source: error.into(),
                    })
                })?
                .permissions()
                .mode()
                & 0o7777;
            if seal {
                mode &= !0o222;
                fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(io(path))?;
            }
            let mut hasher = sha2::Sha256::new();
            std::io::copy(
                &mut fs_err::File::open(path).map_err(io(path))?,
                &mut hasher,
            )
            .map_err(io(path))?;
            entries.push(RecordedEntry::File {
                path: relative,
                sha256: hasher.finalize().into(),
                mode,
            });
        }
    }
    entries.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(entries)
}

fn seal(root: &Path) -> Result<Vec<RecordedEntry>, StoreError> {
    walk_tree(root, true)
}

/// Deletes a tree, read-only directories included.
fn remove_tree(path: &Path) -> Result<(), StoreError> {
    crate::fs::remove_tree(path).map_err(io(path))
}
