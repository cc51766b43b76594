//! The store: `store/name@version/`, one verified, read-only tree per installed package, and
//! `blobs/`, the `.psp` files they came from, by SHA-256.
//!
//! An entry exists only complete and verified, and its record describes exactly it (DESIGN.md
//! invariant 1): the package is verified, extracted into `tmp/` with every slot hashed as it
//! streams, made read-only. Then, per package, a commit in three steps, each a rename (a batch
//! takes each step for all its packages at once, with one flush after each step; the last
//! flush is shared with the activation that follows, see [`Transaction::commit`]):
//!
//! 1. the new record is written beside the current one as `records/<id>.acl.next`, naming the
//!    staged tree it describes (its device and inode);
//! 2. the staged tree takes the name `store/<id>`: exchanged with the old tree in one
//!    `renameat2(RENAME_EXCHANGE)` when there is one, so the old tree stays live until that
//!    instant (where a filesystem cannot exchange, the old tree steps aside as
//!    `store/.<id>.replaced` first);
//! 3. `<id>.acl.next` becomes `<id>.acl`.
//!
//! Between 1 and 3 a reader takes `<id>.acl.next` as the record exactly when the tree at
//! `store/<id>` is the one it names, so the record it sees always describes the tree it sees; a
//! crash leaves that state, which the next holder of the store's lock finishes (3) or undoes
//! (deletes the `.next`, puts an old tree that stepped aside back), and garbage in `tmp/`,
//! which it sweeps.

mod entries;
pub mod hooks;
mod record;
mod stage;
pub use stage::Blob;

pub use record::{newest, Record, RecordedEntry};

