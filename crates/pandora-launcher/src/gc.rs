//! Keeping the work environment cache from growing forever.
//!
//! A running program holds a shared `flock` on its work environment's directory: the launcher
//! takes it before exec'ing and leaves the descriptor open across the exec (and to the
//! program's children), so the lock lasts exactly as long as something started from that work
//! environment runs. Removal takes the work environment's first-run lock (`<key>.lock`) and an
//! exclusive lock on the directory, both without waiting: either is busy, and the work
//! environment stays. Under both it is renamed aside in one step and then deleted, so a
//! launcher never sees half of one.
//!
//! A start also stamps the directory's mtime when it is more than an hour old: the time of
//! last use, to the hour, for `pandora prune`, at no cost to a warm start within the hour.
//!
//! Two things remove work environments:
//! - the launcher, after extracting a new one, removes the others of the same package name
//!   that nothing is running from and nothing started from for a day (older builds, as a
//!   package is upgraded);
//! - [`collect_unused`] (`pandora prune`) removes those unused for a given time, with the
//!   records that point at them and leftovers of interrupted extractions.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use fs_err as fs;

use crate::secure;
use crate::workenv::{self, CONTROL};

/// A start refreshes the last-use stamp when it is older than this.
const STAMP_EVERY: Duration = Duration::from_secs(3600);
/// A new build removes another build of the same package only when nothing started from it
/// for this long: two builds in use side by side (a release and a test build, say) are not
/// extracted again and again, each removing the other.
const SUPERSEDED_IDLE: Duration = Duration::from_secs(24 * 3600);

/// The shared lock a run holds on its work environment, inherited by the program it execs.
#[derive(Debug)]
pub(crate) struct InUse {
    _directory: fs::File,
}

/// Takes the shared lock on `workenv` (without waiting: a remover holds it exclusively only
/// while renaming it away) and stamps its last use. `None` when it is being removed or is no
/// longer the directory at that path; the caller then extracts afresh.
pub(crate) fn hold(workenv: &Path) -> Option<InUse> {
    let directory = fs::File::open(workenv).ok()?;
    directory.try_lock_shared().ok()?;
    let held = directory.metadata().ok()?;
    let now = fs::symlink_metadata(workenv).ok()?;
    // Renamed away (and perhaps replaced) between the open and the lock.
    if (held.dev(), held.ino()) != (now.dev(), now.ino()) || !held.is_dir() {
        return None;
    }
    let stale = held
        .modified()
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_none_or(|age| age > STAMP_EVERY);
    if stale {
        // Best effort: a failed stamp only makes `prune` think it older than it is.
        let _ = directory
            .file()
            .set_times(std::fs::FileTimes::new().set_modified(SystemTime::now()));
    }
    // Open across exec: the lock lives as long as the program and its children.
    let flags = nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(directory.file()),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    );
    flags.ok()?;
    Some(InUse {
        _directory: directory,
    })
}

/// A work environment (or leftover) removed, or that would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// Where it was.
    pub path: PathBuf,
    /// The package it was extracted from, when its metadata says.
    pub package: Option<String>,
    /// The disk space it took.
    pub bytes: u64,
}

/// Why the cache could not be collected.
#[derive(Debug, thiserror::Error)]
#[error("cannot clean the work environment cache {path}: {detail}")]
pub struct GcError {
    /// The path involved.
    pub path: PathBuf,
    /// What went wrong.
    pub detail: String,
}

impl pandora_core::Hint for GcError {
    fn hint(&self) -> Option<String> {
        Some(format!(
            "check the permissions of {} (the cache must be this user's)",
            self.path.display()
        ))
    }
}

