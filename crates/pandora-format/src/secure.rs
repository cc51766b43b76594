//! Believing a directory or file only when nobody but this user (or, where allowed, root) could
//! have put it there: the checks ssh makes of `~/.ssh` (DESIGN.md invariant 8), shared by the
//! trusted keys ([`crate::trust`]) and the launcher's cache.
//!
//! A directory is believed when it belongs to an allowed owner and is writable by nobody else,
//! and every directory above it belongs to this user or root and is writable by nobody else
//! unless sticky (as `/tmp` is): whoever may rename entries on the way can swap the directory
//! between a check and a use. A file is opened without following a link and without blocking
//! (a FIFO never hangs the reader), then judged by what the open file is: a regular file of an
//! allowed owner, writable by nobody else, and no larger than the caller's bound.

use std::io::{ErrorKind, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use fs_err as fs;
use fs_err::os::unix::fs::OpenOptionsExt;
use nix::libc;

/// Write permission for group or others.
pub const SHARED_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// The user this process acts as: whose files it creates, and whose files it believes.
pub fn effective_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Who may own what is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owners {
    /// Only the running user (a cache this process made).
    Me,
    /// The running user or root (configuration an administrator may provide, as ssh allows).
    MeOrRoot,
}

impl Owners {
    fn allow(self, uid: u32) -> bool {
        uid == effective_uid() || (self == Owners::MeOrRoot && uid == 0)
    }
}

/// Why a path is not believed. Every message names the offending path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsafe {
    /// Expected a directory.
    #[error("{} is not a directory", .0.display())]
    NotDirectory(PathBuf),
    /// Expected a regular file (a FIFO, device, socket or directory is never read).
    #[error("{} is not a regular file", .0.display())]
    NotFile(PathBuf),
    /// A symbolic link where links are not followed.
    #[error("{} is a symbolic link, which is not followed here", .0.display())]
    Link(PathBuf),
    /// Owned by a user who is not allowed.
    #[error("{} belongs to user {owner}, not to user {me} running this", path.display())]
    Owner {
        /// The path.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The running user.
        me: u32,
    },
    /// Writable by group or others.
    #[error("{} is writable by group or others (mode {mode:04o})", path.display())]
    Writable {
        /// The path.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// A directory above the checked one belongs to another user.
    #[error("{}, above {}, belongs to user {owner}", path.display(), below.display())]
    AncestorOwner {
        /// The directory above.
        path: PathBuf,
        /// The directory checked.
        below: PathBuf,
        /// Its owner.
        owner: u32,
    },
    /// A directory above the checked one others may rename entries in.
    #[error(
        "{}, above {}, is writable by group or others without the sticky bit (mode {mode:04o})",
        path.display(),
        below.display()
    )]
    AncestorWritable {
        /// The directory above.
        path: PathBuf,
        /// The directory checked.
        below: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// A file larger than the caller allows.
    #[error("{} is larger than {max} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound.
        max: u64,
    },
    /// It could not be examined.
    #[error("{0}")]
    Io(String),
}

/// An I/O error and its causes on one line, each cause once.
fn io(error: &std::io::Error) -> Unsafe {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    Unsafe::Io(text)
}

/// Why an open that does not follow links failed: [`Unsafe::Link`] when a link is there (the
/// system says only "too many levels of links", and fs-err keeps even that to itself).
pub fn refused_open(path: &Path, error: &std::io::Error) -> Unsafe {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => Unsafe::Link(path.to_path_buf()),
        _ => io(error),
    }
}