use pandora_core::Sha256;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::format::metadata::encode_hex;
use crate::format::package::Scope;
use crate::format::FormatError;
use crate::fs::FileLock;
use crate::layout::Layout;
use crate::registry::download::{blob_is_intact, file_sha256, BlobLock};

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
    /// One command offers two different packages of the same `name@version`.
    #[error("{id} is given twice, from different packages (sha256 {first} and {second}); nothing was installed: give one of them")]
    Twice {
        /// `name@version`.
        id: String,
        /// The first package's hash.
        first: String,
        /// The second package's hash.
        second: String,
    },
    /// Nothing of that name and version is installed.
    #[error("{id} is not installed")]
    NotInstalled {
        /// `name@version`.
        id: String,
    },
    /// A hook failed: the install (or removal) did not happen.
    #[error("a hook of {id} failed: `{command}` {ending}; nothing was changed")]
    Hook {
        /// `name@version`.
        id: String,
        /// The hook's command line.
        command: String,
        /// How it ended.
        ending: crate::sandbox::Ending,
    },
    /// An install hook left the tree with something extraction would have refused.
    #[error("a hook of {id} (`{command}`) left {path}: {reason}; nothing was installed")]
    HookTree {
        /// `name@version`.
        id: String,
        /// The hook's command line.
        command: String,
        /// The offending entry, under the package's tree.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The sandbox for a package's hooks could not be made.
    #[error("cannot run the hooks of {id}")]
    HookSandbox {
        /// `name@version`.
        id: String,
        /// Why.
        #[source]
        source: crate::sandbox::SandboxError,
    },
    /// An install record that cannot be read as one: not a regular file, not text, or not a
    /// record.
    #[error("the install record {path} is damaged")]
    Record {
        /// The `name@version` it records.
        id: String,
        /// The record.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Pandora's home or its records directory is one another user could change.
    #[error("{path} {reason}, so another user could change what Pandora believes is installed; nothing was read from it")]
    RecordsDirectory {
        /// The directory.
        path: PathBuf,
        /// Who else could write it.
        reason: String,
    },
}

impl pandora_core::Hint for StoreError {
    fn hint(&self) -> Option<String> {
        match self {
            StoreError::Conflict { .. } => Some("a version's contents never change; if you trust the new one, reinstall it explicitly".into()),
            StoreError::HookTree { .. } => Some("a package's files may hold only files, directories and links that stay inside it; the hook is broken or hostile: report it to the package's author, or pass --no-hooks to install without its hooks".into()),
            StoreError::Hook { .. } => Some("its output is above; --no-hooks skips a package's hooks (if you trust it to work without them)".into()),
            StoreError::HookSandbox { source, .. } => Some(format!(
                "{}; or pass --no-hooks to skip the package's hooks",
                pandora_core::Hint::hint(source).unwrap_or_default()
            )),
            StoreError::RecordsDirectory { path, .. } => Some(format!(
                "if it is yours and only its mode is wrong, `chmod go-w {0}` (then `pandora verify --all`); if another user owns it, move it away (`mv {0} {0}.suspect`) and install again what you need",
                path.display()
            )),
            StoreError::Record { id, .. } => Some(format!(
                "Pandora wrote it, so the disk or someone else changed it; `pandora install --reinstall {id}` (or its .psp file) installs {id} again over it, and `pandora remove {id}` removes {id} (with --force when installed packages need it)"
            )),
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
            source,
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

    /// Makes the home's copy of the launcher that entry points run as, if it is not there yet:
    /// work an install can do while its downloads arrive, without the store's lock (the copy
    /// is checked for again, under the lock, when entry points are staged).
    pub fn prepare_entry_points(&self) -> Result<(), StoreError> {
        entries::home_launcher(&self.layout).map(|_| ())
    }

    /// Removes whatever crashed operations left in `tmp/`. Callers hold the store lock.
    fn sweep(&self) -> Result<(), StoreError> {
        let tmp = self.layout.tmp_dir();
        crate::fs::clear_directory(&tmp).map_err(io(&tmp))
    }

    /// Copies a `.psp` into `blobs/` under its SHA-256 and returns the hash. The file is hashed
    /// first, then, holding that blob's [`BlobLock`], copied to `<sha>.partial` and hashed again
    /// as it is written, and renamed to its name only if the copy is what was hashed. A blob
    /// already there is kept if it hashes to its name, and replaced if it does not.
    pub fn add_blob(&self, source: &Path) -> Result<Sha256, StoreError> {
        let blobs = self.layout.blobs_dir();
        fs_err::create_dir_all(&blobs).map_err(io(&blobs))?;
        let sha256: [u8; 32] = file_sha256(source).map_err(io(source))?;
        let name = encode_hex(&sha256);
        let target = blobs.join(&name);
        let _claim = BlobLock::acquire(&blobs, &name).map_err(io(&blobs))?;
        if blob_is_intact(&target, &sha256) {
            return Ok(sha256.into());
        }
        let partial = blobs.join(format!("{name}.partial"));
        // A download's leftovers of this blob are of no more use.
        let _ = fs_err::remove_file(blobs.join(format!("{name}.partial.validator")));
        let copied = (|| -> std::io::Result<[u8; 32]> {
            let mut input = fs_err::File::open(source)?;
            let mut output = fs_err::File::create(&partial)?;
            let mut hasher = sha2::Sha256::new();
            let mut buffer = vec![0u8; 256 << 10];
            loop {
                let read = input.read(&mut buffer)?;
                if read == 0 {
                    break;
                }
                hasher.update(&buffer[..read]);
                std::io::Write::write_all(&mut output, &buffer[..read])?;
            }
            output.sync_all()?;
            Ok(hasher.finalize().into())
        })();
        let copied = match copied {
            Ok(copied) => copied,
            Err(source) => {
                let _ = fs_err::remove_file(&partial);
                return Err(io(&partial)(source));
            }
        };
        if copied != sha256 {
            let _ = fs_err::remove_file(&partial);
            return Err(io(source)(std::io::Error::other(
                "the file changed while it was being copied; try again",
            )));
        }
        fs_err::rename(&partial, &target).map_err(io(&target))?;
        crate::fs::sync_directory(&blobs).map_err(io(&blobs))?;
        Ok(sha256.into())
    }

    /// Whether `blobs/` holds the blob `sha256` with the bytes its name promises (it is read
    /// and hashed). A damaged blob is not there: fetching it again replaces it.
    pub fn has_blob(&self, sha256: &Sha256) -> bool {
        blob_is_intact(&self.blob_path(sha256), sha256.bytes())
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
        self.recover()?;
        self.sweep()?;
        let tmp = self.layout.tmp_dir();
        fs_err::create_dir_all(&tmp).map_err(io(&tmp))?;
        Ok(Transaction {
            store: self,
            _lock: lock,
            staged: Vec::new(),
            run_hooks: true,
            before_hooks: None,
            messages: Vec::new(),
        })
    }

    /// Where an installed package's attestation (its SBOM and provenance, as its package
    /// carried them) is kept: beside its install record.
    pub fn attestation_path(&self, id: &str) -> PathBuf {
        self.layout
            .records_dir()
            .join(format!("{id}.attestation.json"))
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.layout.records_dir().join(format!("{id}.acl"))
    }

    /// Where the record of a commit in progress waits (see the module's documentation).
    fn pending_path(&self, id: &str) -> PathBuf {
        self.layout.records_dir().join(format!("{id}.acl.next"))
    }

    /// Where an old tree steps aside when the filesystem cannot exchange two names.
    fn aside_path(&self, id: &str) -> PathBuf {
        self.layout.store_dir().join(format!(".{id}.replaced"))
    }

    /// Whether Pandora's home and its records directory are ones only this user can change
    /// (as ssh checks `~/.ssh`): a record file is checked as it is read, but whoever may write
    /// the directory can rename records over one another, take them away or add some, and
    /// whoever may write the home can swap `vir`, the store or `records/` itself. Another
    /// user's, or writable by every user (sticky or not), is refused; group-writable is
    /// allowed, as `umask 002` with a group of one's own made it before Pandora masked it.
    /// Checked once per process.
    fn believe_records_directory(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::MetadataExt;
        static BELIEVED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
        let records = self.layout.records_dir();
        let mut believed = BELIEVED.lock().unwrap_or_else(|poison| poison.into_inner());
        if believed.contains(&records) {
            return Ok(());
        }
        let me = nix::unistd::geteuid().as_raw();
        for directory in [self.layout.root(), records.as_path()] {
            let Ok(metadata) = fs_err::metadata(directory) else {
                // Nothing installed yet; or an error the read that follows names.
                continue;
            };
            let reason = if metadata.uid() != me {
                format!("belongs to user {}, not to user {me}", metadata.uid())
            } else if metadata.mode() & 0o002 != 0 {
                format!(
                    "can be written by every user (mode {:04o})",
                    metadata.mode() & 0o7777
                )
            } else {
                continue;
            };
            return Err(StoreError::RecordsDirectory {
                path: directory.to_path_buf(),
                reason,
            });
        }
        believed.push(records);
        Ok(())
    }

    fn read_record(path: &Path) -> Result<Option<Record>, StoreError> {
        use std::os::unix::fs::MetadataExt;
        let failed = |source| {
            StoreError::Io(pandora_core::IoError {
                action: "access",
                path: path.to_path_buf(),
                source,
            })
        };
        let damaged = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Record {
            id: record_id(path),
            path: path.to_path_buf(),
            source,
        };
        // A summary made from the file now at `path` names its stamp, so a stat is enough.
        let stamp = match fs_err::symlink_metadata(path) {
            // Pandora writes records as files: a link, even to one, is damage (dangling, it
            // made the package look not installed, and its tree an orphan to prune).
            Ok(metadata) if metadata.is_symlink() => {
                return Err(damaged(
                    format!("{} is a symbolic link, not a regular file", path.display()).into(),
                ))
            }
            // Another user who can write it can say what the package is: not a record to
            // trust (Pandora writes them 0600).
            Ok(metadata) if writable_by_others(&metadata) => {
                return Err(damaged(
                    format!(
                        "{} can be written by other users (mode {:o}, owner {})",
                        path.display(),
                        metadata.mode() & 0o7777,
                        metadata.uid()
                    )
                    .into(),
                ))
            }
            Ok(metadata) => record::summary::Stamp::of(&metadata),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(failed(source)),
        };
        let summary_path = Store::summary_path(path);
        if let Some(record) = read_summary(&summary_path, stamp)
            .and_then(|bytes| record::summary::decode(&bytes, stamp))
        {
            remember_read(path, stamp, &record);
            return Ok(Some(record));
        }
        // Not a regular file, too large, or not text: damage, as a record that does not parse.
        let not_a_record = |error: &std::io::Error| {
            matches!(
                error.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
            )
        };
        let (file, _) = match crate::fs::open_regular(path, RECORD_LIMIT) {
            Ok(opened) => opened,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) if not_a_record(&error) => return Err(damaged(error.into())),
            Err(source) => return Err(failed(source)),
        };
        // The stamp of the very file read, so a summary made from it names what was read.
        let stamp = record::summary::Stamp::of(&file.metadata().map_err(failed)?);
        let mut text = String::new();
        file.take(RECORD_LIMIT)
            .read_to_string(&mut text)
            .map_err(|error| match not_a_record(&error) {
                true => damaged(error.into()),
                false => failed(error),
            })?;
        let record = Record::parse(&path.display().to_string(), &text)
            .map_err(|source| damaged(source.into()))?;
        // Made now for a record without one (written before summaries, or its summary stale or
        // damaged); best effort: a read-only home still reads the ACL record.
        let _ = crate::fs::write_unsynced(&summary_path, &record::summary::encode(&record, stamp));
        remember_read(path, stamp, &record);
        Ok(Some(record))
    }

    /// The compact summary beside the ACL record at `record_path`.
    fn summary_path(record_path: &Path) -> PathBuf {
        record_path.with_extension("summary")
    }

    /// The record of a commit in progress and the tree it names, if there is one that parses.
    fn pending(&self, id: &str) -> Option<(Record, String)> {
        let path = self.pending_path(id);
        let bytes = crate::fs::read_regular(&path, RECORD_LIMIT).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let name = path.display().to_string();
        let record = Record::parse(&name, &text).ok()?;
        let tree = record::pending_tree(&name, &text)?;
        Some((record, tree))
    }

    /// The record of `name@version`, if installed: the one describing the tree now at
    /// `store/name@version`, even while a commit is (or was, before a crash) between its steps.
    pub fn record(&self, id: &str) -> Result<Option<Record>, StoreError> {
        // Read by this process already, and its file unchanged: as it was then (a commit in
        // progress elsewhere since is seen by the next process, as by one that read it first).
        let path = self.record_path(id);
        if let Some(record) = remembered(&path) {
            return Ok(Some(record));
        }
        self.believe_records_directory()?;
        if let Some((record, tree)) = self.pending(id) {
            if tree_id(&self.entry_path(id)).as_deref() == Some(tree.as_str()) {
                return Ok(Some(record));
            }
        }
        Store::read_record(&path)
    }

    /// Every installed package's record, sorted by `name@version`; the first damaged record is
    /// an error.
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        let (records, damaged) = self.readable_records()?;
        match damaged.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(records),
        }
    }

    /// [`Store::records`] read past damaged records: the records that read, and the
    /// [`StoreError::Record`] of each that did not, so that what does not need a damaged
    /// record goes on (and says which it passed over).
    pub fn readable_records(&self) -> Result<(Vec<Record>, Vec<StoreError>), StoreError> {
        let directory = self.layout.records_dir();
        self.believe_records_directory()?;
        let mut ids: Vec<String> = match fs_err::read_dir(&directory) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().to_str()?.to_string();
                    let id = name
                        .strip_suffix(".acl")
                        .or_else(|| name.strip_suffix(".acl.next"))?;
                    (!id.starts_with('.')).then(|| id.to_string())
                })
                .collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(StoreError::Io(pandora_core::IoError {
                    action: "access",
                    path: directory,
                    source,
                }))
            }
        };
        ids.sort();
        ids.dedup();
        let (mut records, mut damaged) = (Vec::new(), Vec::new());
        for id in ids {
            match self.record(&id) {
                Ok(Some(record)) if self.entry_path(&id).is_dir() => records.push(record),
                Ok(_) => {}
                Err(error @ StoreError::Record { .. }) => damaged.push(error),
                Err(error) => return Err(error),
            }
        }
        Ok((records, damaged))
    }

    /// Finishes or undoes what a crash left between a commit's steps (see the module's
    /// documentation). Callers hold the store's lock.
    fn recover(&self) -> Result<(), StoreError> {
        let records = self.layout.records_dir();
        if let Ok(entries) = fs_err::read_dir(&records) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                // A summary (or record) write killed before its rename: garbage.
                if name.starts_with(".pandora-tmp-") {
                    let _ = fs_err::remove_file(entry.path());
                    continue;
                }
                let Some(id) = name.strip_suffix(".acl.next") else {
                    continue;
                };
                let pending = entry.path();
                let entry_path = self.entry_path(id);
                let in_place = self.pending(id).is_some_and(|(_, tree)| {
                    tree_id(&entry_path).as_deref() == Some(tree.as_str())
                });
                if in_place {
                    let record = self.record_path(id);
                    replace_record(&pending, &record)?;
                    forget_read(&record);
                } else {
                    // Garbage of a commit that never finished, whatever it is (a directory too).
                    remove_record(&pending)?;
                }
            }
            crate::fs::sync_directory(&records).map_err(io(&records))?;
        }
        // Old trees (and entry-point directories) that stepped aside: back where they were if
        // the new one never arrived.
        for directory in [self.layout.store_dir(), self.layout.entries_dir()] {
            let Ok(entries) = fs_err::read_dir(&directory) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(id) = name
                    .strip_prefix('.')
                    .and_then(|name| name.strip_suffix(".replaced"))
                else {
                    continue;
                };
                let aside = entry.path();
                let entry_path = directory.join(id);
                if entry_path.symlink_metadata().is_err() {
                    fs_err::rename(&aside, &entry_path).map_err(io(&entry_path))?;
                } else {
                    remove_tree(&aside)?;
                }
            }
        }
        Ok(())
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
        differences.extend(entries::check_programs(&self.layout, &record.id())?);
        differences.extend(self.check_entry_records(record)?);
        Ok(differences)
    }

    /// Removes an installed package: its tree leaves `store/` in one rename, then its record
    /// goes. Returns the record, unless it was damaged (a package whose record is damaged can
    /// still be removed), and what was rescued from the tree (see [`Store::rescue_foreign`]).
    pub fn remove(&self, id: &str) -> Result<(Option<Record>, Vec<String>), StoreError> {
        let _lock = self.lock()?;
        self.recover()?;
        self.remove_locked(id)
    }

    /// Runs an installed package's `pre_remove` hooks (its tree read-only), before anything
    /// about its removal changes; returns their `warn` messages. A failing hook is an error.
    pub fn run_remove_hooks(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let _lock = self.lock()?;
        let record = match self.record(id) {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(Vec::new()),
            // Which hooks it has is in the package its record names.
            Err(StoreError::Record { .. }) => {
                return Ok(vec![
                    "its install record is damaged, so its pre-remove hooks, if it has any, were not run".into(),
                ])
            }
            Err(error) => return Err(error),
        };
        let package_hooks = self.hooks_of(&record)?;
        if package_hooks.pre_remove.is_empty() {
            return Ok(Vec::new());
        }
        let entry = self.entry_path(id);
        hooks::run(id, &package_hooks, hooks::Phase::Remove, &entry, &entry)
    }

    /// The hooks an installed package's signed metadata declares (none when its blob is gone).
    pub fn hooks_of(&self, record: &Record) -> Result<crate::format::metadata::Hooks, StoreError> {
        Ok(self
            .pandora_info_of(record)?
            .map(|pandora| pandora.hooks)
            .unwrap_or_default())
    }

    /// What is wrong with the records of `record`'s entry points (`entries/ID/.NAME.entry`),
    /// which say what `~/bin/NAME` runs: each must be what the package's signed metadata
    /// makes of it. Not checked when the package's file is no longer in `blobs/`.
    fn check_entry_records(&self, record: &Record) -> Result<Vec<String>, StoreError> {
        let blob = self.blob_path(&record.blob);
        if !blob.is_file() {
            return Ok(Vec::new());
        }
        let package = crate::registry::launchers::open_blob(&blob)?;
        let verified = package.verified(Scope::Structure)?;
        let expected: std::collections::BTreeMap<String, crate::launcher::LaunchPlan> =
            crate::launcher::LaunchPlan::entry_points(&verified.metadata, &verified.public_key)
                .into_iter()
                .collect();
        Ok(entries::check_records(
            &self.layout,
            &record.id(),
            &expected,
        ))
    }

    /// The signed `pandora` metadata of an installed package (`None` when its blob is gone).
    pub fn pandora_info_of(
        &self,
        record: &Record,
    ) -> Result<Option<crate::format::metadata::PandoraInfo>, StoreError> {
        let blob = self.blob_path(&record.blob);
        if !blob.is_file() {
            return Ok(None);
        }
        let package = crate::registry::launchers::open_blob(&blob)?;
        let verified = package.verified(Scope::Structure)?;
        Ok(verified.metadata.pandora)
    }

    fn remove_locked(&self, id: &str) -> Result<(Option<Record>, Vec<String>), StoreError> {
        let record = match self.record(id) {
            Ok(Some(record)) => Some(record),
            Ok(None) => return Err(StoreError::NotInstalled { id: id.to_string() }),
            Err(StoreError::Record { .. }) => None,
            Err(error) => return Err(error),
        };
        let entry = self.entry_path(id);
        let tmp = self.layout.tmp_dir();
        fs_err::create_dir_all(&tmp).map_err(io(&tmp))?;
        let trash = tmp.join(format!("removed-{id}-{}", std::process::id()));
        if entry.symlink_metadata().is_ok() {
            fs_err::rename(&entry, &trash).map_err(io(&entry))?;
        }
        let entries_trash = tmp.join(format!("removed-entries-{id}-{}", std::process::id()));
        self.swap_entries(id, None, &entries_trash)?;
        let _ = remove_tree(&entries_trash);
        let record_path = self.record_path(id);
        remove_record(&record_path)?;
        forget_read(&record_path);
        let _ = remove_record(&self.attestation_path(id));
        // Stale without its record either way; removed so nothing is left behind.
        let _ = fs_err::remove_file(Store::summary_path(&record_path));
        let rescued = match &record {
            Some(record) => self.rescue_foreign(record, &trash)?,
            None => Vec::new(),
        };
        // The package is gone from the store now; the tree left in tmp/ is only garbage, which
        // the next command holding this lock sweeps (and `prune` lists). Failing to delete it
        // must not report a removal that took effect as a failure.
        let _ = remove_tree(&trash);
        Ok((record, rescued))
    }

    /// Moves what is in `tree` (a package's tree on its way out) but not in its record to
    /// `rescue/`: as root, a file saved through a folded link (`~/share/PKG/notes`) lands in
    /// the store tree itself. Returns one line per rescue, for a warning.
    fn rescue_foreign(&self, record: &Record, tree: &Path) -> Result<Vec<String>, StoreError> {
        let expected: std::collections::HashSet<&str> =
            record.entries.iter().map(RecordedEntry::path).collect();
        let mut foreign = Vec::new();
        let mut walk = walkdir::WalkDir::new(tree).min_depth(1).into_iter();
        while let Some(item) = walk.next() {
            let Ok(item) = item else { continue };
            let relative = item.path().strip_prefix(tree).unwrap_or(item.path());
            if expected.contains(relative.to_string_lossy().as_ref()) {
                continue;
            }
            if item.file_type().is_dir() {
                // Moved whole, with all it holds.
                walk.skip_current_dir();
            }
            foreign.push(relative.to_path_buf());
        }
        if foreign.is_empty() {
            return Ok(Vec::new());
        }
        let stem = format!("{}-{}", record.id(), pandora_core::time::now());
        let moved = crate::fs::rescue(tree, &foreign, &self.layout.rescue_dir(), &stem)?;
        Ok(foreign
            .iter()
            .zip(moved)
            .map(|(relative, to)| {
                format!(
                    "{} was saved into the package's store tree (not part of {}); moved it to {}",
                    relative.display(),
                    record.id(),
                    to.display()
                )
            })
            .collect())
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
        self.recover()?;
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
                // Only what Pandora names so: anything else there is not its to delete.
                if made_by_pandora(&id) && self.record(&id)?.is_none() {
                    orphans.push(entry.path());
                }
            }
        }
        // Entry points of a package no longer installed (a crash between their rename and the
        // tree's), and copies of the launcher no entry point links to any more (an older
        // version's, or a copy cut short).
        if let Ok(entries) = fs_err::read_dir(self.layout.entries_dir()) {
            use std::os::unix::fs::MetadataExt;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let unused_launcher = name.starts_with(".launcher-")
                    && entry
                        .metadata()
                        .is_ok_and(|metadata| metadata.is_file() && metadata.nlink() == 1);
                let entry_points = !name.starts_with('.') && made_by_pandora(&name);
                if unused_launcher || (entry_points && self.record(&name)?.is_none()) {
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

    /// Deletes an orphan (see [`Store::orphans`]) under the store's lock, unless it stopped
    /// being one (an install finished it meanwhile, or recovery put it back).
    pub fn remove_orphan(&self, path: &Path) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        self.recover()?;
        let parent = path.parent();
        if parent == Some(self.layout.store_dir().as_path())
            || parent == Some(self.layout.entries_dir().as_path())
        {
            let id = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            if self.record(&id)?.is_some() {
                return Ok(());
            }
            // A launcher copy an install linked to since it was listed.
            use std::os::unix::fs::MetadataExt;
            let linked = fs_err::symlink_metadata(path).is_ok_and(|metadata| metadata.nlink() > 1);
            if id.starts_with(".launcher-") && linked {
                return Ok(());
            }
        }
        remove_tree(path)
    }

    /// Shows each blob no installed package was installed from, and each leftover of a
    /// download or copy, to `each` (path and size), then deletes it unless `dry_run`. Decided
    /// and done under the store's lock, so a blob an install is staging is never taken from
    /// under it; and only while holding that blob's [`BlobLock`], tried without waiting, so
    /// what another process is downloading or checking is left alone.
    ///
    /// The size is the disk space it takes (see [`crate::fs::disk_usage`]). The records of
    /// `forgotten` (`name@version`s a dry run of `collect` would have removed) do not count as
    /// references, so a dry run lists what the real run would.
    pub fn remove_unreferenced_blobs(
        &self,
        dry_run: bool,
        forgotten: &std::collections::BTreeSet<String>,
        mut each: impl FnMut(&Path, u64),
    ) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        self.recover()?;
        let blobs = self.layout.blobs_dir();
        for path in self.unreferenced_blobs_without(forgotten)? {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _claim = match blob_hash(&name) {
                Some(hash) => match BlobLock::try_acquire(path.parent().unwrap_or(&blobs), hash)
                    .map_err(io(&blobs))?
                {
                    Some(claim) => Some(claim),
                    None => continue,
                },
                None => None,
            };
            // Published or deleted by the lock's last holder before we took it: nothing to do.
            if fs_err::symlink_metadata(&path).is_err() {
                continue;
            }
            let bytes = crate::fs::disk_usage(&path).map_err(io(&path))?;
            each(&path, bytes);
            if !dry_run {
                remove_tree(&path)?;
            }
        }
        // A lock file outlives only a killed holder: taking it (and letting go) deletes it.
        if !dry_run {
            let launchers = crate::registry::launchers::launchers_dir(&blobs);
            for directory in [&blobs, &launchers] {
                let Ok(entries) = fs_err::read_dir(directory) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if let Some(hash) = name.strip_suffix(".lock").and_then(blob_hash) {
                        drop(BlobLock::try_acquire(directory, hash).map_err(io(directory))?);
                    }
                }
            }
        }
        Ok(())
    }

    /// Blobs no installed package was installed from, and leftovers of downloads and copies
    /// (`<sha>.partial`, `<sha>.partial.validator`); never the lock files.
    pub fn unreferenced_blobs(&self) -> Result<Vec<PathBuf>, StoreError> {
        self.unreferenced_blobs_without(&std::collections::BTreeSet::new())
    }

    /// [`Store::unreferenced_blobs`], counting the records of `forgotten` as gone.
    fn unreferenced_blobs_without(
        &self,
        forgotten: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<PathBuf>, StoreError> {
        let referenced: std::collections::HashSet<String> = self
            .records()?
            .iter()
            .filter(|record| !forgotten.contains(&record.id()))
            .map(|record| encode_hex(&record.blob))
            .collect();
        let blobs = self.layout.blobs_dir();
        let Ok(entries) = fs_err::read_dir(&blobs) else {
            return Ok(Vec::new());
        };
        let launchers = crate::registry::launchers::launchers_dir(&blobs);
        let mut unreferenced: Vec<PathBuf> = entries
            .flatten()
            .filter(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                // Only what Pandora names so (`<sha>`, `<sha>.partial`, ...): anything else
                // there is not its to delete.
                blob_hash(&name).is_some()
                    && !referenced.contains(&name)
                    && !name.ends_with(".lock")
                    && entry.path() != launchers
            })
            .map(|entry| entry.path())
            .collect();
        // A launcher stays while a blob that stays is split on it.
        let needed: std::collections::HashSet<String> = referenced
            .iter()
            .filter_map(|name| {
                crate::registry::launchers::split_reference(&blobs.join(name))
                    .ok()
                    .flatten()
            })
            .map(|launcher| encode_hex(&launcher.sha256))
            .collect();
        if let Ok(entries) = fs_err::read_dir(&launchers) {
            unreferenced.extend(
                entries
                    .flatten()
                    .filter(|entry| {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        blob_hash(&name).is_some()
                            && !needed.contains(&name)
                            && !name.ends_with(".lock")
                    })
                    .map(|entry| entry.path()),
            );
        }
        unreferenced.sort();
        Ok(unreferenced)
    }
}

