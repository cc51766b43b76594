//! The compact form of a verified cached index (`cache/registries/NAME/index.compact`), so that
//! `search`, `info` and resolving an install cost what their answer costs instead of parsing
//! and verifying the whole `index.acl` (12 MB for 10,000 packages) on every command.
//!
//! It is written only from an index that has just passed every check of
//! [`super::client`] (signature against the registry's keys, expiry, serial), and it says which
//! one: the SHA-256 of that `index.acl` and of the key set it was verified under. The header is
//! authenticated with HMAC-SHA256 under a random per-home key (`cache/index-cache.key`, 0600),
//! the package table with a SHA-256 in the header, and each package with a SHA-256 in its
//! table entry, checked when the package is read. So a compact file that was altered, truncated,
//! written for another index or under other keys, or forged without the key is never used:
//! the client falls back to verifying `index.acl` and writes a new one. Expiry and rollback are
//! checked again on every use, from the header, exactly as for the ACL.
//!
//! ```text
//! 0    8   magic "PNDRIDX1"
//! 8    32  HMAC-SHA256(key, header)
//! 40   ..  header: u32 length (of the header, this field included), index SHA-256, key-set
//!          SHA-256, serial (u8 present, i64), expires (u8 present, i64), priority i64,
//!          u32 package count, u64 table length, u64 text length, SHA-256 of table + text,
//!          u64 bodies length, u32 name length, the registry's name
//! ..       table: per package (sorted by name) 64 bytes: u32 name offset, u32 name length,
//!          u32 search-text offset, u32 search-text length (both into text), u64 body offset
//!          (into bodies), u32 body length, u32 zero, SHA-256 of the body
//! ..       text: each package's name and its search text (name, description and tags,
//!          lowercased: what `search` matches)
//! ..       bodies: each package as its canonical `Package "name" { ... }` ACL block, read and
//!          checked by the same code as `index.acl` when the package is first asked for
//! ```
//! All integers little-endian.

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use hmac::{Hmac, Mac};
use pandora_core::Sha256;

use super::index::{search_text, IndexPackage, RegistryIndex};

const MAGIC: &[u8; 8] = b"PNDRIDX1";
const MAC_SIZE: usize = 32;
const PREFIX: usize = MAGIC.len() + MAC_SIZE;
const ENTRY: usize = 64;
/// The longest header accepted: fixed fields and a registry name well past any real one.
const HEADER_LIMIT: usize = 64 << 10;

/// The compact file beside a registry's cached `index.acl`.
pub fn path(directory: &Path) -> PathBuf {
    directory.join("index.compact")
}

/// The key authenticating compact indexes under `cache_root`.
pub fn key_path(cache_root: &Path) -> PathBuf {
    cache_root.join("index-cache.key")
}

/// The key authenticating compact indexes: read, or made (32 random bytes, 0600) when missing
/// or malformed. Two processes making it at once both write a whole key and the last rename
/// wins: a compact file authenticated under the other key then fails its check and is rebuilt.
pub fn key(cache_root: &Path) -> std::io::Result<[u8; 32]> {
    let path = key_path(cache_root);
    // Only a regular file, opened without waiting: a FIFO there must not hang every command.
    if let Ok(bytes) = crate::fs::read_regular(&path, 64) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(key);
        }
    }
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).map_err(|error| std::io::Error::other(error.to_string()))?;
    // Not flushed: a key a crash tore is malformed, and made again.
    crate::fs::write_unsynced(&path, &key)?;
    Ok(key)
}

/// What a compact index says about the index it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// SHA-256 of the verified `index.acl`.
    pub index_sha256: Sha256,
    /// SHA-256 of the key set it was verified under (see [`key_set_digest`]).
    pub keys_sha256: Sha256,
    /// The index's name.
    pub name: String,
    /// Its serial.
    pub serial: Option<i64>,
    /// Its expiry (Unix seconds).
    pub expires: Option<i64>,
    /// Its priority hint.
    pub priority: i64,
}

/// The digest a compact index records for the registry's keys (sorted, comma-separated).
pub fn key_set_digest(keys: &str) -> Sha256 {
    Sha256::of(keys.as_bytes())
}