/// Removes (or with `dry_run` only lists) the work environments under `root` unused for at
/// least `unused_for` and not in use now, the records pointing at work environments that are
/// gone, and leftovers of extractions interrupted at least `unused_for` ago.
pub fn collect_unused(
    root: &Path,
    unused_for: Duration,
    dry_run: bool,
) -> Result<Vec<Collected>, GcError> {
    let error = |path: &Path| {
        let path = path.to_path_buf();
        move |detail: String| GcError {
            path: path.clone(),
            detail,
        }
    };
    if !secure::check_root_if_present(root).map_err(error(root))? {
        return Ok(Vec::new());
    }
    let now = SystemTime::now();
    let old = |path: &Path| {
        fs::symlink_metadata(path)
            .ok()
            .and_then(|stat| stat.modified().ok())
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age >= unused_for)
    };
    let mut collected = Vec::new();
    for (path, name) in entries(root).map_err(error(root))? {
        if is_key(&name) {
            if !old(&path) {
                continue;
            }
            let package = package_name(&path);
            let bytes = pandora_core::fs::disk_usage(&path).unwrap_or(0);
            let removed = if dry_run {
                !in_use(root, &name)
            } else {
                remove(root, &name)
            };
            if removed {
                collected.push(Collected {
                    path,
                    package,
                    bytes,
                });
            }
        } else if [".staging-", ".trash-", ".verify-"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            && old(&path)
        {
            let bytes = pandora_core::fs::disk_usage(&path).unwrap_or(0);
            if !dry_run {
                secure::remove_tree(&path).map_err(error(&path))?;
            }
            collected.push(Collected {
                path,
                package: None,
                bytes,
            });
        }
    }
    // Records of work environments that are gone (or go in this run) only send a start down
    // the cold path; they are removed with them.
    let removed: Vec<PathBuf> = collected.iter().map(|item| item.path.clone()).collect();
    let gone = |key: &str| {
        let path = root.join(key);
        !path.exists() || removed.contains(&path)
    };
    let files = root.join("files");
    if secure::check_owned_if_present(&files).map_err(error(&files))? {
        for (path, _) in entries(&files).map_err(error(&files))? {
            let Ok(Some(text)) = secure::read_owned(&path, 4096) else {
                continue;
            };
            let Some(record) = workenv::Record::parse(&String::from_utf8_lossy(&text)) else {
                continue;
            };
            if gone(&record.workenv) {
                let bytes = pandora_core::fs::disk_usage(&path).unwrap_or(0);
                if !dry_run {
                    fs::remove_file(&path).map_err(|failure| error(&path)(failure.to_string()))?;
                }
                collected.push(Collected {
                    path,
                    package: None,
                    bytes,
                });
            }
        }
    }
    Ok(collected)
}

/// After extracting `keep` for package `name`: removes the other work environments of the same
/// package name that nothing is running from and nothing started from for [`SUPERSEDED_IDLE`].
/// Best effort: what cannot be removed stays for `pandora prune`.
pub(crate) fn remove_superseded(root: &Path, name: &str, keep: &str) {
    let Ok(found) = entries(root) else {
        return;
    };
    let now = SystemTime::now();
    for (path, key) in found {
        let idle = fs::symlink_metadata(&path)
            .ok()
            .and_then(|stat| stat.modified().ok())
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age >= SUPERSEDED_IDLE);
        if is_key(&key) && key != keep && idle && package_name(&path).as_deref() == Some(name) {
            remove(root, &key);
        }
    }
}

/// Whether something runs from the work environment `key` (or it is being extracted).
fn in_use(root: &Path, key: &str) -> bool {
    let Some(_first_run) = secure::try_lock(&root.join(format!("{key}.lock"))) else {
        return true;
    };
    let Ok(directory) = fs::File::open(root.join(key)) else {
        return false;
    };
    directory.try_lock().is_err()
}

/// Removes the work environment `key` if nothing runs from it; whether it did.
fn remove(root: &Path, key: &str) -> bool {
    let lock_path = root.join(format!("{key}.lock"));
    let Some(first_run) = secure::try_lock(&lock_path) else {
        return false;
    };
    let path = root.join(key);
    let Ok(directory) = fs::File::open(&path) else {
        return false;
    };
    if directory.try_lock().is_err() {
        return false;
    }
    let trash = root.join(format!(".trash-{key}-{}", std::process::id()));
    if fs::rename(&path, &trash).is_err() {
        return false;
    }
    drop(directory);
    let _ = secure::remove_tree(&trash);
    // Still under the first-run lock: a launcher waiting on it finds no work environment and
    // extracts one; one that opens the file after this removal creates a new one.
    let _ = fs::remove_file(&lock_path);
    drop(first_run);
    true
}

/// The package name in a work environment's metadata.
fn package_name(workenv: &Path) -> Option<String> {
    let json = secure::read_owned(
        &workenv.join(CONTROL).join("metadata.json"),
        workenv::MAX_METADATA,
    )
    .ok()??;
    let metadata: pandora_format::metadata::Metadata = serde_json::from_slice(&json).ok()?;
    Some(metadata.package.name)
}

/// A work environment's directory name: 32 lowercase hex digits.
fn is_key(name: &str) -> bool {
    name.len() == 32
        && name
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

fn entries(directory: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let mut found = Vec::new();
    for entry in fs::read_dir(directory).map_err(|error| error.to_string())? {
        let entry = entry.map_err(|error| error.to_string())?;
        if let Ok(name) = entry.file_name().into_string() {
            found.push((entry.path(), name));
        }
    }
    found.sort();
    Ok(found)
}