/// Whether a name in `store/` or `entries/` is one Pandora gives: `name@version`, or
/// `.name@version.replaced` (a tree set aside during a swap).
fn made_by_pandora(name: &str) -> bool {
    let id = name
        .strip_prefix('.')
        .and_then(|name| name.strip_suffix(".replaced"))
        .unwrap_or(name);
    pandora_core::id::validate_pin(id).is_ok()
}

/// The hex SHA-256 a name in `blobs/` belongs to (`<sha>`, `<sha>.partial`, ...).
fn blob_hash(name: &str) -> Option<&str> {
    let hash = name.get(..64)?;
    let rest = &name[64..];
    (hash.bytes().all(|byte| byte.is_ascii_hexdigit())
        && (rest.is_empty() || rest.starts_with('.')))
    .then_some(hash)
}

/// A directory's identity (`device:inode`), which a rename keeps: how a pending record names
/// the tree it describes.
fn tree_id(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let metadata = fs_err::symlink_metadata(path).ok()?;
    metadata
        .is_dir()
        .then(|| format!("{}:{}", metadata.dev(), metadata.ino()))
}

/// Puts the tree `staged` at `entry`. With an entry there, the two are exchanged in one step
/// (the old tree ends up at `staged`); where the filesystem cannot exchange, the old tree moves
/// to `aside` first, and [`Store::recover`] puts it back should a crash come between.
fn swap_tree(staged: &Path, entry: &Path, aside: &Path, exchange: bool) -> std::io::Result<()> {
    if entry.symlink_metadata().is_err() {
        return fs_err::rename(staged, entry);
    }
    if exchange {
        match exchange_names(staged, entry) {
            Ok(()) => return Ok(()),
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(nix::libc::EINVAL | nix::libc::ENOSYS | nix::libc::EOPNOTSUPP)
                ) => {}
            Err(error) => {
                return Err(std::io::Error::new(
                    error.kind(),
                    format!(
                        "failed to exchange `{}` and `{}`: {error}",
                        staged.display(),
                        entry.display()
                    ),
                ))
            }
        }
    }
    fs_err::rename(entry, aside)?;
    fs_err::rename(staged, entry)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange_names(a: &Path, b: &Path) -> std::io::Result<()> {
    nix::fcntl::renameat2(None, a, None, b, nix::fcntl::RenameFlags::RENAME_EXCHANGE)
        .map_err(std::io::Error::from)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange_names(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(nix::libc::ENOSYS))
}

