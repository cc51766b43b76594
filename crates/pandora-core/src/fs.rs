//! Filesystem primitives every state change goes through: atomic replacement of a file and
//! advisory locks that serialize concurrent `pandora` processes (DESIGN.md invariants 3, 4).

use std::io::Write;
use std::path::{Path, PathBuf};

use fs_err as fs;

/// Replaces `path` with `contents` so that a reader, or a crash at any instant, sees either the
/// old file or the new one, never a mix: write a temporary file beside it, fsync it, rename it
/// over `path`, then fsync the directory so the rename itself is durable.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    replace(path, contents, None)
}

/// Replaces `path` whole (a temporary file renamed over it) without an fsync: for what is
/// checked whenever it is read and made again when it fails the check (a crash may leave it
/// empty or torn), or for what the caller makes durable with one `syncfs` for many files.
pub fn write_unsynced(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let directory = parent_of(path);
    let temporary = || {
        tempfile::Builder::new()
            .prefix(".pandora-tmp-")
            .tempfile_in(&directory)
    };
    // The directory is made only when missing: most writes go where files already are.
    let mut temporary = match temporary() {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(&directory).and_then(|()| temporary())
        }
        made => made,
    }
    .map_err(|error| with_path(&error, &directory, "create a temporary file in"))?;
    temporary
        .write_all(contents)
        .map_err(|error| with_path(&error, temporary.path(), "write"))?;
    temporary
        .persist(path)
        .map_err(|error| with_path(&error.error, path, "replace"))?;
    Ok(())
}

/// [`write_atomic`] for a file others must read (0644): what a registry publishes, served by
/// a web server running as another user.
pub fn write_atomic_public(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    replace(path, contents, Some(0o644))
}

fn replace(path: &Path, contents: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let directory = parent_of(path);
    fs::create_dir_all(&directory)?;
    let mut temporary = tempfile::Builder::new()
        .prefix(".pandora-tmp-")
        .tempfile_in(&directory)
        .map_err(|error| with_path(&error, &directory, "create a temporary file in"))?;
    temporary
        .write_all(contents)
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(|error| with_path(&error, temporary.path(), "write"))?;
    if let Some(mode) = mode {
        temporary
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|error| with_path(&error, temporary.path(), "set the mode of"))?;
    }
    temporary
        .persist(path)
        .map_err(|error| with_path(&error.error, path, "replace"))?;
    sync_directory(&directory)
}

/// Opens a file Pandora wrote itself (a record, a summary) to read it, refusing what is not
/// a regular file: a FIFO would block the open and every read, `/dev/zero` never ends. The
/// open does not wait (`O_NONBLOCK`, which changes nothing for a regular file), and the
/// file's length is checked against `limit` before anything is read.
pub fn open_regular(path: &Path, limit: u64) -> std::io::Result<(fs::File, u64)> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    if metadata.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is {} bytes, more than the {limit} such a file can be",
                path.display(),
                metadata.len()
            ),
        ));
    }
    Ok((file, metadata.len()))
}

/// The whole of a regular file of at most `limit` bytes (see [`open_regular`]).
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let (file, length) = open_regular(path, limit)?;
    let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    // Bounded even if the file grows while it is read.
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Flushes a directory's entries (new names, renames) to disk.
pub fn sync_directory(directory: &Path) -> std::io::Result<()> {
    fs::File::open(directory)?.sync_all()
}

/// Flushes every dirty page of the filesystem holding `path`: one call makes a whole staged
/// tree durable, far cheaper than an fsync per file. It covers what [`syncfs_later`] left for
/// that filesystem.
pub fn syncfs(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let directory = fs_err::File::open(path)?;
    nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&directory))?;
    if let Ok(metadata) = directory.metadata() {
        deferred().retain(|(device, _)| *device != metadata.dev());
    }
    Ok(())
}

