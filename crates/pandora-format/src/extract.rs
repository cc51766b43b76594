//! Streaming extraction of slots into a directory, with every archive entry validated
//! (DESIGN.md invariant 6) and the stored bytes hashed on the way through: the caller extracts
//! into a private staging directory and only keeps it if every slot's hash matched.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use super::metadata::encode_hex;
use super::package::{Package, VerifiedSlot};
use super::slot::Operation;
use super::FormatError;

/// Bounds on what extraction may write, so a decompression bomb is refused instead of filling
/// the disk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total bytes of file content across all slots.
    pub max_bytes: u64,
    /// Total archive entries across all slots.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 32 << 30,
            max_entries: 1_000_000,
        }
    }
}

/// What one package's extraction has written so far, shared by its slots: totals for the
/// limits, and the paths seen, so no two entries (in any slot) write the same file.
#[derive(Debug, Default)]
pub struct Extraction {
    limits: Limits,
    bytes: u64,
    entries: u64,
    /// Lowercased relative path of every entry to whether it is a directory.
    seen: HashMap<String, bool>,
    symlinks: HashSet<PathBuf>,
    /// Directories whose mode is applied last, so read-only ones can still be filled.
    directory_modes: Vec<(PathBuf, u32)>,
    /// Directories known to exist (made here), so each file costs no extra stat or mkdir.
    made: HashSet<PathBuf>,
    /// One copy buffer for every file.
    buffer: Vec<u8>,
}

impl Extraction {
    /// A new extraction under `limits`.
    pub fn new(limits: Limits) -> Self {
        Extraction {
            limits,
            ..Extraction::default()
        }
    }

    /// Bytes of file content written.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Extracts one slot under `root`. Tar slots unpack at the root; single-file slots go to
    /// their target. The stored bytes are hashed as they are read and must match the signed
    /// SHA-256; on any error the caller discards `root`.
    pub fn extract_slot(
        &mut self,
        package: &Package,
        slot: &VerifiedSlot,
        root: &Path,
    ) -> Result<(), FormatError> {
        let unsafe_entry = |entry: &str, reason: String| FormatError::UnsafeEntry {
            path: package.path().to_path_buf(),
            slot: slot.index,
            entry: entry.to_string(),
            reason,
        };
        let read_error = |source: io::Error| FormatError::SlotData {
            path: package.path().to_path_buf(),
            slot: slot.index,
            id: slot.id.clone(),
            source,
        };
        let mut hashed = HashingReader::new(package.slot_reader(&slot.descriptor));
        let outcome = self.decode_slot(&mut hashed, slot, root, &unsafe_entry, &read_error);
        // Whatever the decoder left unread (tar padding, trailing bytes, or everything after a
        // decoding error) is hashed too: the signature covers every stored byte, and a hash
        // mismatch is the real cause when tampered bytes also broke the decoding.
        let drained = io::copy(&mut hashed, &mut io::sink());
        let actual = hashed.finish();
        if actual != slot.sha256 {
            return Err(FormatError::CheckFailed {
                path: package.path().to_path_buf(),
                check: format!("slot {} ({}) sha256", slot.index, slot.id),
                reason: format!(
                    "stored bytes hash to {}, the signed metadata says {}",
                    encode_hex(&actual),
                    encode_hex(&slot.sha256)
                ),
            });
        }
        outcome?;
        drained.map_err(read_error)?;
        Ok(())
    }

