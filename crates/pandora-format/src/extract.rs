//! Streaming extraction of slots into a directory, with every archive entry validated
//! (DESIGN.md invariant 6) and the stored bytes hashed on the way through: the caller extracts
//! into a private staging directory and only keeps it if every slot's hash matched.
//!
//! Symbolic links are checked against the tree as it is built, not one at a time: a link's
//! target may not pass through another link (before or after that link exists), so every link
//! resolves inside the tree the way it reads, and nothing is written through a link. Modes are
//! masked: no setuid, setgid or sticky bit, nothing writable by group or others. Each slot
//! expands to at most the size its descriptor declares.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::Permissions;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use flate2::read::GzDecoder;
use fs_err as fs;
use fs_err::os::unix::fs::OpenOptionsExt;
use sha2::{Digest, Sha256};

use super::metadata::encode_hex;
use super::package::{Package, VerifiedSlot};
use super::slot::Operation;
use super::FormatError;

/// Deflate emits at least one bit per 258 repeated bytes: no gzip stream expands further.
const MAX_DEFLATE_RATIO: u64 = 1032;
/// Links followed while resolving one link's target, as Linux's own limit (ELOOP).
const MAX_LINK_HOPS: u32 = 40;

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

/// The mode a file gets, whatever the package declares: readable by its owner, writable by
/// nobody else, and no setuid, setgid or sticky bit (0777 becomes 0755, 0666 becomes 0644).
pub fn file_mode(declared: u32) -> u32 {
    (declared & 0o755) | 0o400
}

/// The mode a directory gets: as [`file_mode`], and always usable by its owner, so extraction
/// can fill it and a cleanup can remove it.
pub fn directory_mode(declared: u32) -> u32 {
    (declared & 0o755) | 0o700
}

/// Where a slot target or a `workenv.directories` entry lives inside the work environment:
/// a leading `{workenv}` and `/` are dropped (absolute paths are rebased, not honoured), and
/// what remains may not contain `..`. `None` is the work environment itself.
pub fn workenv_relative(target: &str) -> Result<Option<PathBuf>, String> {
    let rest = target
        .strip_prefix("{workenv}")
        .unwrap_or(target)
        .trim_start_matches('/');
    if Path::new(rest).components().all(|c| c == Component::CurDir) {
        return Ok(None);
    }
    safe_relative(Path::new(rest)).map(Some)
}

/// How many decoded bytes a slot may produce, and why: the original size its descriptor
/// declares, so a bomb is refused after that many bytes rather than at the package-wide cap.
fn expansion_limit(slot: &VerifiedSlot) -> (u64, &'static str) {
    const DECLARED: &str = "the original size its descriptor declares";
    let descriptor = &slot.descriptor;
    match slot.operations.compression() {
        None => (descriptor.size, "its stored size"),
        // FlavorPack's builders record the stored size as the original size of the gzip files
        // they are handed, so for gzip a declaration no larger than the stored bytes says
        // nothing; deflate's own ratio bounds those instead (zstd has no such bound, and only
        // Pandora writes it, with the true size).
        Some(Operation::Gzip) if descriptor.original_size <= descriptor.size => (
            descriptor.size.saturating_mul(MAX_DEFLATE_RATIO),
            "the most deflate can expand its stored size",
        ),
        Some(_) => (descriptor.original_size, DECLARED),
    }
}

