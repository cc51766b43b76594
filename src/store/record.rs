//! Install records: where a store entry came from (blob, registry, source, signing key, time)
//! and the hash of every file it holds. They live in `records/`, outside the package tree, so a
//! package cannot forge its own.

use acl_parser::{Block, Document};
use pandora_core::PublicKey;
use pandora_core::Sha256;

use crate::format::metadata::encode_hex;

/// One installed file, directory or link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedEntry {
    /// A regular file: its SHA-256 and mode.
    File {
        /// Path inside the entry.
        path: String,
        /// SHA-256 of its content.
        sha256: Sha256,
        /// Unix mode (read-only once installed).
        mode: u32,
    },
    /// A directory.
    Directory {
        /// Path inside the entry.
        path: String,
    },
    /// A symbolic link and its target.
    Link {
        /// Path inside the entry.
        path: String,
        /// Where it points.
        target: String,
    },
}

impl RecordedEntry {
    /// Its path inside the entry.
    pub fn path(&self) -> &str {
        match self {
            RecordedEntry::File { path, .. }
            | RecordedEntry::Directory { path }
            | RecordedEntry::Link { path, .. } => path,
        }
    }
}

/// Everything Pandora remembers about one installed `name@version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// SHA-256 of the `.psp` it was installed from (its name in `blobs/`).
    pub blob: Sha256,
    /// The registry it came from, if any.
    pub registry: Option<String>,
    /// The URL or path it was read from.
    pub source: String,
    /// The key that signed it.
    pub public_key: PublicKey,
    /// Unix time of installation.
    pub installed_at: i64,
    /// Its `name@version` dependencies, from the signed metadata.
    pub dependencies: Vec<String>,
    /// Every entry, sorted by path; shared, so a record read again is not copied.
    pub entries: std::sync::Arc<[RecordedEntry]>,
    /// Its entry points' names (`entries/<id>/NAME`, linked as a profile's `bin/NAME`); none
    /// for a library, or in a record written before entry points existed.
    pub entry_points: Vec<String>,
}

impl Record {
    /// `name@version`.
    pub fn id(&self) -> String {
        pandora_core::id::id(&self.name, &self.version)
    }

    /// The record as ACL.
    pub fn to_acl(&self) -> String {
        format!("{HEADER}{}", Document::new().with_block(self.block()))
    }

    /// The record as ACL while its entry is being committed: with a `Commit` block naming the
    /// tree it describes (its `device:inode`), which a reader compares with the tree it finds.
    /// Promoted to the record by a rename, the block stays, and is ignored.
    pub(super) fn to_pending_acl(&self, tree: &str) -> String {
        format!(
            "{HEADER}{}",
            Document::new()
                .with_block(self.block())
                .with_block(Block::new("Commit").with("tree", tree.to_string()))
        )
    }

    fn block(&self) -> Block {
        let mut block = Block::labelled("Install", self.id())
            .with("name", self.name.clone())
            .with("version", self.version.clone())
            .with("blob", encode_hex(&self.blob))
            .with("registry", self.registry.clone().unwrap_or_default())
            .with("source", self.source.clone())
            .with("key", self.public_key.to_string())
            .with("installed_at", self.installed_at)
            .with("dependencies", self.dependencies.clone());
        if !self.entry_points.is_empty() {
            block = block.with("entry_points", self.entry_points.clone());
        }
        for entry in self.entries.iter() {
            block = block.with_block(match entry {
                RecordedEntry::File { path, sha256, mode } => Block::labelled("File", path.clone())
                    .with("sha256", encode_hex(sha256))
                    .with("mode", format!("{mode:04o}")),
                RecordedEntry::Directory { path } => Block::labelled("Directory", path.clone()),
                RecordedEntry::Link { path, target } => {
                    Block::labelled("Link", path.clone()).with("target", target.clone())
                }
            });
        }
        block
    }

