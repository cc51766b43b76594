//! Believing nothing in the cache unless only this user could have put it there: the checks
//! ssh makes of `~/.ssh`, and file opens that never follow a symbolic link.

use std::io::{ErrorKind, Read};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use fs_err as fs;
use fs_err::os::unix::fs::OpenOptionsExt;
use nix::libc;

/// Write permission for group or others.
const SHARED_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// The user whose files this process creates, and so the only one whose cache it believes.
pub(crate) fn effective_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

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

/// A directory of the cache: ours, and writable by nobody else.
pub(crate) fn check_owned(path: &Path, metadata: &std::fs::Metadata) -> Result<(), String> {
    let me = effective_uid();
    if !metadata.is_dir() {
        return Err(format!("{} is not a directory", path.display()));
    }
    if metadata.uid() != me {
        return Err(format!(
            "{} belongs to user {}, not to user {me} running the package: another user could \
             choose what runs; remove it or point FLAVOR_CACHE_DIR elsewhere",
            path.display(),
            metadata.uid()
        ));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & SHARED_WRITE != 0 {
        return Err(format!(
            "{} is writable by group or others (mode {mode:04o}), so another user could \
             choose what runs: remove it (it is only a cache) or `chmod go-w` it",
            path.display()
        ));
    }
    Ok(())
}

/// [`check_owned`] on a path, without following a link there.
pub(crate) fn check_owned_path(path: &Path) -> Result<(), String> {
    let metadata = fs::symlink_metadata(path).map_err(|error| describe(&error))?;
    check_owned(path, &metadata)
}

/// [`check_owned_path`], with `false` when there is nothing at `path`.
pub(crate) fn check_owned_if_present(path: &Path) -> Result<bool, String> {
    match fs::symlink_metadata(path) {
        Ok(metadata) => check_owned(path, &metadata).map(|()| true),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
        Err(error) => Err(describe(&error)),
    }
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
    let metadata = match fs::metadata(root) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(describe(&error)),
    };
    check_owned(root, &metadata)?;
    let absolute = std::path::absolute(root).map_err(|error| describe(&error))?;
    let canonical = fs::canonicalize(root).map_err(|error| describe(&error))?;
    let me = effective_uid();
    // Both spellings: a link on the way is resolved by `canonical`, and the directory holding
    // that link is only on `absolute`.
    let resolved = (canonical != absolute).then_some(&canonical);
    let ancestors = absolute.ancestors().skip(1).chain(
        resolved
            .into_iter()
            .flat_map(|path| path.ancestors().skip(1)),
    );
    for ancestor in ancestors {
        let metadata = fs::metadata(ancestor).map_err(|error| describe(&error))?;
        let mode = metadata.permissions().mode() & 0o7777;
        if metadata.uid() != me && metadata.uid() != 0 {
            return Err(format!(
                "{}, above the cache {}, belongs to user {}: its owner could replace the cache",
                ancestor.display(),
                root.display(),
                metadata.uid()
            ));
        }
        if mode & SHARED_WRITE != 0 && mode & STICKY == 0 {
            return Err(format!(
                "{}, above the cache {}, is writable by group or others without the sticky bit \
                 (mode {mode:04o}): another user could replace the cache; use a private \
                 FLAVOR_CACHE_DIR",
                ancestor.display(),
                root.display()
            ));
        }
    }
    Ok(true)
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
    if error.raw_os_error() == Some(libc::ELOOP) {
        format!(
            "{} is a symbolic link, which the launcher never makes",
            path.display()
        )
    } else {
        describe(error)
    }
}

/// Reads a file the launcher wrote, not following a link at its last component: `None` when it
/// does not exist, an error when it is not a regular file of ours that only we may write.
pub(crate) fn read_owned(path: &Path, max: u64) -> Result<Option<Vec<u8>>, String> {
    let file = match open_options().read(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(refused_link(path, &error)),
    };
    let metadata = file.metadata().map_err(|error| describe(&error))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if metadata.uid() != effective_uid() || metadata.permissions().mode() & SHARED_WRITE != 0 {
        return Err(format!(
            "{} belongs to another user or is writable by others",
            path.display()
        ));
    }
    let mut bytes = Vec::with_capacity(metadata.len().min(max) as usize + 1);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| describe(&error))?;
    if bytes.len() as u64 > max {
        return Err(format!("{} is larger than {max} bytes", path.display()));
    }
    Ok(Some(bytes))
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