/// Packages verified, extracted and sealed in `tmp/`, waiting to be committed together. Dropped
/// without a commit, it removes what it staged and the store is as it was.
#[derive(Debug)]
pub struct Transaction<'s> {
    store: &'s Store,
    _lock: FileLock,
    staged: Vec<Staged>,
    run_hooks: bool,
    messages: Vec<(String, String)>,
    before_hooks: Option<BeforeHooks>,
}

/// Told a package's install hooks just before they run: `(name@version, hooks)`.
pub type HookObserver = std::sync::Arc<dyn Fn(&str, &crate::format::metadata::Hooks) + Send + Sync>;

struct BeforeHooks(HookObserver);

impl std::fmt::Debug for BeforeHooks {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("BeforeHooks")
    }
}

#[derive(Debug)]
struct Staged {
    /// The staged tree, `tmp/install-XXXX`, with its companions beside it ([`stage::beside`]).
    staging: PathBuf,
    record: Record,
    /// Writable directories its store entry links out to, made at commit.
    writable: Vec<crate::launcher::WritableDirectory>,
}

impl Transaction<'_> {
    /// Whether staging runs packages' install hooks (`--no-hooks`: not).
    pub fn set_run_hooks(&mut self, run_hooks: bool) {
        self.run_hooks = run_hooks;
    }

    /// Tells `observer` about each package's install hooks right before they run (a package
    /// from a registry shows them only once downloaded), so the user sees what runs.
    pub fn set_before_hooks(&mut self, observer: HookObserver) {
        self.before_hooks = Some(BeforeHooks(observer));
    }

    /// The `warn` messages of the hooks run so far: `(name@version, message)`.
    pub fn messages(&self) -> &[(String, String)] {
        &self.messages
    }

    /// Commits every staged package in three phases, each step of the module's documentation
    /// taken for all packages at once, so that a batch costs three flushes, not three per
    /// package: (1) every pending record is written, then one `syncfs` makes them and the staged
    /// trees durable; (2) every tree is swapped in, then the store directory is synced; (3)
    /// every record is promoted, and one more `syncfs` follows: the next one of this
    /// filesystem, which an activation makes before its new generation becomes visible, or the
    /// one at the end of the command ([`crate::fs::syncfs_later`]). A crash between phases
    /// leaves each package in a state the next holder of the lock finishes or undoes, as for
    /// one. Returns the records committed, and one line per file rescued from a replaced tree
    /// (see [`Store::rescue_foreign`]).
    pub fn commit(mut self) -> Result<(Vec<Record>, Vec<String>), StoreError> {
        let store = self.store;
        let tmp = store.layout.tmp_dir();
        let records_dir = store.layout.records_dir();
        let store_dir = store.layout.store_dir();
        fs_err::create_dir_all(&records_dir).map_err(io(&records_dir))?;
        fs_err::create_dir_all(&store_dir).map_err(io(&store_dir))?;
        let staged = std::mem::take(&mut self.staged);
        let mut pending = Vec::with_capacity(staged.len());
        let mut failure = None;
        for package in &staged {
            match store.write_pending(package) {
                Ok(()) => pending.push(package),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        let flushed = if failure.is_none() {
            syncfs(&tmp)
        } else {
            Ok(())
        };
        if let Some(error) = failure.or(flushed.err()) {
            for package in pending {
                let _ = fs_err::remove_file(store.pending_path(&package.record.id()));
            }
            self.staged = staged;
            return Err(error);
        }
        let mut swapped = Vec::with_capacity(staged.len());
        let mut failure = None;
        for (at, package) in staged.iter().enumerate() {
            if let Err(error) = store.swap_in(package) {
                // This one's pending record is gone; the rest never had their trees swapped.
                for later in &staged[at + 1..] {
                    let _ = fs_err::remove_file(store.pending_path(&later.record.id()));
                }
                failure = Some(error);
                break;
            }
            swapped.push(package);
        }
        // Whatever was swapped in is promoted, even when a later package failed.
        let mut result = crate::fs::sync_directory(&store_dir).map_err(io(&store_dir));
        let mut committed = Vec::new();
        let mut rescued = Vec::new();
        for package in swapped {
            if result.is_ok() {
                result = store.promote(package).map(|lines| rescued.extend(lines));
            }
            if result.is_ok() {
                pandora_core::events::Event::new("store-commit")
                    .with("id", package.record.id())
                    .with("sha256", package.record.blob)
                    .with("source", &package.record.source)
                    .emit();
                committed.push(package.record.clone());
            }
        }
        // What is left in each staging directory is an old tree, or nothing.
        for package in &staged {
            let cleaned = stage::remove_staged(&package.staging);
            if result.is_ok() {
                result = cleaned;
            }
        }
        // The last flush is shared with whatever comes next (an activation's), or made when
        // the command ends.
        let flushed = crate::fs::syncfs_later(&store_dir).map_err(io(&store_dir));
        if let Some(error) = failure {
            return Err(error);
        }
        result?;
        flushed?;
        Ok((committed, rescued))
    }
}

impl Store {
    /// Step 1 of the module's documentation: the pending record naming the staged tree,
    /// written whole; [`Transaction::commit`] makes it durable.
    fn write_pending(&self, staged: &Staged) -> Result<(), StoreError> {
        let tree = &staged.staging;
        let pending = self.pending_path(&staged.record.id());
        let tree_name = tree_id(tree).ok_or_else(|| {
            io(tree)(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the staged tree is gone",
            ))
        })?;
        crate::fs::write_unsynced(
            &pending,
            staged.record.to_pending_acl(&tree_name).as_bytes(),
        )
        .map_err(io(&pending))
    }

    /// Step 2: the staged tree (and its entry points) take the entry's name. On failure
    /// nothing changed and the pending record is gone.
    fn swap_in(&self, staged: &Staged) -> Result<(), StoreError> {
        let id = staged.record.id();
        let tree = &staged.staging;
        let entry = self.entry_path(&id);
        let pending = self.pending_path(&id);
        let aside = self.aside_path(&id);
        // The entry points first: they run the tree named `store/<id>`, whichever it is, and
        // describe this one (a failed swap leaves them, and the next install replaces them).
        let swapped = self
            .swap_entries(
                &id,
                Some(&stage::beside(tree, stage::ENTRIES)),
                &stage::beside(tree, stage::OLD_ENTRIES),
            )
            .and_then(|()| swap_tree(tree, &entry, &aside, true).map_err(io(&entry)));
        if let Err(error) = swapped {
            // Nothing changed (a failed rename changes nothing): the pending record goes.
            let _ = fs_err::remove_file(&pending);
            if aside.symlink_metadata().is_ok() && entry.symlink_metadata().is_err() {
                let _ = fs_err::rename(&aside, &entry);
            }
            return Err(error);
        }
        Ok(())
    }

    /// Step 3, once the swap is durable: the pending record becomes the record; then its
    /// summary, the old tree's removal and the writable directories.
    fn promote(&self, staged: &Staged) -> Result<Vec<String>, StoreError> {
        let id = staged.record.id();
        let pending = self.pending_path(&id);
        let record_path = self.record_path(&id);
        let aside = self.aside_path(&id);
        // The replaced tree's own record, read before the new one takes its place: what the
        // old tree holds beyond it was saved there, and is rescued before the tree goes.
        let replaced = Store::read_record(&record_path).ok().flatten();
        // The package's SBOM and provenance, kept beside its record: in place before the record
        // is, so a crash between the two leaves the new tree's (the next holder of the lock
        // finishes the promotion, the tree being swapped in already).
        let attestation = stage::beside(&staged.staging, stage::ATTESTATION);
        let kept = self.attestation_path(&id);
        if attestation.is_file() {
            replace_record(&attestation, &kept)?;
        } else if kept.symlink_metadata().is_ok() {
            // A reinstall from a package without one: the old tree's must not stay.
            remove_record(&kept)?;
        }
        replace_record(&pending, &record_path)?;
        forget_read(&record_path);
        // The summary activation reads (best effort: without it the ACL record is read, and
        // the summary made then).
        if let Ok(metadata) = fs_err::metadata(&record_path) {
            let stamp = record::summary::Stamp::of(&metadata);
            remember_read(&record_path, stamp, &staged.record);
            let _ = crate::fs::write_unsynced(
                &Store::summary_path(&record_path),
                &record::summary::encode(&staged.record, stamp),
            );
        }
        // The replaced tree is set aside, or (exchanged in one step) where the new one was.
        let old_tree = [&aside, &staged.staging].into_iter().find(|path| {
            path.symlink_metadata()
                .is_ok_and(|metadata| metadata.is_dir())
        });
        let rescued = match (&replaced, old_tree) {
            (Some(replaced), Some(old_tree)) => self.rescue_foreign(replaced, old_tree)?,
            _ => Vec::new(),
        };
        if aside.symlink_metadata().is_ok() {
            remove_tree(&aside)?;
        }
        entries::make_writable(&self.layout, &staged.writable)?;
        Ok(rescued)
    }

    /// `entries/<id>`: replaced by `staged` if it exists, else removed. The old one goes to
    /// `trash` (a free name of ours in `tmp/`).
    fn swap_entries(
        &self,
        id: &str,
        staged: Option<&Path>,
        trash: &Path,
    ) -> Result<(), StoreError> {
        let directory = self.layout.entries_dir();
        let entry = directory.join(id);
        let present = entry.symlink_metadata().is_ok();
        if present {
            entries::set_sealed(&entry, false)?;
        }
        match staged.filter(|staged| staged.is_dir()) {
            // Exchanged in one step where the filesystem can, as trees are: there is always an
            // entry-point directory for a profile's links to lead to.
            Some(staged) => {
                fs_err::create_dir_all(&directory).map_err(io(&directory))?;
                let aside = directory.join(format!(".{id}.replaced"));
                swap_tree(staged, &entry, &aside, true).map_err(io(&entry))?;
                entries::set_sealed(&entry, true)?;
                if aside.symlink_metadata().is_ok() {
                    remove_tree(&aside)?;
                }
            }
            None if present => {
                fs_err::rename(&entry, trash).map_err(io(&entry))?;
            }
            None => {}
        }
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        for staged in &self.staged {
            let _ = stage::remove_staged(&staged.staging);
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
            std::io::copy(&mut open_regular(path)?, &mut hasher).map_err(io(path))?;
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

/// Opens a file of a tree for reading, refusing anything but a regular file: never through a
/// link, and without blocking (a FIFO would hang the reader forever).
fn open_regular(path: &Path) -> Result<fs_err::File, StoreError> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    let file = fs_err::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(io(path))?;
    let regular = file.metadata().map_err(io(path))?.file_type().is_file();
    if !regular {
        return Err(io(path)(std::io::Error::other(
            "not a regular file, directory or symbolic link",
        )));
    }
    Ok(file)
}

fn seal(root: &Path) -> Result<Vec<RecordedEntry>, StoreError> {
    walk_tree(root, true)
}

/// Deletes a tree, read-only directories included.
fn remove_tree(path: &Path) -> Result<(), StoreError> {
    crate::fs::remove_tree(path).map_err(io(path))
}

/// Records this process read, by path, with the stamp of the file they came from: activating
/// 100 packages reads each record three times (its pins, its registry, its entries), and a
/// record replaced since (another stamp) is read again.
type ReadRecords =
    std::sync::Mutex<std::collections::HashMap<PathBuf, (record::summary::Stamp, Record)>>;

/// Beyond this many records, a process reads them again rather than keep them all.
const REMEMBERED_RECORDS: usize = 4096;

fn read_records() -> &'static ReadRecords {
    static READ: std::sync::OnceLock<ReadRecords> = std::sync::OnceLock::new();
    READ.get_or_init(Default::default)
}

/// Puts the record (or attestation) at `pending` in place at `record`, over whatever damage
/// put a directory there (which a rename cannot replace).
fn replace_record(pending: &Path, record: &Path) -> Result<(), StoreError> {
    if fs_err::symlink_metadata(record).is_ok_and(|metadata| metadata.is_dir()) {
        remove_tree(record)?;
    }
    fs_err::rename(pending, record).map_err(io(record))
}

/// Deletes the record (or attestation) at `path`, whatever damage put there instead of a file.
fn remove_record(path: &Path) -> Result<(), StoreError> {
    match fs_err::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => remove_tree(path),
        _ => fs_err::remove_file(path).map_err(io(path)),
    }
}