    /// Reads a record.
    pub fn parse(name: &str, text: &str) -> Result<Record, acl_parser::Error> {
        let document = acl_parser::from_str(name, text)?;
        let block = document
            .blocks("Install")
            .next()
            .ok_or_else(|| document.error_at(None, "no `Install` block"))?;
        let invalid =
            |what: &str| document.error_at(block.span(), format!("invalid install record: {what}"));
        let text = |field: &str| {
            block
                .get_str(field)
                .map(str::to_string)
                .map_err(|_| invalid(&format!("`{field}` must be a string")))
        };
        let mut entries = Vec::new();
        for entry in block.all_blocks() {
            let path = entry
                .label()
                .ok_or_else(|| invalid("an entry without a path"))?
                .to_string();
            entries.push(match entry.name() {
                "File" => RecordedEntry::File {
                    sha256: entry
                        .get_str("sha256")
                        .ok()
                        .and_then(Sha256::parse_hex)
                        .ok_or_else(|| invalid("a file without a valid sha256"))?,
                    mode: entry
                        .get_str("mode")
                        .ok()
                        .and_then(|mode| u32::from_str_radix(mode, 8).ok())
                        .ok_or_else(|| invalid("a file without a valid mode"))?,
                    path,
                },
                "Directory" => RecordedEntry::Directory { path },
                "Link" => RecordedEntry::Link {
                    target: entry
                        .get_str("target")
                        .map_err(|_| invalid("a link without a target"))?
                        .to_string(),
                    path,
                },
                other => return Err(invalid(&format!("unknown entry `{other}`"))),
            });
        }
        let dependencies = document.string_array(block, "dependencies")?;
        let entry_points = document.string_array(block, "entry_points")?;
        let registry = text("registry")?;
        Ok(Record {
            name: text("name")?,
            version: text("version")?,
            blob: Sha256::parse_hex(&text("blob")?)
                .ok_or_else(|| invalid("`blob` must be 64 hex digits"))?,
            registry: (!registry.is_empty()).then_some(registry),
            source: text("source")?,
            public_key: text("key")?
                .parse::<PublicKey>()
                .map_err(|_| invalid("`key` must be `ed25519:` and 64 hex digits"))?,
            installed_at: block
                .get_int("installed_at")
                .map_err(|_| invalid("`installed_at` must be an int"))?,
            dependencies,
            entries: entries.into(),
            entry_points,
        })
    }
}

const HEADER: &str = "// Pandora install record: written by Pandora, not by the package.\n";

/// The tree a pending record names (see [`Record::to_pending_acl`]), if it names one.
pub(super) fn pending_tree(name: &str, text: &str) -> Option<String> {
    let document = acl_parser::from_str(name, text).ok()?;
    let block = document.blocks("Commit").next()?;
    block.get_str("tree").ok().map(str::to_string)
}

/// The record with the highest version among those `keep` accepts.
pub fn newest<'r>(
    records: impl IntoIterator<Item = &'r Record>,
    keep: impl Fn(&Record) -> bool,
) -> Option<&'r Record> {
    records
        .into_iter()
        .filter(|record| keep(record))
        .max_by(|a, b| pandora_core::id::compare_versions(&a.version, &b.version))
}

/// The compact summary of a record (`records/NAME@VERSION.summary`): the same record in a
/// binary form read without the ACL parser, for commands that read many records (activating
/// 100 packages reads 1.6 MB of records). It is bound to the ACL record it was made from by
/// that file's identity ([`Stamp`]: device, inode, size, modification and change times), so a
/// record replaced or edited since makes it stale, and it carries a CRC-32 of its contents, so
/// a damaged one (a summary is written without an fsync, so a crash can tear it) is detected:
/// either way the ACL record is read and the summary made again. The CRC guards against
/// accidents only, as a digest here would: whoever can write `records/` can rewrite the ACL
/// record too, which is why that directory's owner and mode are checked. Records written before
/// summaries existed, or before this version, get one the first time they are read.
///
/// ```text
/// "PNDRREC3" | stamp: 7 x u64 | CRC-32 of the rest (u32) | name | version | blob (32 bytes) |
/// registry (u8 present, string) | source | public key (32 bytes) | installed_at i64 |
/// u32 count, dependencies | u32 count, entries: u8 kind (0 file, 1 directory, 2 link), path,
/// then a file's SHA-256 and u32 mode, or a link's target
/// ```
/// Strings are a u32 length and UTF-8 bytes; integers little-endian.
pub mod summary {
    use super::{Record, RecordedEntry};
    use pandora_core::PublicKey;