/// Why a compact index was not used (for the log; the client then verifies `index.acl`).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// There is none, or it cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The compact file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a compact index of this version, or is cut short.
    #[error("{path} is malformed: {reason}")]
    Malformed {
        /// The compact file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// Its header's authentication code is wrong: altered, or written under another key.
    #[error("{path} fails its authentication check")]
    Forged {
        /// The compact file.
        path: PathBuf,
    },
    /// It was made from another `index.acl`, or under other keys.
    #[error("{path} was made from another index ({found}, expected {expected})")]
    Stale {
        /// The compact file.
        path: PathBuf,
        /// The index digest it records.
        found: Sha256,
        /// The digest of the index it must be made from.
        expected: Sha256,
    },
}

/// A shared handle on a verified compact index (what [`RegistryIndex::compact`] holds). Two
/// handles are equal when they were made from the same index under the same keys.
#[derive(Debug, Clone)]
pub struct Shared(Arc<CompactIndex>);

impl PartialEq for Shared {
    fn eq(&self, other: &Shared) -> bool {
        self.0.facts == other.0.facts
    }
}

impl Eq for Shared {}

impl std::ops::Deref for Shared {
    type Target = CompactIndex;
    fn deref(&self) -> &CompactIndex {
        &self.0
    }
}

/// Verifies the `index.acl` a compact index was made from again, from scratch (and rebuilds the
/// compact index from it): what a compact index falls back on when one of its packages turns
/// out damaged after it was opened.
pub type Fallback = Box<dyn Fn() -> Option<RegistryIndex> + Send + Sync>;

/// An opened compact index whose header and package table passed their checks. Packages are
/// read from the file, and checked against their digests, when first asked for.
pub struct CompactIndex {
    verify_again: Fallback,
    verified: OnceLock<Option<RegistryIndex>>,
    file: fs_err::File,
    facts: Facts,
    /// The package table, then the text.
    sections: Vec<u8>,
    count: usize,
    bodies_at: u64,
    bodies_length: u64,
    packages: Vec<OnceLock<Option<Box<IndexPackage>>>>,
}

impl std::fmt::Debug for CompactIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CompactIndex")
            .field("path", &self.file.path())
            .field("facts", &self.facts)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

/// One table entry.
struct Entry {
    name: (usize, usize),
    text: (usize, usize),
    body_offset: u64,
    body_length: usize,
    body_sha256: [u8; 32],
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Reads the header's fields in order, refusing to run past its end.
struct Cursor<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Cursor<'b> {
    fn take(&mut self, length: usize) -> Option<&'b [u8]> {
        let end = self.at.checked_add(length)?;
        let taken = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(taken)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|bytes| bytes[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|bytes| u32_at(bytes, 0))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|bytes| u64_at(bytes, 0))
    }
    fn i64(&mut self) -> Option<i64> {
        self.u64().map(|value| value as i64)
    }
    fn digest(&mut self) -> Option<Sha256> {
        let bytes: [u8; 32] = self.take(32)?.try_into().ok()?;
        Some(bytes.into())
    }
    fn optional(&mut self) -> Option<Option<i64>> {
        let present = self.u8()?;
        let value = self.i64()?;
        match present {
            0 => Some(None),
            1 => Some(Some(value)),
            _ => None,
        }
    }
}

fn mac(key: &[u8; 32]) -> Hmac<sha2::Sha256> {
    // An HMAC key may have any length: a 32-byte one is always accepted.
    Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts 32-byte keys")
}

fn too_large(what: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "the index's {what} is too large for a compact index"
    ))
}

fn offset(value: usize, what: &str) -> std::io::Result<u32> {
    u32::try_from(value).map_err(|_| too_large(what))
}

