//! Believing nothing in the cache unless only this user could have put it there: the checks
//! ssh makes of `~/.ssh`, and file opens that never follow a symbolic link.

use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use fs_err as fs;
use fs_err::os::unix::fs::OpenOptionsExt;
use nix::libc;
use pandora_format::secure::{self as shared, Owners, Unsafe};

/// An error and its causes on one line, each cause once (fs-err's messages name the path and
/// leave the system's reason to the cause).
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The shared check's verdict, with what it means for the cache and what to do.
fn explain(problem: &Unsafe) -> String {
    let hint = match problem {
        Unsafe::Owner { .. } => {
            ": another user could choose what runs; remove it or point FLAVOR_CACHE_DIR elsewhere"
        }
        Unsafe::Writable { .. } => {
            ", so another user could choose what runs: remove it (it is only a cache) or \
             `chmod go-w` it"
        }
        Unsafe::AncestorOwner { .. } => ": its owner could replace the cache",
        Unsafe::AncestorWritable { .. } => {
            ": another user could replace the cache; use a private FLAVOR_CACHE_DIR"
        }
        Unsafe::Link(_) => " (the launcher never makes one)",
        _ => "",
    };
    format!("{problem}{hint}")
}

/// A directory of the cache, not through a link: ours, and writable by nobody else.
pub(crate) fn check_owned_path(path: &Path) -> Result<(), String> {
    check_owned_if_present(path).and_then(|present| {
        present
            .then_some(())
            .ok_or_else(|| format!("{} does not exist", path.display()))
    })
}

/// [`check_owned_path`], with `false` when there is nothing at `path`.
pub(crate) fn check_owned_if_present(path: &Path) -> Result<bool, String> {
    shared::check_directory_if_present(path, Owners::Me).map_err(|problem| explain(&problem))
}

/// The cache root must be ours and closed to others. Every directory above it must belong to us
/// or to root and be writable by nobody else unless sticky (as `/tmp` is): whoever may rename
/// entries in a directory on the path can swap the cache between a check and a use.
pub(crate) fn check_root(root: &Path) -> Result<(), String> {
    check_root_if_present(root).and_then(|present| {
        present
            .then_some(())
            .ok_or_else(|| format!("{} does not exist", root.display()))
    })
}

/// [`check_root`], with `false` when the root does not exist (nothing cached yet).
pub(crate) fn check_root_if_present(root: &Path) -> Result<bool, String> {
    shared::check_directory_tree(root, Owners::Me).map_err(|problem| explain(&problem))
}

/// Creates the cache root and `files/` (0700 where made), then checks them.
pub(crate) fn prepare_root(root: &Path) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|error| format!("cannot create {}: {error}", root.display()))?;
    check_root(root)?;
    let files = root.join("files");
    match std::fs::DirBuilder::new().mode(0o700).create(&files) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
        Err(error) => return Err(format!("cannot create {}: {error}", files.display())),
    }
    check_owned_path(&files)
}

fn open_options() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.custom_flags(libc::O_NOFOLLOW);
    options
}

fn refused_link(path: &Path, error: &std::io::Error) -> String {
    explain(&shared::refused_open(path, error))
}

/// Reads a file the launcher wrote, not following a link at its last component: `None` when it
/// does not exist, an error when it is not a regular file of ours that only we may write.
pub(crate) fn read_owned(path: &Path, max: u64) -> Result<Option<Vec<u8>>, String> {
    shared::read_file(path, Owners::Me, max).map_err(|problem| explain(&problem))
}

/// Creates a new file (never an existing one, never through a link) holding `bytes`.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = open_options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// An exclusive lock on `path` (created if missing, not through a link), held until dropped.
pub(crate) fn lock(path: &Path) -> Result<fs::File, String> {
    let file = open_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|error| refused_link(path, &error))?;
    file.lock().map_err(|error| describe(&error))?;
    Ok(file)
}

/// The exclusive lock on `path` if nobody holds it now (created if missing, not through a
/// link); `None` when it is held or cannot be opened.
pub(crate) fn try_lock(path: &Path) -> Option<fs::File> {
    let file = open_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .ok()?;
    file.try_lock().ok()?;
    Some(file)
}

/// Deletes a tree the launcher made, sealed directories included.
pub(crate) fn remove_tree(path: &Path) -> Result<(), String> {
    pandora_core::fs::remove_tree(path).map_err(|error| describe(&error))
}

/// The entries of `directory` that start with `prefix` (leftovers of crashed runs).
pub(crate) fn leftovers(directory: &Path, prefix: &str) -> Vec<PathBuf> {
    fs::read_dir(directory)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| entry.file_name().to_string_lossy().starts_with(prefix))
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default()
}