fn key(path: &Path) -> String {
    path.to_string_lossy().to_lowercase()
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
    /// Lowercased relative paths of the links made, to their targets.
    links: HashMap<String, PathBuf>,
    /// Lowercased relative paths some link's target goes through (not ends at): a link made
    /// there later would redirect that target, so none may be.
    traversed: HashSet<String>,
    /// Lowercased relative paths no entry may take (the launcher's own state).
    reserved: HashSet<String>,
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

    /// Refuses every entry at or under `relative`: the caller keeps that path for itself.
    pub fn reserve(&mut self, relative: &Path) {
        self.reserved.insert(key(relative));
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
        let (limit, why) = expansion_limit(slot);
        let exceeded = Rc::new(Cell::new(false));
        let outcome = self.decode_slot(
            &mut hashed,
            slot,
            root,
            Bound {
                limit,
                exceeded: Rc::clone(&exceeded),
            },
            &unsafe_entry,
            &read_error,
        );
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
        if exceeded.get() {
            return Err(unsafe_entry(
                &slot.id,
                format!("the slot expands past {limit} bytes, {why} (a decompression bomb?)"),
            ));
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
        bound: Bound,
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
        let decoded = BoundedReader {
            inner: decoded,
            remaining: bound.limit,
            exceeded: bound.exceeded,
        };
        if slot.operations.is_archive() {
            return self.unpack_archive(decoded, root, unsafe_entry, read_error);
        }
        let target = slot.target.clone().unwrap_or_else(|| slot.id.clone());
        let relative = workenv_relative(&target)
            .and_then(|relative| relative.ok_or_else(|| "an empty path".to_string()))
            .map_err(|reason| unsafe_entry(&target, reason))?;
        if slot.mode & 0o6000 != 0 {
            return Err(unsafe_entry(&target, "setuid or setgid bit".into()));
        }
        self.claim(&relative, false)
            .map_err(|reason| unsafe_entry(&target, reason))?;
        self.write_file(
            root,
            &relative,
            file_mode(slot.mode),
            decoded,
            &|reason| unsafe_entry(&target, reason),
            read_error,
        )
    }

    /// Creates a directory the metadata asks for (`workenv.directories`), `relative` to
    /// `root`, under the same rules as an archive's directories: not through a link, not over a
    /// file, not in a reserved place. Its mode is the caller's to set.
    pub fn add_directory(
        &mut self,
        package: &Path,
        root: &Path,
        entry: &str,
        relative: &Path,
    ) -> Result<PathBuf, FormatError> {
        self.claim(relative, true)
            .map_err(|reason| FormatError::UnsafeDirectory {
                path: package.to_path_buf(),
                entry: entry.to_string(),
                reason,
            })?;
        let path = root.join(relative);
        if !self.made.contains(&path) {
            create_directory(&path)?;
            for ancestor in path.ancestors() {
                if !self.made.insert(ancestor.to_path_buf()) {
                    break;
                }
            }
        }
        Ok(path)
    }

    /// Applies directory modes (last, so read-only directories could be filled first).
    pub fn finish(self) -> Result<u64, FormatError> {
        for (path, mode) in self.directory_modes.iter().rev() {
            fs::set_permissions(path, Permissions::from_mode(*mode)).map_err(|source| {
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
        let name = key(relative);
        if let Some(reserved) = self.reserved.iter().find(|reserved| {
            name == **reserved
                || name
                    .strip_prefix(reserved.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        }) {
            return Err(format!("`{reserved}` is reserved for the launcher"));
        }
        if let Some(link) = relative
            .ancestors()
            .skip(1)
            .find(|ancestor| self.links.contains_key(&key(ancestor)))
        {
            return Err(format!(
                "it goes through the symbolic link `{}`",
                link.display()
            ));
        }
        match self.seen.get(&name) {
            Some(true) if is_directory => Ok(()),
            Some(_) => {
                Err("a second entry for the same path (or one differing only in case)".into())
            }
            None => {
                self.seen.insert(name, is_directory);
                Ok(())
            }
        }
    }

    /// Checks a link at `link` against the tree so far, resolving its target the way the
    /// kernel will: through the links already made (whose own targets are resolved in turn),
    /// never above the root at any step. Every path the resolution goes through (not the one it
    /// ends at) is remembered, and no link may be made there later, since that would change
    /// where this one leads. A last component that is a link is left alone (`libx.so ->
    /// libx.so.1`): that link was checked, or will be, on its own.
    fn check_link_chain(&mut self, link: &Path, target: &Path) -> Result<(), String> {
        if target.is_absolute() {
            return Err(format!(
                "a symbolic link to the absolute path `{}`",
                target.display()
            ));
        }
        if self.traversed.contains(&key(link)) {
            return Err(
                "a symbolic link where another link's target goes through (a chain of links)"
                    .into(),
            );
        }
        let start: Vec<OsString> = link
            .parent()
            .map(|parent| parent.iter().map(OsStr::to_os_string).collect())
            .unwrap_or_default();
        let mut passed = Vec::new();
        let mut via = Vec::new();
        let mut hops = 0;
        let outcome = self.resolve(start, target, &mut passed, &mut via, &mut hops);
        let through = match via.as_slice() {
            [] => String::new(),
            [link] => format!(", through the symbolic link `{link}`"),
            links => format!(", through the symbolic links `{}`", links.join("`, `")),
        };
        match outcome {
            Ok(_) => {
                self.traversed.extend(passed);
                Ok(())
            }
            Err(Unresolved::Outside) => Err(format!(
                "a symbolic link leaving the package (`{}`{through})",
                target.display()
            )),
            Err(Unresolved::Loop) => Err(format!(
                "a symbolic link to `{}` with too many levels of links{through}",
                target.display()
            )),
        }
    }

    /// Where `target` leads from the directory `position`, following links in all but its last
    /// component; records the directories gone through in `passed`, the links in `via`.
    fn resolve(
        &self,
        mut position: Vec<OsString>,
        target: &Path,
        passed: &mut Vec<String>,
        via: &mut Vec<String>,
        hops: &mut u32,
    ) -> Result<Vec<OsString>, Unresolved> {
        let steps: Vec<Component<'_>> = target
            .components()
            .filter(|component| *component != Component::CurDir)
            .collect();
        for (index, step) in steps.iter().enumerate() {
            match step {
                Component::ParentDir => {
                    position.pop().ok_or(Unresolved::Outside)?;
                }
                Component::Normal(name) => position.push(name.to_os_string()),
                _ => return Err(Unresolved::Outside),
            }
            if index + 1 == steps.len() || position.is_empty() {
                continue;
            }
            let here = key(&position.iter().collect::<PathBuf>());
            if let Some(next) = self.links.get(&here) {
                *hops += 1;
                if *hops > MAX_LINK_HOPS {
                    return Err(Unresolved::Loop);
                }
                via.push(here);
                position.pop();
                position = self.resolve(position, next, passed, via, hops)?;
            } else {
                passed.push(here);
            }
        }
        Ok(position)
    }

    fn unpack_archive(
        &mut self,
        decoded: impl Read,
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
                    self.directory_modes.push((path, directory_mode(mode)));
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    self.claim(&relative, false)
                        .map_err(|reason| reject(&reason))?;
                    self.write_file(
                        root,
                        &relative,
                        file_mode(mode),
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
                    self.claim(&relative, false)
                        .map_err(|reason| reject(&reason))?;
                    self.check_link_chain(&relative, &target)
                        .map_err(|reason| reject(&reason))?;
                    let path = root.join(&relative);
                    self.make_parent(&path)?;
                    fs_err::os::unix::fs::symlink(&target, &path)
                        .map_err(|source| FormatError::Write { path, source })?;
                    self.links.insert(key(&relative), target);
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
        let mut file = fs::OpenOptions::new()
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
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|source| FormatError::Write { path, source })?;
        Ok(())
    }
}

/// Why a link's target does not resolve inside the tree.
enum Unresolved {
    Outside,
    Loop,
}

/// The most a slot's decoder may produce, and where to say it tried to produce more.
struct Bound {
    limit: u64,
    exceeded: Rc<Cell<bool>>,
}

/// Fails a read once its inner reader has produced `remaining` bytes and has more: the tar
/// reader and the decoders below it may wrap the error, so the verdict also goes to a flag.
struct BoundedReader<R> {
    inner: R,
    remaining: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for BoundedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if buffer.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.exceeded.set(true);
                    Err(io::Error::other(
                        "the slot expands past the size its descriptor declares",
                    ))
                }
            };
        }
        let wanted = buffer
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buffer[..wanted])?;
        self.remaining -= read as u64;
        Ok(read)
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
    use std::os::unix::fs::DirBuilderExt;
    // 0755, not 0777 less the umask: a umask of 002 must not make the tree group-writable.
    // The error is wrapped with the path below.
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
    {
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

/// A symbolic link at `link` (relative to the tree's root) must be relative and, read
/// lexically, stay inside the tree. This judges one link on its own; a chain of links that each
/// pass it can still leave, so extraction also resolves every target through the links already
/// made (and a builder should check where a link really resolves).
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
    let parent = parent_of(destination);
    let (staging, bytes) = stage(package, slots, &parent, limits)?;
    let staged = staging.keep();
    fs::set_permissions(&staged, Permissions::from_mode(0o755)).map_err(|source| {
        FormatError::Write {
            path: staged.clone(),
            source,
        }
    })?;
    // Never over something that appeared there since the check above.
    if let Err(source) = rename_new(&staged, destination) {
        let _ = fs::remove_dir_all(&staged);
        return Err(FormatError::Write {
            path: destination.to_path_buf(),
            source,
        });
    }
    fs::File::open(&parent)
        .and_then(|directory| directory.sync_all())
        .ok();
    Ok(bytes)
}

/// Extracts slots into `destination`, which may already exist: staged and verified first (in
/// a hidden directory inside it, so the moves stay on one file system), then moved in. Existing
/// directories are merged into; an existing file, link or a directory where the slot has
/// something else is refused before anything moves. No move replaces anything (a file that
/// appears at a target after that check stays), and when one fails every entry already moved
/// is moved back: on failure `destination` is as it was.
pub fn extract_into(
    package: &Package,
    slots: &[VerifiedSlot],
    destination: &Path,
    limits: Limits,
) -> Result<u64, FormatError> {
    if destination.symlink_metadata().is_err() {
        return unpack(package, slots, destination, limits);
    }
    let (staging, bytes) = stage(package, slots, destination, limits)?;
    let mut moves = Vec::new();
    plan_merge(staging.path(), destination, &mut moves)?;
    move_all(&moves)?;
    fs::File::open(destination)
        .and_then(|directory| directory.sync_all())
        .ok();
    Ok(bytes)
}

/// Extracts and verifies `slots` in a new private directory under `parent`.
fn stage(
    package: &Package,
    slots: &[VerifiedSlot],
    parent: &Path,
    limits: Limits,
) -> Result<(tempfile::TempDir, u64), FormatError> {
    let staging = tempfile::Builder::new()
        .prefix(".pandora-unpack-")
        .tempdir_in(parent)
        .map_err(|source| FormatError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    let mut extraction = Extraction::new(limits);
    for slot in slots {
        extraction.extract_slot(package, slot, staging.path())?;
    }
    let bytes = extraction.finish()?;
    Ok((staging, bytes))
}

/// Performs the planned moves, each one refusing to replace anything (a file that appeared at
/// a target since the plan stays as it is). On the first failure every entry already moved is
/// moved back where it came from, in reverse order, so the destination is as it was; what
/// moved back is discarded with the staging directory.
fn move_all(moves: &[(PathBuf, PathBuf)]) -> Result<(), FormatError> {
    for (done, (from, to)) in moves.iter().enumerate() {
        let Err(error) = rename_new(from, to) else {
            continue;
        };
        let mut stuck = Vec::new();
        for (from, to) in moves[..done].iter().rev() {
            if let Err(undo) = rename_new(to, from) {
                stuck.push(format!("{} ({undo})", to.display()));
            }
        }
        let outcome = if stuck.is_empty() {
            "nothing was extracted".to_string()
        } else {
            format!(
                "these could not be moved back and were left in place: {}",
                stuck.join(", ")
            )
        };
        return Err(FormatError::Write {
            path: to.clone(),
            source: io::Error::new(error.kind(), format!("{error}; {outcome}")),
        });
    }
    Ok(())
}

/// Renames `from` to `to` unless something is at `to` (then fails with `AlreadyExists`, or
/// another error, and changes nothing): `renameat2(RENAME_NOREPLACE)`, or where the system or
/// file system lacks it, [`rename_new_portably`].
fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::errno::Errno;
        use nix::fcntl::{renameat2, RenameFlags};
        match renameat2(None, from, None, to, RenameFlags::RENAME_NOREPLACE) {
            Ok(()) => return Ok(()),
            // Not supported by this kernel or file system.
            Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
            Err(errno) => return Err(io::Error::from(errno)),
        }
    }
    rename_new_portably(from, to)
}

/// [`rename_new`] without `renameat2`: a file or link is hard-linked to its new name (which
/// fails if anything is there) and then unlinked from the old; a directory first claims its
/// new name with an empty directory of its own (which fails if anything is there), then is
/// renamed over it (a rename replaces only an empty directory, so anything put in it since
/// makes the rename fail).
fn rename_new_portably(from: &Path, to: &Path) -> io::Result<()> {
    if fs::symlink_metadata(from)?.is_dir() {
        fs::create_dir(to)?;
        return fs::rename(from, to).inspect_err(|_| {
            let _ = fs::remove_dir(to);
        });
    }
    fs::hard_link(from, to)?;
    fs::remove_file(from).inspect_err(|_| {
        let _ = fs::remove_file(to);
    })
}

/// The renames that merge `from` into the existing directory `into`, or the first collision.
fn plan_merge(
    from: &Path,
    into: &Path,
    moves: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<(), FormatError> {
    let mut names: Vec<_> = fs::read_dir(from)
        .and_then(|entries| {
            entries
                .map(|entry| entry.map(|entry| entry.file_name()))
                .collect()
        })
        .map_err(|source| FormatError::Write {
            path: from.to_path_buf(),
            source,
        })?;
    names.sort();
    for name in names {
        let (source, target) = (from.join(&name), into.join(&name));
        match target.symlink_metadata() {
            Err(_) => moves.push((source, target)),
            Ok(existing)
                if existing.is_dir()
                    && source.symlink_metadata().is_ok_and(|meta| meta.is_dir()) =>
            {
                plan_merge(&source, &target, moves)?;
            }
            Ok(_) => {
                return Err(FormatError::Write {
                    path: target,
                    source: io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "it already exists; nothing was extracted",
                    ),
                })
            }
        }
    }
    Ok(())
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
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

    #[test]
    fn workenv_paths_are_confined() {
        let relative = workenv_relative;
        assert_eq!(relative("{workenv}/a/b"), Ok(Some(PathBuf::from("a/b"))));
        assert_eq!(relative("a/b"), Ok(Some(PathBuf::from("a/b"))));
        assert_eq!(relative("/etc/x"), Ok(Some(PathBuf::from("etc/x"))));
        assert_eq!(relative("{workenv}"), Ok(None));
        assert_eq!(relative("{workenv}/."), Ok(None));
        for bad in ["{workenv}/../../x", "a/../../x", "{workenv}/a/.."] {
            assert!(relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_are_masked() {
        assert_eq!(file_mode(0o777), 0o755);
        assert_eq!(file_mode(0o666), 0o644);
        assert_eq!(file_mode(0o6777), 0o755);
        assert_eq!(file_mode(0o1644), 0o644);
        assert_eq!(file_mode(0o000), 0o400);
        assert_eq!(directory_mode(0o777), 0o755);
        assert_eq!(directory_mode(0o1777), 0o755);
        assert_eq!(directory_mode(0o500), 0o700);
    }

    mod packages {
        use std::io::Write;
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        use std::path::{Path, PathBuf};

        use sha2::Digest;

        use crate::extract::{
            extract_into, move_all, plan_merge, rename_new_portably, stage, unpack, Extraction,
            Limits,
        };
        use crate::metadata::{Execution, Metadata, PackageInfo, SlotInfo};
        use crate::package::{Package, Scope, Verified};
        use crate::signing::SigningKey;
        use crate::slot::{Operation, Operations};
        use crate::writer::{write_package, SlotData};
        use crate::FormatError;

        pub enum Entry<'a> {
            File(&'a str, u32, &'a [u8]),
            Dir(&'a str, u32),
            Link(&'a str, &'a str),
        }

        pub fn tar(entries: &[Entry<'_>]) -> Vec<u8> {
            let mut builder = tar::Builder::new(Vec::new());
            for entry in entries {
                let mut header = tar::Header::new_old();
                let (name, link, kind, mode, data): (&str, &str, _, u32, &[u8]) = match entry {
                    Entry::File(name, mode, data) => {
                        (name, "", tar::EntryType::Regular, *mode, data)
                    }
                    Entry::Dir(name, mode) => (name, "", tar::EntryType::Directory, *mode, b""),
                    Entry::Link(name, target) => {
                        (name, target, tar::EntryType::Symlink, 0o777, b"")
                    }
                };
                let old = header.as_old_mut();
                old.name[..name.len()].copy_from_slice(name.as_bytes());
                old.linkname[..link.len()].copy_from_slice(link.as_bytes());
                header.set_entry_type(kind);
                header.set_mode(mode);
                header.set_size(data.len() as u64);
                header.set_cksum();
                builder.append(&header, data).unwrap();
            }
            builder.into_inner().unwrap()
        }

        pub struct Slot {
            pub target: &'static str,
            pub permissions: Option<&'static str>,
            pub stored: Vec<u8>,
            pub original_size: u64,
            pub operations: Vec<Operation>,
        }

        pub fn tar_slot(entries: &[Entry<'_>]) -> Slot {
            let stored = tar(entries);
            Slot {
                target: "{workenv}",
                permissions: None,
                original_size: stored.len() as u64,
                stored,
                operations: vec![Operation::Tar],
            }
        }

        pub fn file_slot(target: &'static str, permissions: &'static str, data: &[u8]) -> Slot {
            Slot {
                target,
                permissions: Some(permissions),
                original_size: data.len() as u64,
                stored: data.to_vec(),
                operations: vec![],
            }
        }

        /// A signed package in `directory` (the launcher stub is a few placeholder bytes).
        pub fn build(directory: &Path, slots: Vec<Slot>) -> (Package, Verified) {
            let launcher = directory.join("stub");
            fs_err::write(&launcher, b"stub").unwrap();
            let metadata = Metadata {
                format: "PSPF/2025".into(),
                format_version: None,
                package: PackageInfo {
                    name: "t".into(),
                    version: "1".into(),
                    description: None,
                },
                slots: slots
                    .iter()
                    .enumerate()
                    .map(|(index, slot)| SlotInfo {
                        slot: index as u64,
                        id: format!("s{index}"),
                        source: String::new(),
                        target: Some(slot.target.into()),
                        size: None,
                        checksum: None,
                        operations: String::new(),
                        purpose: "payload".into(),
                        lifecycle: "runtime".into(),
                        permissions: slot.permissions.map(Into::into),
                    })
                    .collect(),
                execution: Some(Execution {
                    command: "{workenv}/bin/x".into(),
                    env: Default::default(),
                }),
                runtime: None,
                workenv: None,
                build: None,
                launcher: None,
                pandora: None,
            };
            let data = slots
                .into_iter()
                .map(|slot| {
                    let mut file = tempfile::tempfile().unwrap();
                    file.write_all(&slot.stored).unwrap();
                    SlotData {
                        data: file,
                        size: slot.stored.len() as u64,
                        original_size: slot.original_size,
                        sha256: sha2::Sha256::digest(&slot.stored).into(),
                        operations: Operations::new(slot.operations),
                    }
                })
                .collect();
            let output = directory.join("t.psp");
            let _ = fs_err::remove_file(&output);
            write_package(
                &output,
                &launcher,
                metadata,
                data,
                &SigningKey::from_seed("extract-tests"),
                0,
            )
            .unwrap();
            let package = Package::open(&output).unwrap();
            let verified = package.verified(Scope::Structure).unwrap();
            (package, verified)
        }

        /// Unpacks into `directory/out`; the error's text on failure.
        pub fn unpack_all(directory: &Path, slots: Vec<Slot>) -> Result<PathBuf, String> {
            let (package, verified) = build(directory, slots);
            let out = directory.join("out");
            let _ = fs_err::remove_dir_all(&out);
            unpack(&package, &verified.slots, &out, Limits::default())
                .map(|_| out)
                .map_err(|error| error.to_string())
        }

        fn mode(path: &Path) -> u32 {
            fs_err::symlink_metadata(path).unwrap().mode() & 0o7777
        }

        #[test]
        fn link_chains_leaving_the_tree_are_refused_in_either_order() {
            let directory = tempfile::tempdir().unwrap();
            let chains = [
                vec![
                    Entry::Dir("a/b/c/", 0o755),
                    Entry::Link("a/b/c/up", "../.."),
                    Entry::Link("a/b/escape", "c/up/../.."),
                ],
                vec![
                    Entry::Dir("a/b/c/", 0o755),
                    Entry::Link("a/b/escape", "c/up/../.."),
                    Entry::Link("a/b/c/up", "../.."),
                ],
                // Through a link made by an earlier slot, and differing only in case.
                vec![Entry::Link("a/b/escape", "C/UP/../../..")],
            ];
            for (index, entries) in chains.into_iter().enumerate() {
                let mut slots = vec![tar_slot(&entries)];
                if index == 2 {
                    slots.insert(
                        0,
                        tar_slot(&[Entry::Dir("a/b/c/", 0o755), Entry::Link("a/b/c/up", "..")]),
                    );
                }
                let error = unpack_all(directory.path(), slots).unwrap_err();
                assert!(
                    error.contains("has an unsafe entry") && error.contains("link"),
                    "{index}: {error}"
                );
                assert!(!directory.path().join("out").exists());
            }
        }

        #[test]
        fn links_ending_at_links_and_links_to_directories_extract() {
            let directory = tempfile::tempdir().unwrap();
            let out = unpack_all(
                directory.path(),
                vec![tar_slot(&[
                    Entry::File("lib/libx.so.1.2", 0o644, b"elf"),
                    Entry::Link("lib/libx.so.1", "libx.so.1.2"),
                    Entry::Link("lib/libx.so", "libx.so.1"),
                    Entry::Link("share/lib", "../lib"),
                    Entry::Link("share/x", "lib/libx.so"),
                    Entry::Link("share/y", "../lib/./libx.so"),
                ])],
            )
            .unwrap();
            assert_eq!(fs_err::read(out.join("share/x")).unwrap(), b"elf");
            assert_eq!(fs_err::read(out.join("share/y")).unwrap(), b"elf");
        }

        #[test]
        fn nothing_is_written_through_a_link_or_into_a_reserved_place() {
            let directory = tempfile::tempdir().unwrap();
            let error = unpack_all(
                directory.path(),
                vec![
                    tar_slot(&[Entry::Dir("share/", 0o755), Entry::Link("lib", "share")]),
                    file_slot("{workenv}/lib/x", "0644", b"x"),
                ],
            )
            .unwrap_err();
            assert!(
                error.contains("goes through the symbolic link `lib`"),
                "{error}"
            );

            let (package, verified) = build(
                directory.path(),
                vec![tar_slot(&[
                    Entry::Dir("share/", 0o755),
                    Entry::Link(".pandora", "share"),
                ])],
            );
            let root = tempfile::tempdir().unwrap();
            let mut extraction = Extraction::new(Limits::default());
            extraction.reserve(Path::new(".pandora"));
            let error = extraction
                .extract_slot(&package, &verified.slots[0], root.path())
                .unwrap_err()
                .to_string();
            assert!(error.contains("`.pandora` is reserved"), "{error}");
        }

        #[test]
        fn directories_from_metadata_follow_the_same_rules() {
            let directory = tempfile::tempdir().unwrap();
            let (package, verified) = build(
                directory.path(),
                vec![tar_slot(&[
                    Entry::File("file", 0o644, b"x"),
                    Entry::Dir("share/", 0o755),
                    Entry::Link("lib", "share"),
                ])],
            );
            let root = tempfile::tempdir().unwrap();
            let mut extraction = Extraction::new(Limits::default());
            extraction.reserve(Path::new(".pandora"));
            extraction
                .extract_slot(&package, &verified.slots[0], root.path())
                .unwrap();
            for (path, reason) in [
                ("file", "a second entry"),
                ("lib/x", "goes through the symbolic link `lib`"),
                (".pandora/x", "reserved"),
            ] {
                let error = extraction
                    .add_directory(package.path(), root.path(), path, Path::new(path))
                    .unwrap_err();
                assert!(
                    matches!(error, FormatError::UnsafeDirectory { .. })
                        && error.to_string().contains(reason),
                    "{path}: {error}"
                );
            }
            let made = extraction
                .add_directory(package.path(), root.path(), "state/x", Path::new("state/x"))
                .unwrap();
            assert!(made.is_dir());
            extraction
                .add_directory(package.path(), root.path(), "share", Path::new("share"))
                .unwrap();
        }

        #[test]
        fn declared_modes_are_masked_and_setuid_refused() {
            let directory = tempfile::tempdir().unwrap();
            let out = unpack_all(
                directory.path(),
                vec![
                    file_slot("bin/open", "0777", b"x"),
                    file_slot("{workenv}/share/sticky", "1666", b"x"),
                    tar_slot(&[
                        Entry::Dir("lib/", 0o777),
                        Entry::File("lib/open", 0o777, b"x"),
                        Entry::File("lib/private", 0o600, b"x"),
                    ]),
                ],
            )
            .unwrap();
            for (path, expected) in [
                ("bin/open", 0o755),
                ("share/sticky", 0o644),
                ("lib", 0o755),
                ("lib/open", 0o755),
                ("lib/private", 0o600),
            ] {
                assert_eq!(mode(&out.join(path)), expected, "{path}");
            }
            for permissions in ["6777", "4755", "2755"] {
                let error = unpack_all(
                    directory.path(),
                    vec![file_slot("bin/x", permissions, b"x")],
                )
                .unwrap_err();
                assert!(
                    error.contains("setuid or setgid bit"),
                    "{permissions}: {error}"
                );
            }
        }

        fn compressed(operation: Operation, data: &[u8], declared: Option<u64>) -> Slot {
            let stored = match operation {
                Operation::Zstd => zstd::encode_all(data, 3).unwrap(),
                _ => {
                    let mut encoder =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                    encoder.write_all(data).unwrap();
                    encoder.finish().unwrap()
                }
            };
            Slot {
                target: "big",
                permissions: Some("0644"),
                original_size: declared.unwrap_or(stored.len() as u64),
                stored,
                operations: vec![operation],
            }
        }

        #[test]
        fn each_slot_expands_at_most_to_its_declared_size() {
            let directory = tempfile::tempdir().unwrap();
            let zeros = vec![0u8; 8 << 20];
            let error = unpack_all(
                directory.path(),
                vec![compressed(Operation::Zstd, &zeros, Some(4096))],
            )
            .unwrap_err();
            assert!(
                error.contains("expands past 4096 bytes") && error.contains("declares"),
                "{error}"
            );
            assert!(!directory.path().join("out").exists());
            // A tar slot's declaration covers the whole archive stream.
            let archive = tar(&[Entry::File("big", 0o644, &zeros)]);
            let mut slot = compressed(Operation::Zstd, &archive, Some(zeros.len() as u64));
            slot.operations = vec![Operation::Tar, Operation::Zstd];
            slot.target = "{workenv}";
            let error = unpack_all(directory.path(), vec![slot]).unwrap_err();
            assert!(error.contains("expands past"), "{error}");
            let mut slot = compressed(Operation::Zstd, &archive, Some(archive.len() as u64));
            slot.operations = vec![Operation::Tar, Operation::Zstd];
            slot.target = "{workenv}";
            unpack_all(directory.path(), vec![slot]).unwrap();
            // Exactly declared, it extracts; gzip as FlavorPack declares it (the stored size)
            // is bounded by deflate's ratio, which no real gzip stream exceeds.
            unpack_all(
                directory.path(),
                vec![compressed(
                    Operation::Zstd,
                    &zeros,
                    Some(zeros.len() as u64),
                )],
            )
            .unwrap();
            let out = unpack_all(
                directory.path(),
                vec![compressed(Operation::Gzip, &zeros, None)],
            )
            .unwrap();
            assert_eq!(fs_err::metadata(out.join("big")).unwrap().len(), 8 << 20);
            let error = unpack_all(
                directory.path(),
                vec![compressed(Operation::Gzip, &zeros, Some(1 << 20))],
            )
            .unwrap_err();
            assert!(error.contains("expands past 1048576 bytes"), "{error}");
        }

        /// A package whose one slot holds `a.txt` and `zz/b.txt`, staged and planned into a
        /// new directory `out` holding `mine.txt`: the moves are `a.txt` then `zz`.
        fn planned(directory: &Path) -> (tempfile::TempDir, PathBuf, Vec<(PathBuf, PathBuf)>) {
            let (package, verified) = build(
                directory,
                vec![tar_slot(&[
                    Entry::File("a.txt", 0o644, b"package"),
                    Entry::Dir("zz/", 0o755),
                    Entry::File("zz/b.txt", 0o644, b"package"),
                ])],
            );
            let out = directory.join("out");
            let _ = fs_err::remove_dir_all(&out);
            fs_err::create_dir(&out).unwrap();
            fs_err::write(out.join("mine.txt"), "mine").unwrap();
            let (staging, _) = stage(&package, &verified.slots, &out, Limits::default()).unwrap();
            let mut moves = Vec::new();
            plan_merge(staging.path(), &out, &mut moves).unwrap();
            assert_eq!(moves.len(), 2);
            (staging, out, moves)
        }

        fn names(directory: &Path) -> Vec<String> {
            let mut names: Vec<String> = fs_err::read_dir(directory)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with(".pandora-unpack-"))
                .collect();
            names.sort();
            names
        }

        #[test]
        fn a_file_appearing_after_the_plan_is_never_replaced() {
            let directory = tempfile::tempdir().unwrap();
            let (staging, out, moves) = planned(directory.path());
            fs_err::write(out.join("a.txt"), "theirs").unwrap();
            let error = move_all(&moves).unwrap_err().to_string();
            assert!(error.contains("a.txt"), "{error}");
            assert_eq!(fs_err::read(out.join("a.txt")).unwrap(), b"theirs");
            assert_eq!(names(&out), ["a.txt", "mine.txt"]);
            // What was staged is all still there, to be discarded.
            assert_eq!(names(staging.path()), ["a.txt", "zz"]);
        }

        #[test]
        fn a_move_failing_half_way_takes_back_the_moves_before_it() {
            let directory = tempfile::tempdir().unwrap();
            // A file where the slot has the directory zz, after the plan: a.txt has moved when
            // zz fails.
            let (staging, out, moves) = planned(directory.path());
            fs_err::write(out.join("zz"), "theirs").unwrap();
            let error = move_all(&moves).unwrap_err().to_string();
            assert!(error.contains("zz"), "{error}");
            assert_eq!(names(&out), ["mine.txt", "zz"]);
            assert_eq!(fs_err::read(out.join("zz")).unwrap(), b"theirs");
            assert_eq!(names(staging.path()), ["a.txt", "zz"]);
            assert_eq!(
                fs_err::read(staging.path().join("a.txt")).unwrap(),
                b"package"
            );
            // An empty directory there is not replaced either.
            drop(staging);
            let (staging, out, moves) = planned(directory.path());
            fs_err::create_dir(out.join("zz")).unwrap();
            move_all(&moves).unwrap_err();
            assert_eq!(names(&out), ["mine.txt", "zz"]);
            assert!(names(&out.join("zz")).is_empty());
            assert_eq!(names(staging.path()), ["a.txt", "zz"]);
        }

        #[test]
        fn moves_without_renameat2_never_replace_either() {
            let directory = tempfile::tempdir().unwrap();
            let (from, to) = (directory.path().join("from"), directory.path().join("to"));
            for make in [
                |path: &Path| fs_err::write(path, "x").unwrap(),
                |path: &Path| fs_err::create_dir(path).unwrap(),
                |path: &Path| fs_err::os::unix::fs::symlink("nowhere", path).unwrap(),
            ] {
                make(&from);
                fs_err::write(&to, "theirs").unwrap();
                rename_new_portably(&from, &to).unwrap_err();
                assert_eq!(fs_err::read(&to).unwrap(), b"theirs");
                fs_err::remove_file(&to).unwrap();
                rename_new_portably(&from, &to).unwrap();
                assert!(from.symlink_metadata().is_err());
                remove(&to);
            }
            // An empty directory in the way is not replaced.
            fs_err::create_dir(&from).unwrap();
            fs_err::create_dir(&to).unwrap();
            rename_new_portably(&from, &to).unwrap_err();
            assert!(from.is_dir());
        }

        pub fn remove(path: &Path) {
            match path.symlink_metadata() {
                Ok(meta) if meta.is_dir() => fs_err::remove_dir_all(path).unwrap(),
                Ok(_) => fs_err::remove_file(path).unwrap(),
                Err(_) => {}
            }
        }

        #[test]
        fn extracting_into_an_existing_directory_merges_or_changes_nothing() {
            let directory = tempfile::tempdir().unwrap();
            let (package, verified) = build(
                directory.path(),
                vec![tar_slot(&[
                    Entry::Dir("share/", 0o755),
                    Entry::File("share/doc", 0o644, b"doc"),
                ])],
            );
            let out = directory.path().join("out");
            fs_err::create_dir_all(out.join("share")).unwrap();
            fs_err::write(out.join("share/mine"), "mine").unwrap();
            extract_into(&package, &verified.slots, &out, Limits::default()).unwrap();
            assert_eq!(fs_err::read(out.join("share/doc")).unwrap(), b"doc");
            assert_eq!(fs_err::read(out.join("share/mine")).unwrap(), b"mine");
            let error = extract_into(&package, &verified.slots, &out, Limits::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains("share/doc"), "{error}");
            let mut names: Vec<_> = fs_err::read_dir(&out)
                .unwrap()
                .map(|entry| entry.unwrap().file_name())
                .collect();
            names.sort();
            assert_eq!(names, ["share"], "no staging left");
            // Into a missing directory: created, mode 0755.
            let fresh = directory.path().join("fresh");
            extract_into(&package, &verified.slots, &fresh, Limits::default()).unwrap();
            assert_eq!(
                fs_err::metadata(&fresh).unwrap().permissions().mode() & 0o777,
                0o755
            );
        }
    }
}