/// Whether a file is another user's, or group- or world-writable.
fn writable_by_others(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    metadata.uid() != nix::unistd::geteuid().as_raw() || metadata.mode() & 0o022 != 0
}

/// The `name@version` a record's path (`records/ID.acl` or `records/ID.acl.next`) names.
fn record_id(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = name
        .strip_suffix(".acl.next")
        .or_else(|| name.strip_suffix(".acl"))
        .unwrap_or(&name);
    id.to_string()
}

/// How large a record or its summary may be: far beyond any real package's (10,000 files
/// make some 1.5 MB); a larger one is damage, not a size to allocate.
const RECORD_LIMIT: u64 = 1 << 28;

/// The bytes of the summary at `path` if it names the record file with `stamp`: its header
/// is read first, so a stale or foreign summary costs one small read, and nothing but a
/// regular file is read at all. `None` when there is no such summary (it is made again).
fn read_summary(path: &Path, stamp: record::summary::Stamp) -> Option<Vec<u8>> {
    let (mut file, length) = crate::fs::open_regular(path, RECORD_LIMIT).ok()?;
    let length = usize::try_from(length).ok()?;
    let header = record::summary::HEADER;
    if length < header {
        return None;
    }
    let mut bytes = vec![0; length];
    file.read_exact(&mut bytes[..header]).ok()?;
    if !record::summary::names(&bytes[..header], stamp) {
        return None;
    }
    file.read_exact(&mut bytes[header..]).ok()?;
    Some(bytes)
}