    fn decode_slot(
        &mut self,
        hashed: &mut HashingReader<super::package::RangeReader<'_>>,
        slot: &VerifiedSlot,
        root: &Path,
        unsafe_entry: &dyn Fn(&str, String) -> FormatError,
        read_error: &dyn Fn(io::Error) -> FormatError,
    ) -> Result<(), FormatError> {
        let decoded: Box<dyn Read + '_> = match slot.operations.compression() {
            None => Box::new(hashed),
            Some(Operation::Gzip) => Box::new(GzDecoder::new(hashed)),
            Some(Operation::Zstd) => {
                Box::new(zstd::stream::read::Decoder::new(hashed).map_err(read_error)?)
            }
            Some(other) => {
                return Err(unsafe_entry(
                    &slot.id,
                    format!("operation `{}` is not supported", other.name()),
                ));
            }
        };
        if slot.operations.is_archive() {
            return self.unpack_archive(decoded, root, unsafe_entry, read_error);
        }
        let target = slot.target.clone().unwrap_or_else(|| slot.id.clone());
        let target = target
            .trim_start_matches("{workenv}")
            .trim_start_matches('/')
            .to_string();
        let relative =
            safe_relative(Path::new(&target)).map_err(|reason| unsafe_entry(&target, reason))?;
        self.claim(&relative, false)
            .map_err(|reason| unsafe_entry(&target, reason))?;
        self.write_file(
            root,
            &relative,
            slot.mode,
            decoded,
            &|reason| unsafe_entry(&target, reason),
            read_error,
        )
    }

    /// Applies directory modes (last, so read-only directories could be filled first).
    pub fn finish(self) -> Result<u64, FormatError> {
        for (path, mode) in self.directory_modes.iter().rev() {
            fs::set_permissions(path, fs::Permissions::from_mode(*mode)).map_err(|source| {
                FormatError::Write {
                    path: path.clone(),
                    source,
                }
            })?;
        }
        Ok(self.bytes)
    }

    /// Creates `path`'s parent directory unless this extraction already made it.
    fn make_parent(&mut self, path: &Path) -> Result<(), FormatError> {
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        if self.made.contains(parent) {
            return Ok(());
        }
        create_directory(parent)?;
        for ancestor in parent.ancestors() {
            if !self.made.insert(ancestor.to_path_buf()) {
                break;
            }
        }
        Ok(())
    }

    /// Records a path; refuses a second entry for it (or one differing only in case), except
    /// directories, which may be named again.
    fn claim(&mut self, relative: &Path, is_directory: bool) -> Result<(), String> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(format!("more than {} entries", self.limits.max_entries));
        }
        if let Some(link) = relative
            .ancestors()
            .skip(1)
            .find(|ancestor| self.symlinks.contains(*ancestor))
        {
            return Err(format!(
                "it goes through the symbolic link `{}`",
                link.display()
            ));
        }
        let key = relative.to_string_lossy().to_lowercase();
        match self.seen.get(&key) {
            Some(true) if is_directory => Ok(()),
            Some(_) => {
                Err("a second entry for the same path (or one differing only in case)".into())
            }
            None => {
                self.seen.insert(key, is_directory);
                Ok(())
            }
        }
    }

    fn unpack_archive(
        &mut self,
        decoded: Box<dyn Read + '_>,
        root: &Path,
        unsafe_entry: &dyn Fn(&str, String) -> FormatError,
        read_error: &dyn Fn(io::Error) -> FormatError,
    ) -> Result<(), FormatError> {
        let mut archive = tar::Archive::new(decoded);
        for entry in archive.entries().map_err(read_error)? {
            let mut entry = entry.map_err(read_error)?;
            let raw_path = entry.path().map_err(read_error)?.into_owned();
            let shown = raw_path.display().to_string();
            let reject = |reason: &str| unsafe_entry(&shown, reason.to_string());
            let header = entry.header();
            let kind = header.entry_type();
            let mode = header.mode().map_err(read_error)?;
            if mode & 0o6000 != 0 {
                return Err(reject("setuid or setgid bit"));
            }
            let relative = match safe_relative(&raw_path) {
                Ok(relative) => relative,
                // `./` itself: the root, which exists.
                Err(_)
                    if kind.is_dir() && raw_path.components().all(|c| c == Component::CurDir) =>
                {
                    continue
                }
                Err(reason) => return Err(reject(&reason)),
            };
            match kind {
                tar::EntryType::Directory => {
                    self.claim(&relative, true)
                        .map_err(|reason| reject(&reason))?;
                    let path = root.join(&relative);
                    if !self.made.contains(&path) {
                        create_directory(&path)?;
                        self.made.insert(path.clone());
                    }
                    self.directory_modes.push((path, (mode & 0o777) | 0o700));
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    self.claim(&relative, false)
                        .map_err(|reason| reject(&reason))?;
                    self.write_file(
                        root,
                        &relative,
                        mode & 0o777,
                        &mut entry,
                        &|reason| reject(&reason),
                        read_error,
                    )?;
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name()
                        .map_err(read_error)?
                        .ok_or_else(|| reject("a symbolic link without a target"))?
                        .into_owned();
                    check_link(&relative, &target).map_err(|reason| reject(&reason))?;
                    self.claim(&relative, false)
                        .map_err(|reason| reject(&reason))?;
                    let path = root.join(&relative);
                    self.make_parent(&path)?;
                    std::os::unix::fs::symlink(&target, &path)
                        .map_err(|source| FormatError::Write { path, source })?;
                    self.symlinks.insert(relative);
                }
                tar::EntryType::Link => return Err(reject("hard links are not allowed")),
                tar::EntryType::Char | tar::EntryType::Block => {
                    return Err(reject("device files are not allowed"))
                }
                tar::EntryType::Fifo => return Err(reject("FIFOs are not allowed")),
                other => {
                    return Err(reject(&format!(
                        "entries of type {other:?} are not allowed"
                    )))
                }
            }
        }
        Ok(())
    }

    fn write_file(
        &mut self,
        root: &Path,
        relative: &Path,
        mode: u32,
        mut content: impl Read,
        reject: &dyn Fn(String) -> FormatError,
        read_error: &dyn Fn(io::Error) -> FormatError,
    ) -> Result<(), FormatError> {
        let path = root.join(relative);
        self.make_parent(&path)?;
        // create_new: never follow or replace anything already there.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| FormatError::Write {
                path: path.clone(),
                source,
            })?;
        let remaining = self.limits.max_bytes.saturating_sub(self.bytes);
        let mut limited = (&mut content).take(remaining.saturating_add(1));
        if self.buffer.is_empty() {
            self.buffer = vec![0u8; 256 << 10];
        }
        let written = copy(&mut limited, &mut file, &mut self.buffer, &path, read_error)?;
        if written > remaining {
            return Err(reject(format!(
                "the package expands past {} bytes (a decompression bomb?)",
                self.limits.max_bytes
            )));
        }
        self.bytes += written;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|source| FormatError::Write { path, source })?;
        Ok(())
    }
}