    // 2: entry points follow the entries; 3: a CRC-32 instead of a SHA-256 (hashing every
    // summary was a tenth of activating 100 packages). Older summaries are made again.
    const MAGIC: &[u8; 8] = b"PNDRREC3";
    const STAMP: usize = 7 * 8;

    /// The identity of an ACL record file, as a summary of it records.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Stamp([u64; 7]);

    impl Stamp {
        /// The stamp of a file from its metadata.
        pub fn of(metadata: &std::fs::Metadata) -> Stamp {
            use std::os::unix::fs::MetadataExt;
            // Times as their bit patterns: only equality matters.
            Stamp([
                metadata.dev(),
                metadata.ino(),
                metadata.size(),
                metadata.mtime() as u64,
                metadata.mtime_nsec() as u64,
                metadata.ctime() as u64,
                metadata.ctime_nsec() as u64,
            ])
        }
    }

    fn string(out: &mut Vec<u8>, text: &str) {
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }

    /// The summary of `record`, read from an ACL record file with stamp `stamp`.
    pub fn encode(record: &Record, stamp: Stamp) -> Vec<u8> {
        let mut body = Vec::with_capacity(64 + record.entries.len() * 64);
        string(&mut body, &record.name);
        string(&mut body, &record.version);
        body.extend_from_slice(&record.blob[..]);
        body.push(u8::from(record.registry.is_some()));
        string(&mut body, record.registry.as_deref().unwrap_or_default());
        string(&mut body, &record.source);
        body.extend_from_slice(&record.public_key[..]);
        body.extend_from_slice(&record.installed_at.to_le_bytes());
        body.extend_from_slice(&(record.dependencies.len() as u32).to_le_bytes());
        for dependency in &record.dependencies {
            string(&mut body, dependency);
        }
        body.extend_from_slice(&(record.entries.len() as u32).to_le_bytes());
        for entry in record.entries.iter() {
            match entry {
                RecordedEntry::File { path, sha256, mode } => {
                    body.push(0);
                    string(&mut body, path);
                    body.extend_from_slice(&sha256[..]);
                    body.extend_from_slice(&mode.to_le_bytes());
                }
                RecordedEntry::Directory { path } => {
                    body.push(1);
                    string(&mut body, path);
                }
                RecordedEntry::Link { path, target } => {
                    body.push(2);
                    string(&mut body, path);
                    string(&mut body, target);
                }
            }
        }
        body.extend_from_slice(&(record.entry_points.len() as u32).to_le_bytes());
        for entry_point in &record.entry_points {
            string(&mut body, entry_point);
        }
        let mut out = Vec::with_capacity(MAGIC.len() + STAMP + 4 + body.len());
        out.extend_from_slice(MAGIC);
        for word in stamp.0 {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// How many bytes begin a summary and say which record file it was made from.
    pub const HEADER: usize = MAGIC.len() + STAMP;

    /// Whether a summary beginning with `header` ([`HEADER`] bytes) is one of this version,
    /// made from the record file with stamp `stamp`: worth reading the rest of.
    pub fn names(header: &[u8], stamp: Stamp) -> bool {
        let mut expected = Vec::with_capacity(HEADER);
        expected.extend_from_slice(MAGIC);
        for word in stamp.0 {
            expected.extend_from_slice(&word.to_le_bytes());
        }
        header == expected.as_slice()
    }

    /// Reads the fields of a summary in order, refusing to run past its end.
    struct Reader<'b>(&'b [u8]);

    impl<'b> Reader<'b> {
        fn take(&mut self, length: usize) -> Option<&'b [u8]> {
            if self.0.len() < length {
                return None;
            }
            let (taken, rest) = self.0.split_at(length);
            self.0 = rest;
            Some(taken)
        }
        fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
            self.take(N)?.try_into().ok()
        }
        fn u32(&mut self) -> Option<u32> {
            self.array().map(u32::from_le_bytes)
        }
        fn string(&mut self) -> Option<String> {
            let length = self.u32()? as usize;
            String::from_utf8(self.take(length)?.to_vec()).ok()
        }
        fn count(&mut self) -> Option<usize> {
            // Each item takes at least 4 bytes: a count beyond that is damage, not a size to
            // allocate.
            let count = self.u32()? as usize;
            (count <= self.0.len() / 4).then_some(count)
        }
    }

    /// The record a summary holds, if it is one made from the ACL record with stamp `stamp`
    /// and is intact.
    pub fn decode(bytes: &[u8], stamp: Stamp) -> Option<Record> {
        let mut reader = Reader(bytes);
        if reader.take(MAGIC.len())? != MAGIC {
            return None;
        }
        for word in stamp.0 {
            if u64::from_le_bytes(reader.array()?) != word {
                return None;
            }
        }
        if reader.u32()? != crc32fast::hash(reader.0) {
            return None;
        }
        let name = reader.string()?;
        let version = reader.string()?;
        let blob: [u8; 32] = reader.array()?;
        let has_registry = reader.array::<1>()?[0] == 1;
        let registry = reader.string()?;
        let source = reader.string()?;
        let public_key = PublicKey::from_checked_bytes(reader.array()?);
        let installed_at = i64::from_le_bytes(reader.array()?);
        let mut dependencies = Vec::with_capacity(reader.count()?);
        for _ in 0..dependencies.capacity() {
            dependencies.push(reader.string()?);
        }
        let count = reader.count()?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = reader.array::<1>()?[0];
            let path = reader.string()?;
            entries.push(match kind {
                0 => {
                    let sha256: [u8; 32] = reader.array()?;
                    let mode = reader.u32()?;
                    RecordedEntry::File {
                        path,
                        sha256: sha256.into(),
                        mode,
                    }
                }
                1 => RecordedEntry::Directory { path },
                2 => RecordedEntry::Link {
                    path,
                    target: reader.string()?,
                },
                _ => return None,
            });
        }
        let mut entry_points = Vec::with_capacity(reader.count()?);
        for _ in 0..entry_points.capacity() {
            entry_points.push(reader.string()?);
        }
        if !reader.0.is_empty() {
            return None;
        }
        Some(Record {
            name,
            version,
            blob: blob.into(),
            registry: has_registry.then_some(registry),
            source,
            public_key,
            installed_at,
            dependencies,
            entries: entries.into(),
            entry_points,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let record = Record {
            name: "hello".into(),
            version: "1.0.0".into(),
            blob: [1; 32].into(),
            registry: Some("main".into()),
            source: "https://example.org/hello.psp".into(),
            public_key: crate::format::signing::SigningKey::from_seed("record").public_key(),
            installed_at: 1_700_000_000,
            dependencies: vec!["libgreet@2.0.0".into()],
            entries: vec![
                RecordedEntry::Directory { path: "bin".into() },
                RecordedEntry::File {
                    path: "bin/hello".into(),
                    sha256: [3; 32].into(),
                    mode: 0o555,
                },
                RecordedEntry::Link {
                    path: "bin/hi".into(),
                    target: "hello".into(),
                },
            ]
            .into(),
            entry_points: vec!["hello".into(), "hello-admin".into()],
        };
        assert_eq!(Record::parse("record", &record.to_acl()).unwrap(), record);
        let pending = record.to_pending_acl("64768:1234");
        assert_eq!(Record::parse("pending", &pending).unwrap(), record);
        assert_eq!(
            pending_tree("pending", &pending).as_deref(),
            Some("64768:1234")
        );
        assert_eq!(pending_tree("record", &record.to_acl()), None);
        let local = Record {
            registry: None,
            ..record
        };
        assert_eq!(Record::parse("record", &local.to_acl()).unwrap(), local);
    }

    #[test]
    fn damaged_dependencies_are_an_error_not_an_empty_list() {
        let record = Record {
            name: "hello".into(),
            version: "1.0.0".into(),
            blob: [1; 32].into(),
            registry: None,
            source: "hello.psp".into(),
            public_key: crate::format::signing::SigningKey::from_seed("record").public_key(),
            installed_at: 0,
            dependencies: vec!["libgreet@2.0.0".into()],
            entries: Vec::new().into(),
            entry_points: Vec::new(),
        };
        let text = record.to_acl();
        let damaged = text.replace(
            "string[] dependencies = { \"libgreet@2.0.0\" };",
            "string dependencies = \"libgreet@2.0.0\";",
        );
        assert_ne!(text, damaged);
        let error = Record::parse("record", &damaged).unwrap_err();
        assert!(error.to_string().contains("dependencies"), "{error}");
    }
}