/// The compact form of `index`, which has just been verified and is described by `facts`.
pub fn encode(key: &[u8; 32], facts: &Facts, index: &RegistryIndex) -> std::io::Result<Vec<u8>> {
    let packages = index.packages();
    // The table is searched by name: two packages of one name (which the ACL's first-match
    // lookup would tell apart by order) make an index this form does not describe.
    if packages.windows(2).any(|pair| pair[0].name >= pair[1].name) {
        return Err(std::io::Error::other(
            "the index's packages are not sorted by distinct names",
        ));
    }
    let mut table = Vec::with_capacity(packages.len() * ENTRY);
    let mut text = Vec::new();
    let mut bodies = Vec::new();
    for package in &packages {
        let name_at = text.len();
        text.extend_from_slice(package.name.as_bytes());
        let text_at = text.len();
        text.extend_from_slice(search_text(package).as_bytes());
        let body_at = bodies.len();
        bodies.extend_from_slice(package.to_block().to_string().as_bytes());
        let body = &bodies[body_at..];
        table.extend_from_slice(&offset(name_at, "text")?.to_le_bytes());
        table.extend_from_slice(&offset(package.name.len(), "text")?.to_le_bytes());
        table.extend_from_slice(&offset(text_at, "text")?.to_le_bytes());
        table.extend_from_slice(&offset(text.len() - text_at, "text")?.to_le_bytes());
        table.extend_from_slice(&(body_at as u64).to_le_bytes());
        table.extend_from_slice(&offset(body.len(), "package")?.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        table.extend_from_slice(&Sha256::of(body)[..]);
    }
    let sections = {
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut hasher, &table);
        sha2::Digest::update(&mut hasher, &text);
        Sha256::from(sha2::Digest::finalize(hasher))
    };
    let mut header = vec![0u8; 4];
    header.extend_from_slice(&facts.index_sha256[..]);
    header.extend_from_slice(&facts.keys_sha256[..]);
    for optional in [facts.serial, facts.expires] {
        header.push(u8::from(optional.is_some()));
        header.extend_from_slice(&optional.unwrap_or(0).to_le_bytes());
    }
    header.extend_from_slice(&facts.priority.to_le_bytes());
    header.extend_from_slice(&offset(packages.len(), "package count")?.to_le_bytes());
    header.extend_from_slice(&(table.len() as u64).to_le_bytes());
    header.extend_from_slice(&(text.len() as u64).to_le_bytes());
    header.extend_from_slice(&sections[..]);
    header.extend_from_slice(&(bodies.len() as u64).to_le_bytes());
    header.extend_from_slice(&offset(facts.name.len(), "name")?.to_le_bytes());
    header.extend_from_slice(facts.name.as_bytes());
    let length = offset(header.len(), "name")?;
    header[..4].copy_from_slice(&length.to_le_bytes());
    let mut code = mac(key);
    code.update(&header);
    let mut out =
        Vec::with_capacity(PREFIX + header.len() + table.len() + text.len() + bodies.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&code.finalize().into_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&table);
    out.extend_from_slice(&text);
    out.extend_from_slice(&bodies);
    Ok(out)
}

/// Writes the compact form of the verified `index` to `path`, whole but not flushed: every
/// read checks it against its key and the index's digest, and one a crash tore is made again.
pub fn write(
    path: &Path,
    key: &[u8; 32],
    facts: &Facts,
    index: &RegistryIndex,
) -> std::io::Result<()> {
    crate::fs::write_unsynced(path, &encode(key, facts, index)?)
}