/// Owner and mode of `path` (described by `metadata`, which the caller got without following
/// a final link, or from an open file).
fn check_owner_and_mode(
    path: &Path,
    metadata: &std::fs::Metadata,
    owners: Owners,
) -> Result<(), Unsafe> {
    if !owners.allow(metadata.uid()) {
        return Err(Unsafe::Owner {
            path: path.to_path_buf(),
            owner: metadata.uid(),
            me: effective_uid(),
        });
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & SHARED_WRITE != 0 {
        return Err(Unsafe::Writable {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// A directory of an allowed owner that nobody else may write (`metadata` describes it).
pub fn check_directory(
    path: &Path,
    metadata: &std::fs::Metadata,
    owners: Owners,
) -> Result<(), Unsafe> {
    if metadata.file_type().is_symlink() {
        return Err(Unsafe::Link(path.to_path_buf()));
    }
    if !metadata.is_dir() {
        return Err(Unsafe::NotDirectory(path.to_path_buf()));
    }
    check_owner_and_mode(path, metadata, owners)
}

/// [`check_directory`] on a path, without following a link there; `false` when nothing is
/// there.
pub fn check_directory_if_present(path: &Path, owners: Owners) -> Result<bool, Unsafe> {
    match fs::symlink_metadata(path) {
        Ok(metadata) => check_directory(path, &metadata, owners).map(|()| true),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
        Err(error) => Err(io(&error)),
    }
}

/// Every directory above `path` belongs to this user or to root and is writable by nobody else
/// unless sticky. Both spellings are checked: a link on the way is resolved by the canonical
/// one, and the directory holding that link is only on the absolute one.
pub fn check_ancestors(path: &Path) -> Result<(), Unsafe> {
    let absolute = std::path::absolute(path).map_err(|error| io(&error))?;
    let me = effective_uid();
    let check = |ancestor: &Path, metadata: &std::fs::Metadata| {
        let mode = metadata.permissions().mode() & 0o7777;
        if metadata.uid() != me && metadata.uid() != 0 {
            return Err(Unsafe::AncestorOwner {
                path: ancestor.to_path_buf(),
                below: path.to_path_buf(),
                owner: metadata.uid(),
            });
        }
        if mode & SHARED_WRITE != 0 && mode & STICKY == 0 {
            return Err(Unsafe::AncestorWritable {
                path: ancestor.to_path_buf(),
                below: path.to_path_buf(),
                mode,
            });
        }
        Ok(())
    };
    // One lstat per directory on the way, as the launcher's warm start runs this: only when a
    // link is met (or `path` is one) is the path resolved, and the directories above where it
    // really is checked too.
    let mut linked = fs::symlink_metadata(&absolute)
        .map_err(|error| io(&error))?
        .file_type()
        .is_symlink();
    for ancestor in absolute.ancestors().skip(1) {
        let mut metadata = fs::symlink_metadata(ancestor).map_err(|error| io(&error))?;
        if metadata.file_type().is_symlink() {
            linked = true;
            metadata = fs::metadata(ancestor).map_err(|error| io(&error))?;
        }
        check(ancestor, &metadata)?;
    }
    if linked {
        let canonical = fs::canonicalize(path).map_err(|error| io(&error))?;
        for ancestor in canonical.ancestors().skip(1) {
            check(
                ancestor,
                &fs::metadata(ancestor).map_err(|error| io(&error))?,
            )?;
        }
    }
    Ok(())
}

/// A directory (a link to one is followed, as ssh follows `~/.ssh`) that only `owners` could
/// have filled: [`check_directory`] on it and [`check_ancestors`]. `false` when it does not
/// exist.
pub fn check_directory_tree(path: &Path, owners: Owners) -> Result<bool, Unsafe> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(io(&error)),
    };
    check_directory(path, &metadata, owners)?;
    check_ancestors(path)?;
    Ok(true)
}

/// Reads a file only `owners` could have written, at most `max` bytes: opened without
/// following a link at its last component and without blocking (so a FIFO never hangs, and no
/// terminal becomes the controlling one), then judged by the open file itself, so nothing can
/// be swapped between the check and the read. `None` when there is nothing at `path`.
pub fn read_file(path: &Path, owners: Owners, max: u64) -> Result<Option<Vec<u8>>, Unsafe> {
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(refused_open(path, &error)),
    };
    let metadata = file.metadata().map_err(|error| io(&error))?;
    if !metadata.is_file() {
        return Err(Unsafe::NotFile(path.to_path_buf()));
    }
    check_owner_and_mode(path, &metadata, owners)?;
    let too_large = || Unsafe::TooLarge {
        path: path.to_path_buf(),
        max,
    };
    if metadata.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize + 1);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| io(&error))?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_only_when_regular_private_and_small() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("f");
        fs::write(&path, b"hello").unwrap();
        fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            read_file(&path, Owners::Me, 5).unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        assert!(matches!(
            read_file(&path, Owners::Me, 4),
            Err(Unsafe::TooLarge { max: 4, .. })
        ));
        fs::set_permissions(&path, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert!(matches!(
            read_file(&path, Owners::Me, 5),
            Err(Unsafe::Writable { mode: 0o620, .. })
        ));
        let link = directory.path().join("link");
        fs_err::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert_eq!(
            read_file(&link, Owners::MeOrRoot, 5),
            Err(Unsafe::Link(link.clone()))
        );
        assert_eq!(
            read_file(Path::new("/dev/null"), Owners::MeOrRoot, 5),
            Err(Unsafe::NotFile(PathBuf::from("/dev/null")))
        );
        let fifo = directory.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(
            read_file(&fifo, Owners::Me, 5),
            Err(Unsafe::NotFile(fifo.clone()))
        );
        assert_eq!(
            read_file(&directory.path().join("missing"), Owners::Me, 5),
            Ok(None)
        );
    }

    #[test]
    fn directories_and_the_path_above_them_must_be_closed_to_others() {
        let directory = tempfile::tempdir().unwrap();
        let inner = directory.path().join("inner");
        fs::create_dir(&inner).unwrap();
        fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(check_directory_tree(&inner, Owners::Me), Ok(true));
        assert_eq!(
            check_directory_tree(&inner.join("missing"), Owners::Me),
            Ok(false)
        );
        fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(matches!(
            check_directory_tree(&inner, Owners::Me),
            Err(Unsafe::Writable { mode: 0o1777, .. })
        ));
        // Sticky above is fine; without the sticky bit it is not.
        let below = inner.join("below");
        fs::create_dir(&below).unwrap();
        fs::set_permissions(&below, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(check_directory_tree(&below, Owners::Me), Ok(true));
        fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            check_directory_tree(&below, Owners::Me),
            Err(Unsafe::AncestorWritable { .. })
        ));
        fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700)).unwrap();
        let file = directory.path().join("file");
        fs::write(&file, "").unwrap();
        assert_eq!(
            check_directory_tree(&file, Owners::Me),
            Err(Unsafe::NotDirectory(file.clone()))
        );
    }

    #[test]
    fn the_directories_above_where_a_link_leads_are_checked_too() {
        let directory = tempfile::tempdir().unwrap();
        let open = directory.path().join("open");
        let cache = open.join("cache");
        fs::create_dir_all(&cache).unwrap();
        fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let private = directory.path().join("private");
        fs::create_dir(&private).unwrap();
        fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        // The link itself, and a link on the way: either leads under a world-writable directory.
        std::os::unix::fs::symlink(&cache, private.join("cache")).unwrap();
        std::os::unix::fs::symlink(&open, private.join("way")).unwrap();
        for path in [private.join("cache"), private.join("way/cache")] {
            assert!(
                matches!(
                    check_directory_tree(&path, Owners::Me),
                    Err(Unsafe::AncestorWritable { .. })
                ),
                "{path:?}"
            );
        }
        fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            check_directory_tree(&private.join("way/cache"), Owners::Me),
            Ok(true)
        );
    }
}
