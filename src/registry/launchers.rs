//! Launcher stubs stored once: `blobs/launchers/<sha>` holds each launcher's bytes, by their
//! SHA-256, and a blob whose file starts with a launcher held there is kept *split*.
//!
//! A split blob `blobs/<sha>` keeps the whole package's length, so every offset in it is the
//! package's own, but its launcher region holds only a reference: [`SPLIT_MAGIC`], the
//! launcher's SHA-256 and its size (56 bytes; a real stub starts with an executable header,
//! never with the magic). The rest of the region is a hole that takes no disk space. Read
//! through [`open_blob`], it reads as the file it stands for; its name still promises the
//! SHA-256 of that whole file, which [`blob_sha256`] computes from the launcher's bytes (after
//! checking them against their own digest) and the blob's. A launcher found damaged is
//! deleted, so the blobs that need it are no longer intact and are fetched again, whole.
//!
//! The hashing state after a launcher's bytes is kept per process, keyed by the launcher
//! file's identity: twenty packages sharing one stub hash its megabyte once.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::download::{file_sha256, BlobLock};
use super::index::LauncherRef;
use crate::format::metadata::encode_hex;
use crate::format::package::Package;
use crate::format::FormatError;

/// Opens a split blob's launcher region.
pub const SPLIT_MAGIC: [u8; 16] = *b"PANDORA-SPLIT-01";

/// The reference's size: magic, SHA-256, size (u64 LE).
const HEADER_SIZE: usize = 16 + 32 + 8;

/// Launchers smaller than this stay inside their blobs: a second file would save nothing.
pub const MIN_SPLIT_LAUNCHER: u64 = 64 << 10;

/// Where launchers are kept, under the blob directory.
pub fn launchers_dir(blobs: &Path) -> PathBuf {
    blobs.join("launchers")
}

/// The file of the launcher `sha256`.
pub fn launcher_path(blobs: &Path, sha256: &[u8; 32]) -> PathBuf {
    launchers_dir(blobs).join(encode_hex(sha256))
}

/// The reference at the start of a split blob; `None` for a whole one.
pub fn split_reference(path: &Path) -> std::io::Result<Option<LauncherRef>> {
    let file = fs_err::File::open(path)?;
    let mut header = [0u8; HEADER_SIZE];
    match file.file().read_exact_at(&mut header, 0) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    if header[..16] != SPLIT_MAGIC {
        return Ok(None);
    }
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(&header[16..48]);
    let mut size = [0u8; 8];
    size.copy_from_slice(&header[48..56]);
    Ok(Some(LauncherRef {
        sha256,
        size: u64::from_le_bytes(size),
    }))
}

/// A launcher file's identity: a replaced file is hashed again.
type Identity = (u64, u64, u64, i64, i64);

fn identity(metadata: &std::fs::Metadata) -> Identity {
    (
        metadata.dev(),
        metadata.ino(),
        metadata.len(),
        metadata.mtime(),
        metadata.mtime_nsec(),
    )
}

/// Hash states after each launcher's bytes, by launcher SHA-256, with the file they came from.
type States = Mutex<HashMap<[u8; 32], (Identity, Sha256)>>;

fn states() -> &'static States {
    static STATES: OnceLock<States> = OnceLock::new();
    STATES.get_or_init(Default::default)
}