/// Filesystems whose flush [`syncfs_later`] left for later, by device, each with a path on it.
fn deferred() -> std::sync::MutexGuard<'static, Vec<(u64, PathBuf)>> {
    static DEFERRED: std::sync::Mutex<Vec<(u64, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    DEFERRED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Leaves the flush of `path`'s filesystem to the next [`syncfs`] of that filesystem in this
/// process, or else to [`sync_deferred`] when the command ends: a store commit and the
/// activation right after it then cost one flush, not two. Safe for what needs no ordering
/// against later writes but durability in the end: a crash before that flush is one before the
/// last step, which recovery finishes, and what comes later and refers to these writes (a
/// profile generation) is made durable by a `syncfs` that covers them first.
pub fn syncfs_later(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let device = fs_err::metadata(path)?.dev();
    let mut deferred = deferred();
    if !deferred.iter().any(|(known, _)| *known == device) {
        deferred.push((device, path.to_path_buf()));
    }
    Ok(())
}

/// Flushes every filesystem whose flush [`syncfs_later`] left and no [`syncfs`] has covered.
pub fn sync_deferred() -> std::io::Result<()> {
    let pending = std::mem::take(&mut *deferred());
    for (_, path) in pending {
        syncfs(&path).map_err(|error| with_path(&error, &path, "flush the filesystem of"))?;
    }
    Ok(())
}

/// The disk space `path` takes, in bytes: the blocks allocated to it and, for a directory,
/// to everything under it (what `du -s -B1` counts), so deleting it frees about this much.
/// Symbolic links are counted as themselves, never followed; a file with several hard links
/// under `path` is counted once. A missing `path` takes nothing.
pub fn disk_usage(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = path.symlink_metadata() else {
        return Ok(0);
    };
    if !meta.is_dir() {
        return Ok(meta.blocks() * 512);
    }
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    for item in walkdir::WalkDir::new(path) {
        let item = item.map_err(|error| {
            let at = error.path().unwrap_or(path).to_path_buf();
            let source: std::io::Error = error.into();
            with_path(&source, &at, "measure")
        })?;
        let meta = item
            .metadata()
            .map_err(|error| with_path(&error.into(), item.path(), "measure"))?;
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total += meta.blocks() * 512;
    }
    Ok(total)
}

/// Removes a file, link or whole tree if it exists, first making directories writable again:
/// store trees are sealed read-only, and a crash can leave one half-sealed in `tmp/`.
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = path.symlink_metadata() else {
        return Ok(());
    };
    if meta.is_dir() {
        for item in walkdir::WalkDir::new(path).into_iter().flatten() {
            if item.file_type().is_dir() {
                let _ =
                    fs_err::set_permissions(item.path(), std::fs::Permissions::from_mode(0o700));
            }
        }
        fs_err::remove_dir_all(path)
    } else {
        fs_err::remove_file(path)
    }
}