/// Copies, telling read errors (the package) from write errors (the destination).
fn copy(
    reader: &mut impl Read,
    writer: &mut impl Write,
    buffer: &mut [u8],
    path: &Path,
    read_error: &dyn Fn(io::Error) -> FormatError,
) -> Result<u64, FormatError> {
    let mut total = 0u64;
    loop {
        let read = match reader.read(buffer) {
            Ok(0) => return Ok(total),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(read_error(error)),
        };
        writer
            .write_all(&buffer[..read])
            .map_err(|source| FormatError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        total += read as u64;
    }
}

fn create_directory(path: &Path) -> Result<(), FormatError> {
    match fs::create_dir_all(path) {
        Ok(()) if path.is_dir() && !path.is_symlink() => Ok(()),
        Ok(()) => Err(FormatError::Write {
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::AlreadyExists, "not a directory"),
        }),
        Err(source) => Err(FormatError::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A path made only of normal components: no `..`, not absolute, not empty.
pub fn safe_relative(path: &Path) -> Result<PathBuf, String> {
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` in the path".into()),
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path".into()),
        }
    }
    if relative.as_os_str().is_empty() {
        return Err("an empty path".into());
    }
    Ok(relative)
}

/// A symbolic link at `link` (relative to the tree's root) must be relative and resolve inside
/// the tree. Used when extracting and when building, so both refuse the same links.
pub fn check_link(link: &Path, target: &Path) -> Result<(), String> {
    if target.is_absolute() {
        return Err(format!(
            "a symbolic link to the absolute path `{}`",
            target.display()
        ));
    }
    let mut depth = link.components().count() as i64 - 1;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return Err(format!(
                "a symbolic link leaving the package (`{}`)",
                target.display()
            ));
        }
    }
    Ok(())
}

/// Hashes everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        Ok(read)
    }
}

/// Extracts every slot of a verified package into a new directory `destination` (which must
/// not exist): into a staging directory beside it first, renamed into place only when every
/// slot extracted and hashed correctly. On failure nothing is left behind.
pub fn unpack(
    package: &Package,
    slots: &[VerifiedSlot],
    destination: &Path,
    limits: Limits,
) -> Result<u64, FormatError> {
    if destination.symlink_metadata().is_ok() {
        return Err(FormatError::Write {
            path: destination.to_path_buf(),
            source: io::Error::new(io::ErrorKind::AlreadyExists, "it already exists"),
        });
    }
    let parent = match destination.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = tempfile::Builder::new()
        .prefix(".pandora-unpack-")
        .tempdir_in(&parent)
        .map_err(|source| FormatError::Write {
            path: parent.clone(),
            source,
        })?;
    let mut extraction = Extraction::new(limits);
    for slot in slots {
        extraction.extract_slot(package, slot, staging.path())?;
    }
    let bytes = extraction.finish()?;
    let staged = staging.keep();
    fs::set_permissions(&staged, fs::Permissions::from_mode(0o755)).map_err(|source| {
        FormatError::Write {
            path: staged.clone(),
            source,
        }
    })?;
    if let Err(source) = fs::rename(&staged, destination) {
        let _ = fs::remove_dir_all(&staged);
        return Err(FormatError::Write {
            path: destination.to_path_buf(),
            source,
        });
    }
    File::open(&parent)
        .and_then(|directory| directory.sync_all())
        .ok();
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            safe_relative(Path::new("./a/b")).unwrap(),
            PathBuf::from("a/b")
        );
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "."] {
            assert!(safe_relative(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn links() {
        assert!(check_link(Path::new("bin/tool"), Path::new("../lib/tool")).is_ok());
        assert!(check_link(Path::new("a/b/c"), Path::new("../../x")).is_ok());
        assert!(check_link(Path::new("bin/tool"), Path::new("../../etc/passwd")).is_err());
        assert!(check_link(Path::new("tool"), Path::new("/usr/bin/env")).is_err());
        assert!(check_link(Path::new("tool"), Path::new("..")).is_err());
    }
}