/// The SHA-256 state after the bytes of the launcher `launcher`, if `blobs` holds it intact
/// (hashed once per process and file). One found damaged is deleted (under its lock): whoever
/// needs it fetches a whole file again.
pub fn launcher_prefix(blobs: &Path, launcher: &LauncherRef) -> std::io::Result<Option<Sha256>> {
    let path = launcher_path(blobs, &launcher.sha256);
    let metadata = match fs_err::metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    if !metadata.is_file() {
        // A directory or a device there holds no launcher: it goes, as a damaged one does.
        let _lock = BlobLock::acquire(&launchers_dir(blobs), &encode_hex(&launcher.sha256))?;
        crate::fs::remove_tree(&path)?;
        return Ok(None);
    }
    let id = identity(&metadata);
    if let Ok(states) = states().lock() {
        if let Some((known, state)) = states.get(&launcher.sha256) {
            if *known == id {
                return Ok(Some(state.clone()));
            }
        }
    }
    // The launcher this `pandora` ships, once read (an install reads it to name entry points
    // by it), is hashed already: a file of the same digest is compared with its bytes instead.
    let same_as_local = local_launcher_if_read()
        .filter(|local| local.sha256 == launcher.sha256)
        .filter(|local| local.bytes.len() as u64 == launcher.size);
    let checked = match same_as_local {
        Some(local) => holds_exactly(&path, &local.bytes)?.then(|| local.state.clone()),
        None => hash_launcher(&path, launcher)?,
    };
    let Some(hasher) = checked else {
        let directory = launchers_dir(blobs);
        let name = encode_hex(&launcher.sha256);
        let _lock = BlobLock::acquire(&directory, &name)?;
        // Only the damaged file: one a concurrent process just put back is left alone.
        if fs_err::metadata(&path).is_ok_and(|now| identity(&now) == id) {
            fs_err::remove_file(&path)?;
        }
        return Ok(None);
    };
    if let Ok(mut states) = states().lock() {
        states.insert(launcher.sha256, (id, hasher.clone()));
    }
    Ok(Some(hasher))
}

/// Whether the file at `path` holds exactly `bytes`.
fn holds_exactly(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let mut held = Vec::with_capacity(bytes.len() + 1);
    fs_err::File::open(path)?
        .take(bytes.len() as u64 + 1)
        .read_to_end(&mut held)?;
    Ok(held == bytes)
}

/// The SHA-256 state after the bytes of the file at `path`, if they are `launcher`'s.
fn hash_launcher(path: &Path, launcher: &LauncherRef) -> std::io::Result<Option<Sha256>> {
    let mut hasher = Sha256::new();
    let mut file = fs_err::File::open(path)?;
    let mut buffer = vec![0u8; 256 << 10];
    let mut length = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        length += read as u64;
    }
    let digest: [u8; 32] = hasher.clone().finalize().into();
    Ok((length == launcher.size && digest == launcher.sha256).then_some(hasher))
}

/// The SHA-256 of the whole file a blob stands for (split or not). A split blob whose launcher
/// is missing or damaged is an error: it cannot be what its name says.
pub fn blob_sha256(path: &Path) -> std::io::Result<[u8; 32]> {
    let Some(reference) = split_reference(path)? else {
        return file_sha256(path);
    };
    let blobs = path.parent().unwrap_or(Path::new("."));
    let Some(mut hasher) = launcher_prefix(blobs, &reference)? else {
        return Err(std::io::Error::other(format!(
            "its launcher {} is missing or damaged",
            launcher_path(blobs, &reference.sha256).display()
        )));
    };
    let mut file = fs_err::File::open(path)?;
    file.seek(SeekFrom::Start(reference.size))?;
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buffer[..read]);
    }
}

/// Opens a blob as the package it stands for, split or not.
pub fn open_blob(path: &Path) -> Result<Package, FormatError> {
    let reference = split_reference(path).map_err(|source| FormatError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    match reference {
        None => Package::open(path),
        Some(reference) => {
            let blobs = path.parent().unwrap_or(Path::new("."));
            Package::open_split(
                path,
                &launcher_path(blobs, &reference.sha256),
                reference.size,
            )
        }
    }
}

/// Writes the whole file a blob stands for to `target` (made with `create_new`), and returns
/// its SHA-256 as written.
pub fn materialize(blob: &Path, target: &Path) -> std::io::Result<[u8; 32]> {
    let mut output = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 << 10];
    let mut copy = |input: &mut dyn Read, hasher: &mut Sha256| -> std::io::Result<()> {
        loop {
            let read = input.read(&mut buffer)?;
            if read == 0 {
                return Ok(());
            }
            hasher.update(&buffer[..read]);
            output.write_all(&buffer[..read])?;
        }
    };
    let mut file = fs_err::File::open(blob)?;
    if let Some(reference) = split_reference(blob)? {
        let blobs = blob.parent().unwrap_or(Path::new("."));
        let mut launcher =
            fs_err::File::open(launcher_path(blobs, &reference.sha256))?.take(reference.size);
        copy(&mut launcher, &mut hasher)?;
        file.seek(SeekFrom::Start(reference.size))?;
    }
    copy(&mut file, &mut hasher)?;
    output.sync_all()?;
    Ok(hasher.finalize().into())
}