/// Moves each of `relatives` (paths under `root`, whose directories may be sealed read-only)
/// into one new directory under `rescue`: `stem`, else `stem-2`, ... (two rescues in the same
/// second must not overwrite each other). Each sealed directory is opened for the move and
/// sealed again. Returns where each went, in order.
pub fn rescue(
    root: &Path,
    relatives: &[PathBuf],
    rescue: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>, crate::IoError> {
    use std::os::unix::fs::PermissionsExt;
    let destination = (1..)
        .map(|n| match n {
            1 => rescue.join(stem),
            n => rescue.join(format!("{stem}-{n}")),
        })
        .find(|candidate| candidate.symlink_metadata().is_err())
        .unwrap_or_else(|| rescue.join(stem));
    let mut moved = Vec::with_capacity(relatives.len());
    for relative in relatives {
        let from = root.join(relative);
        let to = destination.join(relative);
        let parent = to.parent().unwrap_or(&destination);
        fs::create_dir_all(parent).map_err(crate::IoError::at("create", parent))?;
        let holder = from.parent().unwrap_or(root);
        let sealed = fs::metadata(holder)
            .map_err(crate::IoError::at("access", holder))?
            .permissions();
        fs::set_permissions(holder, std::fs::Permissions::from_mode(0o755))
            .map_err(crate::IoError::at("open", holder))?;
        let renamed = fs::rename(&from, &to).map_err(crate::IoError::at("move", &from));
        fs::set_permissions(holder, sealed).map_err(crate::IoError::at("seal", holder))?;
        renamed?;
        moved.push(to);
    }
    Ok(moved)
}

/// Removes everything inside `directory` (which may be missing), as [`remove_tree`] does.
pub fn clear_directory(directory: &Path) -> std::io::Result<()> {
    // What stands where the scratch directory goes (a file, a link) is cleared as its
    // contents would be: nothing else may be kept under that name.
    if fs_err::symlink_metadata(directory).is_ok_and(|metadata| !metadata.is_dir()) {
        fs_err::remove_file(directory).map_err(|error| with_path(&error, directory, "remove"))?;
        return Ok(());
    }
    let Ok(entries) = fs_err::read_dir(directory) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        remove_tree(&path).map_err(|error| with_path(&error, &path, "remove"))?;
    }
    Ok(())
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn with_path(error: &std::io::Error, path: &Path, action: &str) -> std::io::Error {
    std::io::Error::new(
        error.kind(),
        format!("failed to {action} `{}`: {error}", path.display()),
    )
}

/// An exclusive advisory lock held until dropped. Taken on a lock file beside the state it
/// guards, so two processes changing the same file take turns instead of losing an update.
#[derive(Debug)]
pub struct FileLock {
    /// Released when the file is closed.
    _file: std::fs::File,
    path: PathBuf,
}

/// The locks this process holds, by path: a second `flock` of the same file from this process
/// would wait for itself.
fn held() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    static HELD: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FileLock {
    /// Blocks until the lock at `path` (created if missing) is held.
    pub fn acquire(path: &Path) -> std::io::Result<FileLock> {
        fs::create_dir_all(parent_of(path))?;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?
            .into_parts()
            .0;
        wait_for_lock(&file, path)?;
        Ok(FileLock::held_as(file, path))
    }

    /// Blocks until the lock on `directory` itself is held: for a directory that must not get
    /// a lock file, such as a registry being published (everything in it is served).
    pub fn acquire_directory(directory: &Path) -> std::io::Result<FileLock> {
        let file = fs::File::open(directory)?.into_parts().0;
        wait_for_lock(&file, directory)?;
        Ok(FileLock::held_as(file, directory))
    }

    /// Whether this process holds the lock at `path`: one that does must not wait for it.
    pub fn held_here(path: &Path) -> bool {
        held().iter().any(|held| held == path)
    }

    fn held_as(file: std::fs::File, path: &Path) -> FileLock {
        held().push(path.to_path_buf());
        FileLock {
            _file: file,
            path: path.to_path_buf(),
        }
    }
}

/// Takes the lock on `file`; when another process holds it, says so first (a `lock-wait`
/// event, which the CLI shows), so that a wait is never a silent hang.
fn wait_for_lock(file: &std::fs::File, path: &Path) -> std::io::Result<()> {
    match file.try_lock() {
        Ok(()) => return Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {
            crate::events::Event::new("lock-wait")
                .with("path", path.display())
                .emit();
        }
        Err(std::fs::TryLockError::Error(error)) => return Err(with_path(&error, path, "lock")),
    }
    file.lock().map_err(|error| with_path(&error, path, "lock"))
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let mut held = held();
        if let Some(at) = held.iter().position(|held| *held == self.path) {
            held.swap_remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deferred_flush_is_covered_by_the_next_one_or_made_at_the_end() {
        use std::os::unix::fs::MetadataExt;
        let directory = tempfile::tempdir().unwrap();
        let device = fs_err::metadata(directory.path()).unwrap().dev();
        let pending = || deferred().iter().any(|(known, _)| *known == device);
        syncfs_later(directory.path()).unwrap();
        syncfs_later(directory.path()).unwrap();
        assert_eq!(
            deferred()
                .iter()
                .filter(|(known, _)| *known == device)
                .count(),
            1
        );
        syncfs(directory.path()).unwrap();
        assert!(!pending(), "a flush of the same filesystem covers it");
        syncfs_later(directory.path()).unwrap();
        sync_deferred().unwrap();
        assert!(!pending());
        assert!(syncfs_later(&directory.path().join("missing")).is_err());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporaries() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("state.acl");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs_err::read_dir(directory.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.acl"]);
    }

    #[test]
    fn public_files_are_world_readable_and_directory_locks_leave_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("index.acl");
        write_atomic_public(&path, b"x").unwrap();
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let lock = FileLock::acquire_directory(directory.path()).unwrap();
        drop(lock);
        assert_eq!(fs_err::read_dir(directory.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_lock_knows_it_is_held_by_this_process_until_dropped() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("lock");
        assert!(!FileLock::held_here(&path));
        let lock = FileLock::acquire(&path).unwrap();
        assert!(FileLock::held_here(&path));
        assert!(!FileLock::held_here(&directory.path().join("other")));
        drop(lock);
        assert!(!FileLock::held_here(&path));
    }

    #[test]
    fn atomic_write_error_names_the_path() {
        let error = write_atomic(Path::new("/proc/version/nope"), b"x").unwrap_err();
        assert!(error.to_string().contains("/proc/version"), "{error}");
    }

    /// A link where the scratch directory goes had everything in its target deleted by every
    /// sweep (a `tmp` linked to `/tmp`, say); a file there stopped every command.
    #[test]
    fn clearing_a_directory_never_reaches_through_a_link() {
        let directory = tempfile::tempdir().unwrap();
        let elsewhere = directory.path().join("elsewhere");
        fs_err::create_dir(&elsewhere).unwrap();
        fs_err::write(elsewhere.join("keep"), "keep").unwrap();
        let scratch = directory.path().join("tmp");
        std::os::unix::fs::symlink(&elsewhere, &scratch).unwrap();
        clear_directory(&scratch).unwrap();
        assert!(scratch.symlink_metadata().is_err());
        assert_eq!(
            fs_err::read_to_string(elsewhere.join("keep")).unwrap(),
            "keep"
        );
        fs_err::write(&scratch, "a file").unwrap();
        clear_directory(&scratch).unwrap();
        assert!(scratch.symlink_metadata().is_err());
        fs_err::create_dir(&scratch).unwrap();
        fs_err::write(scratch.join("left"), "").unwrap();
        clear_directory(&scratch).unwrap();
        assert!(scratch.is_dir() && fs_err::read_dir(&scratch).unwrap().next().is_none());
    }
}