/// Opens the compact index at `path` if it is authentic and was made from the index with
/// digest `index_sha256` under the key set with digest `keys_sha256`.
pub fn open(
    path: &Path,
    key: &[u8; 32],
    index_sha256: &Sha256,
    keys_sha256: &Sha256,
    verify_again: Fallback,
) -> Result<Shared, Refused> {
    let unreadable = |source| Refused::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let malformed = |reason| Refused::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    // Only a regular file, opened without waiting: a FIFO there must not hang the command.
    let (mut file, size) = crate::fs::open_regular(path, u64::MAX).map_err(unreadable)?;
    let mut prefix = [0u8; PREFIX + 4];
    file.read_exact(&mut prefix)
        .map_err(|_| malformed("shorter than its header"))?;
    if &prefix[..MAGIC.len()] != MAGIC {
        return Err(malformed("not a compact index of this version"));
    }
    let header_length = u32_at(&prefix, PREFIX) as usize;
    if !(4..=HEADER_LIMIT).contains(&header_length) {
        return Err(malformed("its header length is out of range"));
    }
    let mut header = vec![0u8; header_length];
    header[..4].copy_from_slice(&prefix[PREFIX..]);
    file.read_exact(&mut header[4..])
        .map_err(|_| malformed("shorter than its header"))?;
    let mut code = mac(key);
    code.update(&header);
    if code.verify_slice(&prefix[MAGIC.len()..PREFIX]).is_err() {
        return Err(Refused::Forged {
            path: path.to_path_buf(),
        });
    }
    // Authentic from here on: the fields were written by this code for a verified index. They
    // are still read defensively (a bug must not become a panic or a wild read).
    let mut cursor = Cursor {
        bytes: &header,
        at: 4,
    };
    let fields = (|| {
        let index = cursor.digest()?;
        let keys = cursor.digest()?;
        let serial = cursor.optional()?;
        let expires = cursor.optional()?;
        let priority = cursor.i64()?;
        let count = cursor.u32()? as usize;
        let table_length = cursor.u64()?;
        let text_length = cursor.u64()?;
        let sections = cursor.digest()?;
        let bodies_length = cursor.u64()?;
        let name_length = cursor.u32()? as usize;
        let name = String::from_utf8(cursor.take(name_length)?.to_vec()).ok()?;
        Some((
            index,
            keys,
            serial,
            expires,
            priority,
            count,
            table_length,
            text_length,
            sections,
            bodies_length,
            name,
        ))
    })();
    let Some((
        index,
        keys,
        serial,
        expires,
        priority,
        count,
        table_length,
        text_length,
        sections_digest,
        bodies_length,
        name,
    )) = fields
    else {
        return Err(malformed("its header is cut short"));
    };
    if index != *index_sha256 || keys != *keys_sha256 {
        return Err(Refused::Stale {
            path: path.to_path_buf(),
            found: index,
            expected: *index_sha256,
        });
    }
    if Some(table_length) != (count as u64).checked_mul(ENTRY as u64) {
        return Err(malformed(
            "its table length does not match its package count",
        ));
    }
    let sections_length = table_length
        .checked_add(text_length)
        .ok_or_else(|| malformed("its section lengths overflow"))?;
    let bodies_at = (PREFIX + header_length) as u64 + sections_length;
    if bodies_at.checked_add(bodies_length) != Some(size) {
        return Err(malformed("its size does not match its header"));
    }
    let mut sections =
        vec![0u8; usize::try_from(sections_length).map_err(|_| malformed("too large"))?];
    file.read_exact(&mut sections)
        .map_err(|_| malformed("shorter than its table"))?;
    if Sha256::of(&sections) != sections_digest {
        return Err(Refused::Forged {
            path: path.to_path_buf(),
        });
    }
    let compact = CompactIndex {
        verify_again,
        verified: OnceLock::new(),
        file,
        facts: Facts {
            index_sha256: index,
            keys_sha256: keys,
            name,
            serial,
            expires,
            priority,
        },
        sections,
        count,
        bodies_at,
        bodies_length,
        packages: (0..count).map(|_| OnceLock::new()).collect(),
    };
    // Every entry's ranges must fall inside the file: checked once, so reads need not.
    if (0..count).any(|position| compact.entry(position).is_none()) {
        return Err(malformed("a table entry points outside the file"));
    }
    Ok(Shared(Arc::new(compact)))
}

impl CompactIndex {
    /// What the index it was made from says about itself.
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// How many packages it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds no package.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The index without its packages, which are read from this compact form when asked for.
    pub fn to_index(this: &Shared) -> RegistryIndex {
        RegistryIndex {
            name: this.facts.name.clone(),
            serial: this.facts.serial,
            expires: this.facts.expires,
            priority: this.facts.priority,
            packages: Vec::new(),
            compact: Some(this.clone()),
        }
    }

    fn text_at(&self) -> usize {
        self.count * ENTRY
    }