/// The launcher beside this `pandora` (as `pandora build` finds it), read and hashed once per
/// process: entry points run as it, and packages built by this release start with it.
#[derive(Debug)]
pub struct LocalLauncher {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Their SHA-256.
    pub sha256: [u8; 32],
    /// The hash state after them, for the blobs that start with them.
    state: Sha256,
}

static LOCAL: OnceLock<Option<LocalLauncher>> = OnceLock::new();

/// [`local_launcher`] if this process has read it already, without reading it.
fn local_launcher_if_read() -> Option<&'static LocalLauncher> {
    LOCAL.get().and_then(Option::as_ref)
}

/// The launcher beside this `pandora`, or one directory up (a test binary in
/// `target/*/deps`); `None` when there is none or it cannot be read.
pub fn local_launcher() -> Option<&'static LocalLauncher> {
    LOCAL
        .get_or_init(|| {
            let exe = std::env::current_exe().ok()?;
            let path = exe
                .ancestors()
                .skip(1)
                .take(2)
                .map(|directory| directory.join("pandora-launcher"))
                .find(|candidate| candidate.is_file())?;
            let bytes = fs_err::read(&path).ok()?;
            let mut state = Sha256::new();
            state.update(&bytes);
            let sha256 = state.clone().finalize().into();
            Some(LocalLauncher {
                path,
                bytes,
                sha256,
                state,
            })
        })
        .as_ref()
}

/// Puts the launcher this `pandora` ships into `blobs/launchers/` when it is `launcher` (same
/// size and SHA-256) and not held yet: a registry's packages built by this release then need
/// only their bytes after it to travel, even into a new home. Returns whether it is held now.
pub fn seed(blobs: &Path, launcher: &LauncherRef) -> std::io::Result<bool> {
    let path = launcher_path(blobs, &launcher.sha256);
    if path.is_file() {
        return Ok(true);
    }
    if launcher.size < MIN_SPLIT_LAUNCHER {
        return Ok(false);
    }
    let Some(local) = local_launcher()
        .filter(|local| local.bytes.len() as u64 == launcher.size)
        .filter(|local| local.sha256 == launcher.sha256)
    else {
        return Ok(false);
    };
    let stored = put_launcher(blobs, launcher, |file| {
        file.write_all(&local.bytes)?;
        Ok(Some(local.state.clone()))
    })?;
    Ok(stored != Stored::NotIt)
}

/// Creates `partial` afresh, never through whatever a crash or a hand left at that name (a
/// link would have the launcher written wherever it points).
fn create_partial(partial: &Path) -> std::io::Result<fs_err::File> {
    match fs_err::symlink_metadata(partial) {
        Ok(_) => crate::fs::remove_tree(partial)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(partial)
}

/// What [`store_launcher`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Copied now from the file's first bytes, which were checked to be that launcher.
    Copied,
    /// Held already: the file's first bytes were not read.
    Held,
    /// The file's first bytes are not that launcher.
    NotIt,
}

/// Makes sure `blobs/launchers/` holds `launcher`, copying it from the first bytes of `whole`
/// (a verified package file) if not.
fn store_launcher(blobs: &Path, whole: &Path, launcher: &LauncherRef) -> std::io::Result<Stored> {
    if launcher_prefix(blobs, launcher)?.is_some() {
        return Ok(Stored::Held);
    }
    put_launcher(blobs, launcher, |output| {
        let mut input = fs_err::File::open(whole)?.take(launcher.size);
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 256 << 10];
        loop {
            let read = input.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            output.write_all(&buffer[..read])?;
        }
        let digest: [u8; 32] = hasher.clone().finalize().into();
        // A file shorter than the launcher hashes to something else.
        Ok((digest == launcher.sha256).then_some(hasher))
    })
}