/// The record at `path` if this process read it already and the file is still the one read:
/// no need to open it.
fn remembered(path: &Path) -> Option<Record> {
    // Not read before: no stat to spend on it.
    let (known, record) = read_records().lock().ok()?.get(path).cloned()?;
    let metadata = fs_err::symlink_metadata(path).ok()?;
    (record::summary::Stamp::of(&metadata) == known).then_some(record)
}

/// A record this process replaced or removed: read from its file again, whatever its stamp.
fn forget_read(path: &Path) {
    if let Ok(mut read) = read_records().lock() {
        read.remove(path);
    }
}

fn remember_read(path: &Path, stamp: record::summary::Stamp, record: &Record) {
    if let Ok(mut read) = read_records().lock() {
        if read.len() < REMEMBERED_RECORDS || read.contains_key(path) {
            read.insert(path.to_path_buf(), (stamp, record.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(path: &Path, file: &str) {
        fs_err::create_dir_all(path).unwrap();
        fs_err::write(path.join(file), file).unwrap();
    }

    /// Where a filesystem cannot exchange two names, the old tree steps aside; a crash between
    /// the two renames is undone by the next holder of the lock, one after them finished.
    #[test]
    fn without_an_exchange_a_crash_between_the_renames_is_repaired() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::new(&Layout::new(directory.path()));
        let entry = store.entry_path("a@1.0.0");
        let aside = store.aside_path("a@1.0.0");
        let staged = directory.path().join("tmp/install-x/tree");
        tree(&entry, "old");
        tree(&staged, "new");
        swap_tree(&staged, &entry, &aside, false).unwrap();
        assert!(entry.join("new").is_file() && aside.join("old").is_file());
        assert!(!staged.exists());
        store.recover().unwrap();
        assert!(entry.join("new").is_file() && !aside.exists());

        // Killed after the old tree stepped aside, before the new one arrived.
        fs_err::rename(&entry, &aside).unwrap();
        store.recover().unwrap();
        assert!(entry.join("new").is_file() && !aside.exists());
    }

    #[test]
    fn the_exchange_keeps_the_old_tree_until_one_rename_replaces_it() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::new(&Layout::new(directory.path()));
        let entry = store.entry_path("a@1.0.0");
        let aside = store.aside_path("a@1.0.0");
        let staged = directory.path().join("tmp/install-x/tree");
        tree(&entry, "old");
        tree(&staged, "new");
        let new_tree = tree_id(&staged).unwrap();
        swap_tree(&staged, &entry, &aside, true).unwrap();
        assert_eq!(tree_id(&entry), Some(new_tree));
        assert!(entry.join("new").is_file());
        // On a filesystem that exchanges, the old tree is where the new one was staged.
        if staged.exists() {
            assert!(staged.join("old").is_file());
            assert!(!aside.exists());
        }
    }

    #[test]
    fn blob_names_belong_to_their_hash() {
        let hash = "ab".repeat(32);
        assert_eq!(blob_hash(&hash), Some(hash.as_str()));
        assert_eq!(blob_hash(&format!("{hash}.partial")), Some(hash.as_str()));
        assert_eq!(blob_hash(&format!("{hash}x")), None);
        assert_eq!(blob_hash(".blob-123"), None);
    }
}