    fn entry(&self, position: usize) -> Option<Entry> {
        let at = position.checked_mul(ENTRY)?;
        let raw = self.sections.get(at..at + ENTRY)?;
        let range = |offset: usize| -> Option<(usize, usize)> {
            let start = u32_at(raw, offset) as usize;
            let length = u32_at(raw, offset + 4) as usize;
            let text_length = self.sections.len() - self.text_at();
            (start.checked_add(length)? <= text_length).then_some((start, length))
        };
        let entry = Entry {
            name: range(0)?,
            text: range(8)?,
            body_offset: u64_at(raw, 16),
            body_length: u32_at(raw, 24) as usize,
            body_sha256: raw[32..64].try_into().ok()?,
        };
        (entry.body_offset.checked_add(entry.body_length as u64)? <= self.bodies_length)
            .then_some(entry)
    }

    fn slice(&self, (start, length): (usize, usize)) -> &[u8] {
        let at = self.text_at() + start;
        &self.sections[at..at + length]
    }

    fn name(&self, position: usize) -> &[u8] {
        self.entry(position)
            .map_or(&[][..], |entry| self.slice(entry.name))
    }

    /// The package at `position` of the table, read and checked on first use. A package whose
    /// bytes no longer match their digest (the file was altered in place since it was opened)
    /// is never used: it is reported, the file is removed, and the package comes from the
    /// `index.acl` verified again from scratch (which also writes a new compact index).
    fn at(&self, position: usize) -> Option<&IndexPackage> {
        let read = self.packages.get(position)?.get_or_init(|| {
            let result = self.read(position);
            if let Err(reason) = &result {
                pandora_core::events::Event::new("index-cache")
                    .with("registry", &self.facts.name)
                    .with("status", "damaged")
                    .with("cause", reason)
                    .emit();
                let _ = fs_err::remove_file(self.file.path());
            }
            result.ok().map(Box::new)
        });
        if let Some(package) = read {
            return Some(package);
        }
        let name = std::str::from_utf8(self.name(position)).ok()?;
        self.verified
            .get_or_init(|| (self.verify_again)())
            .as_ref()?
            .package(name)
    }

    fn read(&self, position: usize) -> Result<IndexPackage, String> {
        let entry = self
            .entry(position)
            .ok_or("a table entry is out of range")?;
        let mut body = vec![0u8; entry.body_length];
        self.file
            .file()
            .read_exact_at(&mut body, self.bodies_at + entry.body_offset)
            .map_err(|error| format!("cannot read {}: {error}", self.file.path().display()))?;
        if Sha256::of(&body) != entry.body_sha256 {
            return Err(format!(
                "package {} of {} does not match its digest",
                String::from_utf8_lossy(self.slice(entry.name)),
                self.file.path().display()
            ));
        }
        let text = std::str::from_utf8(&body).map_err(|_| "a package is not UTF-8")?;
        let package = IndexPackage::parse_block(&self.file.path().display().to_string(), text)
            .map_err(|error| error.to_string())?;
        if package.name.as_bytes() != self.slice(entry.name) {
            return Err(format!(
                "package {} is filed under another name",
                package.name
            ));
        }
        Ok(package)
    }

    /// The package called `name`: a binary search of the table, then one read.
    pub fn package(&self, name: &str) -> Option<&IndexPackage> {
        let position = {
            let (mut low, mut high) = (0, self.count);
            loop {
                if low >= high {
                    return None;
                }
                let middle = low + (high - low) / 2;
                match self.name(middle).cmp(name.as_bytes()) {
                    std::cmp::Ordering::Less => low = middle + 1,
                    std::cmp::Ordering::Greater => high = middle,
                    std::cmp::Ordering::Equal => break middle,
                }
            }
        };
        self.at(position)
    }

    /// Every package, in table (name) order.
    pub fn all(&self) -> Vec<&IndexPackage> {
        (0..self.count)
            .filter_map(|position| self.at(position))
            .collect()
    }

    /// The packages whose search text contains `term` (already lowercased); only they are read.
    pub fn search(&self, term: &str) -> Vec<&IndexPackage> {
        let finder = memchr::memmem::Finder::new(term.as_bytes());
        (0..self.count)
            .filter(|position| {
                self.entry(*position)
                    .is_some_and(|entry| finder.find(self.slice(entry.text)).is_some())
            })
            .filter_map(|position| self.at(position))
            .collect()
    }
}