/// Puts `launcher` into `blobs/launchers/` under its lock, unless it is there intact (put
/// there by another process meanwhile): `write` fills a fresh partial file and returns the
/// hash state after the launcher's bytes, or `None` when what it wrote is not that launcher.
fn put_launcher(
    blobs: &Path,
    launcher: &LauncherRef,
    write: impl FnOnce(&mut fs_err::File) -> std::io::Result<Option<Sha256>>,
) -> std::io::Result<Stored> {
    let directory = launchers_dir(blobs);
    fs_err::create_dir_all(&directory)?;
    let name = encode_hex(&launcher.sha256);
    let _lock = BlobLock::acquire(&directory, &name)?;
    let target = directory.join(&name);
    let held = match fs_err::symlink_metadata(&target) {
        // Checked here, under the lock: `launcher_prefix` would take the lock again to delete
        // a damaged one.
        Ok(metadata) if metadata.is_file() => match hash_launcher(&target, launcher)? {
            Some(state) => Some((metadata, state)),
            None => {
                fs_err::remove_file(&target)?;
                None
            }
        },
        // Not a launcher (a directory, say): replaced.
        Ok(_) => {
            crate::fs::remove_tree(&target)?;
            None
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(error),
    };
    if let Some((metadata, state)) = held {
        remember(launcher, &metadata, state);
        return Ok(Stored::Held);
    }
    let partial = directory.join(format!("{name}.partial"));
    let written = create_partial(&partial).and_then(|mut file| write(&mut file));
    match written {
        Ok(Some(state)) => {
            // Not flushed, as blobs are not: a torn launcher fails the hash of every blob
            // read through it, which is then fetched again.
            if let Err(error) = fs_err::rename(&partial, &target) {
                let _ = fs_err::remove_file(&partial);
                return Err(error);
            }
            // The state after its bytes, so the blobs split over it are not hashed from the
            // start again by this process.
            if let Ok(metadata) = fs_err::metadata(&target) {
                remember(launcher, &metadata, state);
            }
            Ok(Stored::Copied)
        }
        Ok(None) => {
            let _ = fs_err::remove_file(&partial);
            Ok(Stored::NotIt)
        }
        Err(error) => {
            let _ = fs_err::remove_file(&partial);
            Err(error)
        }
    }
}

/// Keeps the hash state after `launcher`'s bytes for the file `metadata` describes.
fn remember(launcher: &LauncherRef, metadata: &std::fs::Metadata, state: Sha256) {
    if let Ok(mut states) = states().lock() {
        states.insert(launcher.sha256, (identity(metadata), state));
    }
}

/// Writes the reference that opens a split blob into `file`'s first bytes.
pub fn write_reference(file: &std::fs::File, launcher: &LauncherRef) -> std::io::Result<()> {
    let mut header = [0u8; HEADER_SIZE];
    header[..16].copy_from_slice(&SPLIT_MAGIC);
    header[16..48].copy_from_slice(&launcher.sha256);
    header[48..].copy_from_slice(&launcher.size.to_le_bytes());
    file.write_all_at(&header, 0)
}

/// Turns `partial`, a whole package file whose SHA-256 was just verified, into a split blob
/// when it starts with `launcher` (checked here, not taken from the index) and the launcher is
/// stored (stored now if need be). Returns whether it did; a file system that cannot punch
/// holes leaves the file whole.
pub fn split_in_place(
    blobs: &Path,
    partial: &Path,
    launcher: &LauncherRef,
) -> std::io::Result<bool> {
    if launcher.size < MIN_SPLIT_LAUNCHER || split_reference(partial)?.is_some() {
        return Ok(false);
    }
    // The index's word is not enough: the file must start with exactly that launcher, which
    // copying it checks; a launcher held already was not compared with these bytes.
    match store_launcher(blobs, partial, launcher)? {
        Stored::Copied => {}
        Stored::NotIt => return Ok(false),
        Stored::Held => {
            let mut hasher = Sha256::new();
            let copied = std::io::copy(
                &mut fs_err::File::open(partial)?.take(launcher.size),
                &mut hasher,
            )?;
            let digest: [u8; 32] = hasher.finalize().into();
            if copied != launcher.size || digest != launcher.sha256 {
                return Ok(false);
            }
        }
    }
    let file = fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .open(partial)?;
    if file.metadata()?.len() <= launcher.size {
        return Ok(false);
    }
    use std::os::fd::AsRawFd;
    let Ok(length) = i64::try_from(launcher.size) else {
        return Ok(false);
    };
    let punched = nix::fcntl::fallocate(
        file.as_raw_fd(),
        nix::fcntl::FallocateFlags::FALLOC_FL_PUNCH_HOLE
            | nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
        0,
        length,
    );
    if punched.is_err() {
        return Ok(false);
    }
    write_reference(file.file(), launcher)?;
    Ok(true)
}
