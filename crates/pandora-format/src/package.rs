//! Reading and verifying a `.psp` file with positioned reads: the trailer first, then only the
//! ranges the index points at. Nothing is trusted before it is checked, and every check has a
//! name so `pandora verify` can say which one failed.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, VerifyingKey};
use flate2::read::GzDecoder;
use pandora_core::{KeyFingerprint, PublicKey};
use sha2::{Digest, Sha256};

use super::index::{
    index_checksum, Index, DESCRIPTOR_SIZE, FORMAT_VERSION, INDEX_SIZE, TRAILER_END, TRAILER_SIZE,
    TRAILER_START,
};
use super::metadata::{encode_hex, Metadata};
use super::slot::{short_checksum, Operations, SlotDescriptor};
use super::FormatError;

/// Decompressed metadata larger than this is refused (a gzip bomb in the metadata).
const MAX_METADATA_JSON: u64 = 64 << 20;
/// More slots than this is not a real package.
const MAX_SLOTS: u32 = 4096;

/// An open package file and its (unverified) index.
#[derive(Debug)]
pub struct Package {
    path: PathBuf,
    file: File,
    /// Where the launcher region's bytes come from instead of `file`, for a file stored with
    /// its launcher elsewhere ([`Package::open_split`]).
    launcher: Option<SplitLauncher>,
    size: u64,
    block: Box<[u8; INDEX_SIZE]>,
    magics_ok: bool,
    index: Index,
}

/// The outcome of one named check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed, with a detail worth showing.
    Pass(String),
    /// Failed, with the reason.
    Fail(String),
    /// Not run because an earlier check failed.
    Skip,
}

/// One named check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable name, e.g. `index-checksum`, `signature`, `slot 0 (bin) sha256`.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
}

/// The checks run on a package, in order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every check, passed, failed or skipped.
    pub checks: Vec<Check>,
}

impl Report {
    fn push(&mut self, name: impl Into<String>, outcome: Outcome) -> bool {
        let passed = matches!(outcome, Outcome::Pass(_));
        self.checks.push(Check {
            name: name.into(),
            outcome,
        });
        passed
    }

    fn skip(&mut self, names: &[&str]) {
        for name in names {
            self.push(*name, Outcome::Skip);
        }
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks
            .iter()
            .all(|check| matches!(check.outcome, Outcome::Pass(_)))
    }

    /// The first failed check.
    pub fn first_failure(&self) -> Option<(&str, &str)> {
        self.checks.iter().find_map(|check| match &check.outcome {
            Outcome::Fail(reason) => Some((check.name.as_str(), reason.as_str())),
            _ => None,
        })
    }
}

/// What verification established: the signed metadata and the slot table, consistent with it.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The exact signed JSON bytes.
    pub metadata_json: Vec<u8>,
    /// Them, parsed.
    pub metadata: Metadata,
    /// The slot descriptors, in slot order.
    pub slots: Vec<VerifiedSlot>,
    /// The signing key.
    pub public_key: PublicKey,
    /// Hex SHA-256 of the signing key.
    pub key_fingerprint: KeyFingerprint,
    /// SHA-256 of the gzipped metadata: with the signature, it pins every slot's content, so it
    /// identifies the package's content.
    pub metadata_sha256: [u8; 32],
}

/// A slot whose descriptor agrees with the signed metadata.
#[derive(Debug, Clone)]
pub struct VerifiedSlot {
    /// Index.
    pub index: usize,
    /// Name from the metadata.
    pub id: String,
    /// The descriptor.
    pub descriptor: SlotDescriptor,
    /// Decoded operation chain.
    pub operations: Operations,
    /// The full SHA-256 the signed metadata declares for the stored bytes.
    pub sha256: [u8; 32],
    /// Single-file slots: the path under the work environment.
    pub target: Option<String>,
    /// Single-file slots: the mode.
    pub mode: u32,
}

/// Whether to hash the slot data too (the `verify` command) or stop at the structure (callers
/// that hash while extracting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Trailer, index, layout, metadata, signature, descriptors.
    Structure,
    /// All of that and every slot's full SHA-256.
    Full,
}

impl Package {
    /// Opens a package and reads its trailer. Fails only if the file cannot be read or is too
    /// small to hold a trailer; everything else is for [`Package::verify`].
    pub fn open(path: &Path) -> Result<Package, FormatError> {
        let file = fs_err::File::open(path).map_err(|source| FormatError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let size = file
            .metadata()
            .map_err(|source| FormatError::Read {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        let file = file.into_parts().0;
        if size < TRAILER_SIZE as u64 {
            return Err(FormatError::TooSmall {
                path: path.to_path_buf(),
                size,
            });
        }
        let mut trailer = vec![0u8; TRAILER_SIZE];
        file.read_exact_at(&mut trailer, size - TRAILER_SIZE as u64)
            .map_err(|source| FormatError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let magics_ok = trailer[..4] == TRAILER_START && trailer[TRAILER_SIZE - 4..] == TRAILER_END;
        let mut block = Box::new([0u8; INDEX_SIZE]);
        block.copy_from_slice(&trailer[4..4 + INDEX_SIZE]);
        let index = Index::decode(&block);
        Ok(Package {
            path: path.to_path_buf(),
            file,
            launcher: None,
            size,
            block,
            magics_ok,
            index,
        })
    }

    /// Opens a package stored in two files: `path` holds the whole package's length, of which
    /// the first `launcher_size` bytes are not read (a cache keeps a placeholder there), and
    /// `launcher` holds exactly those bytes. Every read below `launcher_size` comes from
    /// `launcher`, so the package reads as the one file it stands for; nothing here checks
    /// that `launcher` is the right stub (its caller knows its digest; [`Package::verify`]
    /// compares it with the signed metadata's).
    pub fn open_split(
        path: &Path,
        launcher: &Path,
        launcher_size: u64,
    ) -> Result<Package, FormatError> {
        let mut package = Package::open(path)?;
        let file = fs_err::File::open(launcher).map_err(|source| FormatError::Open {
            path: launcher.to_path_buf(),
            source,
        })?;
        let length = file
            .metadata()
            .map_err(|source| FormatError::Read {
                path: launcher.to_path_buf(),
                source,
            })?
            .len();
        if length != launcher_size || launcher_size > package.size {
            return Err(FormatError::Read {
                path: launcher.to_path_buf(),
                source: std::io::Error::other(format!(
                    "the launcher is {length} bytes, the package needs {launcher_size}"
                )),
            });
        }
        package.launcher = Some(SplitLauncher {
            file: file.into_parts().0,
            size: launcher_size,
        });
        Ok(package)
    }

    /// Reads at `offset` of the package (from its launcher's file below its size, when split).
    fn read_at(&self, buffer: &mut [u8], offset: u64) -> std::io::Result<usize> {
        if let Some(launcher) = self.launcher.as_ref().filter(|l| offset < l.size) {
            let wanted = buffer
                .len()
                .min(usize::try_from(launcher.size - offset).unwrap_or(usize::MAX));
            return launcher.file.read_at(&mut buffer[..wanted], offset);
        }
        self.file.read_at(buffer, offset)
    }

    /// Fills `buffer` from `offset`.
    fn read_exact_at(&self, mut buffer: &mut [u8], mut offset: u64) -> std::io::Result<()> {
        while !buffer.is_empty() {
            match self.read_at(buffer, offset) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "file ends early",
                    ))
                }
                Ok(read) => {
                    buffer = &mut buffer[read..];
                    offset += read as u64;
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The decoded (unverified) index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    fn read_range(&self, offset: u64, length: u64) -> Result<Vec<u8>, String> {
        let length = usize::try_from(length).map_err(|_| "range too large".to_string())?;
        let mut bytes = vec![0u8; length];
        self.read_exact_at(&mut bytes, offset)
            .map_err(|error| format!("cannot read {length} bytes at {offset}: {error}"))?;
        Ok(bytes)
    }

    /// Runs every check in order; a failure skips the checks that depend on it.
    pub fn verify(&self, scope: Scope) -> (Report, Option<Verified>) {
        let mut report = Report::default();
        let verified = self.verify_into(&mut report, scope);
        (report, verified)
    }

    /// Verifies, returning the first failure as an error.
    pub fn verified(&self, scope: Scope) -> Result<Verified, FormatError> {
        let (report, verified) = self.verify(scope);
        match (report.first_failure(), verified) {
            (None, Some(verified)) => Ok(verified),
            (Some((check, reason)), _) => Err(FormatError::CheckFailed {
                path: self.path.clone(),
                check: check.to_string(),
                reason: reason.to_string(),
            }),
            (None, None) => Err(FormatError::CheckFailed {
                path: self.path.clone(),
                check: "verify".to_string(),
                reason: "verification did not complete".to_string(),
            }),
        }
    }

    fn verify_into(&self, report: &mut Report, scope: Scope) -> Option<Verified> {
        const AFTER_INDEX: &[&str] = &[
            "layout",
            "metadata-sha256",
            "metadata-gzip",
            "metadata-json",
            "signature",
            "key-fingerprint",
            "slot-table",
        ];
        let index = &self.index;
        let magics = if self.magics_ok {
            Outcome::Pass("package and magic-wand emojis in place".into())
        } else {
            Outcome::Fail(
                "the trailer's emojis are missing: not a PSPF/2025 file, or truncated".into(),
            )
        };
        if !report.push("trailer-magic", magics) {
            report.skip(&["index-checksum", "format-version", "package-size"]);
            report.skip(AFTER_INDEX);
            return None;
        }
        let expected = index_checksum(&self.block);
        let checksum = if expected == index.checksum {
            Outcome::Pass(format!("adler32 {expected:08x}"))
        } else {
            Outcome::Fail(format!(
                "index checksum is {:08x}, the index hashes to {expected:08x}",
                index.checksum
            ))
        };
        let checksum_ok = report.push("index-checksum", checksum);
        let version_ok = report.push(
            "format-version",
            if index.format_version == FORMAT_VERSION {
                Outcome::Pass(format!("{FORMAT_VERSION:#010x}"))
            } else {
                Outcome::Fail(format!(
                    "format version {:#010x}, expected {FORMAT_VERSION:#010x}",
                    index.format_version
                ))
            },
        );
        let size_ok = report.push(
            "package-size",
            if index.package_size == self.size {
                Outcome::Pass(format!("{} bytes", self.size))
            } else {
                Outcome::Fail(format!(
                    "index says {} bytes, the file has {}",
                    index.package_size, self.size
                ))
            },
        );
        if !(checksum_ok && version_ok && size_ok) {
            report.skip(AFTER_INDEX);
            return None;
        }
        let descriptors = match self.check_layout() {
            Ok(descriptors) => {
                report.push(
                    "layout",
                    Outcome::Pass(format!(
                        "{} slots, all ranges inside the file and disjoint",
                        descriptors.len()
                    )),
                );
                descriptors
            }
            Err(reason) => {
                report.push("layout", Outcome::Fail(reason));
                report.skip(&AFTER_INDEX[1..]);
                return None;
            }
        };
        let gzipped = match self.read_range(index.metadata_offset, index.metadata_size) {
            Ok(bytes) => bytes,
            Err(reason) => {
                report.push("metadata-sha256", Outcome::Fail(reason));
                report.skip(&AFTER_INDEX[2..]);
                return None;
            }
        };
        let metadata_sha256: [u8; 32] = Sha256::digest(&gzipped).into();
        if !report.push(
            "metadata-sha256",
            if metadata_sha256 == index.metadata_sha256 {
                Outcome::Pass(encode_hex(&metadata_sha256))
            } else {
                Outcome::Fail(format!(
                    "metadata hashes to {}, the index says {}",
                    encode_hex(&metadata_sha256),
                    encode_hex(&index.metadata_sha256)
                ))
            },
        ) {
            report.skip(&AFTER_INDEX[2..]);
            return None;
        }
        let mut json = Vec::new();
        let decoded = GzDecoder::new(gzipped.as_slice())
            .take(MAX_METADATA_JSON + 1)
            .read_to_end(&mut json);
        let gzip_outcome = match decoded {
            Err(error) => Outcome::Fail(format!("metadata is not valid gzip: {error}")),
            Ok(_) if json.len() as u64 > MAX_METADATA_JSON => {
                Outcome::Fail(format!("metadata expands past {MAX_METADATA_JSON} bytes"))
            }
            Ok(length) => Outcome::Pass(format!("{length} bytes of JSON")),
        };
        if !report.push("metadata-gzip", gzip_outcome) {
            report.skip(&AFTER_INDEX[3..]);
            return None;
        }
        let metadata = match parse_metadata(&json, index.slot_count) {
            Ok(metadata) => {
                report.push(
                    "metadata-json",
                    Outcome::Pass(format!(
                        "{} {}",
                        metadata.package.name, metadata.package.version
                    )),
                );
                metadata
            }
            Err(reason) => {
                report.push("metadata-json", Outcome::Fail(reason));
                report.skip(&AFTER_INDEX[4..]);
                return None;
            }
        };
        if !report.push(
            "signature",
            check_signature(&index.public_key, &index.signature, &json),
        ) {
            report.skip(&AFTER_INDEX[5..]);
            return None;
        }
        // The signature check above accepted the key, so it is a valid point.
        let Some(public_key) = PublicKey::from_bytes(index.public_key) else {
            report.push(
                "key-fingerprint",
                Outcome::Fail("the embedded public key is not a valid Ed25519 key".into()),
            );
            report.skip(&AFTER_INDEX[6..]);
            return None;
        };
        let fingerprint = public_key.fingerprint();
        let fingerprint_outcome = match &index.key_fingerprint {
            None => Outcome::Pass(format!("not recorded; the key's is {fingerprint}")),
            Some(recorded) if recorded.as_slice() == fingerprint.hex().as_bytes() => {
                Outcome::Pass(fingerprint.to_string())
            }
            Some(recorded) => Outcome::Fail(format!(
                "index records fingerprint {}, the embedded key's is {fingerprint}",
                String::from_utf8_lossy(recorded)
            )),
        };
        if !report.push("key-fingerprint", fingerprint_outcome) {
            report.skip(&AFTER_INDEX[6..]);
            return None;
        }
        let slots = match check_slot_table(&descriptors, &metadata) {
            Ok(slots) => {
                report.push(
                    "slot-table",
                    Outcome::Pass("descriptors agree with the signed metadata".into()),
                );
                slots
            }
            Err(reason) => {
                report.push("slot-table", Outcome::Fail(reason));
                return None;
            }
        };
        let mut all_slots_ok = true;
        if scope == Scope::Full {
            let outcome = self.launcher_outcome(&metadata);
            all_slots_ok &= report.push("launcher-sha256", outcome);
            for slot in &slots {
                let outcome = match self.hash_slot(&slot.descriptor) {
                    Ok(actual) if actual == slot.sha256 => Outcome::Pass(encode_hex(&actual)),
                    Ok(actual) => Outcome::Fail(format!(
                        "stored bytes hash to {}, the signed metadata says {}",
                        encode_hex(&actual),
                        encode_hex(&slot.sha256)
                    )),
                    Err(error) => Outcome::Fail(error.to_string()),
                };
                all_slots_ok &=
                    report.push(format!("slot {} ({}) sha256", slot.index, slot.id), outcome);
            }
        }
        all_slots_ok.then_some(Verified {
            metadata_json: json,
            metadata,
            slots,
            public_key,
            key_fingerprint: fingerprint,
            metadata_sha256,
        })
    }

    /// Whether the launcher stub is the one the signed metadata records (when it records one).
    /// Running a package never executes these bytes, but `verify` and `unpack` vouch for the
    /// whole file; FlavorPack's rs builder and Pandora both record the stub's SHA-256.
    fn launcher_outcome(&self, metadata: &Metadata) -> Outcome {
        let recorded = metadata
            .launcher
            .as_ref()
            .and_then(|launcher| launcher.checksum.as_deref());
        match recorded
            .and_then(|text| text.strip_prefix("sha256:"))
            .and_then(super::metadata::decode_hex::<32>)
        {
            None => Outcome::Pass("not recorded by the builder".into()),
            Some(expected) => match self.hash_range(0, self.index.launcher_size) {
                Ok(actual) if actual == expected => Outcome::Pass(encode_hex(&actual)),
                Ok(actual) => Outcome::Fail(format!(
                    "the launcher stub hashes to {}, the signed metadata says {}",
                    encode_hex(&actual),
                    encode_hex(&expected)
                )),
                Err(error) => Outcome::Fail(error.to_string()),
            },
        }
    }

    /// The platform the package is for, and what says so: its declared platform (Pandora's
    /// `arch`), else what its launcher stub was compiled for; `None` when neither tells.
    pub fn platform(
        &self,
        metadata: &Metadata,
    ) -> Result<Option<(crate::platform::Platform, String)>, FormatError> {
        use crate::platform::Platform;
        let declared = metadata
            .pandora
            .as_ref()
            .and_then(|pandora| pandora.arch.as_deref())
            .and_then(|arch| Platform::parse(arch).map(|platform| (arch, platform)));
        if let Some((text, platform)) = declared {
            return Ok(Some((platform, format!("it declares `{text}`"))));
        }
        let mut header = [0u8; 64];
        let length = (self.index.launcher_size as usize).min(header.len());
        let mut reader = RangeReader {
            package: self,
            position: 0,
            end: length as u64,
        };
        reader
            .read_exact(&mut header[..length])
            .map_err(|source| FormatError::Read {
                path: self.path.clone(),
                source,
            })?;
        Ok(Platform::of_executable(&header[..length])
            .map(|platform| (platform, "its launcher's executable header".to_string())))
    }

    /// Refuses a package for another platform than `host` (see [`Package::platform`]).
    pub fn check_platform(
        &self,
        metadata: &Metadata,
        host: &crate::platform::Platform,
    ) -> Result<(), FormatError> {
        let Some((platform, evidence)) = self.platform(metadata)? else {
            return Ok(());
        };
        if platform.runs_on(host) {
            return Ok(());
        }
        Err(FormatError::WrongPlatform {
            path: self.path.clone(),
            package: platform.to_string(),
            host: host.to_string(),
            evidence,
        })
    }

    /// Checks the launcher stub against the signed metadata, as an error.
    pub fn verify_launcher(&self, verified: &Verified) -> Result<(), FormatError> {
        match self.launcher_outcome(&verified.metadata) {
            Outcome::Fail(reason) => Err(FormatError::CheckFailed {
                path: self.path.clone(),
                check: "launcher-sha256".into(),
                reason,
            }),
            _ => Ok(()),
        }
    }

    /// Checks every range the index and slot table name, and returns the descriptors.
    fn check_layout(&self) -> Result<Vec<SlotDescriptor>, String> {
        let index = &self.index;
        let data_end = self.size - TRAILER_SIZE as u64;
        let range = |what: &str, offset: u64, length: u64| -> Result<(u64, u64), String> {
            let end = offset
                .checked_add(length)
                .ok_or_else(|| format!("{what} range overflows"))?;
            if offset < index.launcher_size || end > data_end {
                return Err(format!(
                    "{what} [{offset}, {end}) is outside the data area [{}, {data_end})",
                    index.launcher_size
                ));
            }
            Ok((offset, end))
        };
        if index.launcher_size > data_end {
            return Err(format!(
                "launcher size {} is larger than the file's data area",
                index.launcher_size
            ));
        }
        if index.slot_count > MAX_SLOTS {
            return Err(format!(
                "{} slots; at most {MAX_SLOTS} are allowed",
                index.slot_count
            ));
        }
        if index.slot_table_size != u64::from(index.slot_count) * DESCRIPTOR_SIZE as u64 {
            return Err(format!(
                "slot table is {} bytes, but {} slots need {}",
                index.slot_table_size,
                index.slot_count,
                u64::from(index.slot_count) * DESCRIPTOR_SIZE as u64
            ));
        }
        let mut ranges = vec![
            (
                "metadata".to_string(),
                range("metadata", index.metadata_offset, index.metadata_size)?,
            ),
            (
                "slot table".to_string(),
                range("slot table", index.slot_table_offset, index.slot_table_size)?,
            ),
        ];
        let table = self.read_range(index.slot_table_offset, index.slot_table_size)?;
        let mut descriptors = Vec::with_capacity(index.slot_count as usize);
        for (position, bytes) in table.chunks_exact(DESCRIPTOR_SIZE).enumerate() {
            let mut raw = [0u8; DESCRIPTOR_SIZE];
            raw.copy_from_slice(bytes);
            let descriptor = SlotDescriptor::decode(&raw);
            let what = format!("slot {position}");
            ranges.push((
                what.clone(),
                range(&what, descriptor.offset, descriptor.size)?,
            ));
            descriptors.push(descriptor);
        }
        ranges.sort_by_key(|(_, (start, end))| (*start, *end));
        for pair in ranges.windows(2) {
            let ((first, (_, first_end)), (second, (second_start, _))) = (&pair[0], &pair[1]);
            if second_start < first_end {
                return Err(format!("{first} and {second} overlap"));
            }
        }
        Ok(descriptors)
    }

    /// The SHA-256 of a slot's stored bytes, streamed.
    pub fn hash_slot(&self, descriptor: &SlotDescriptor) -> Result<[u8; 32], FormatError> {
        self.hash_range(descriptor.offset, descriptor.size)
    }

    /// The SHA-256 of `length` bytes at `offset`, streamed.
    pub fn hash_range(&self, offset: u64, length: u64) -> Result<[u8; 32], FormatError> {
        let mut hasher = Sha256::new();
        let mut reader = RangeReader {
            package: self,
            position: offset,
            end: offset.saturating_add(length),
        };
        std::io::copy(&mut reader, &mut hasher).map_err(|source| FormatError::Read {
            path: self.path.clone(),
            source,
        })?;
        Ok(hasher.finalize().into())
    }

    /// A reader over a slot's stored bytes (positioned reads; the file offset is not shared).
    pub fn slot_reader(&self, descriptor: &SlotDescriptor) -> RangeReader<'_> {
        RangeReader {
            package: self,
            position: descriptor.offset,
            end: descriptor.offset.saturating_add(descriptor.size),
        }
    }
}

/// A launcher stored apart from its package ([`Package::open_split`]).
#[derive(Debug)]
struct SplitLauncher {
    file: File,
    size: u64,
}

/// Reads `[position, end)` of a package with `pread`.
#[derive(Debug)]
pub struct RangeReader<'f> {
    package: &'f Package,
    position: u64,
    end: u64,
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let remaining = self.end.saturating_sub(self.position);
        let wanted = buffer
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        if wanted == 0 {
            return Ok(0);
        }
        let read = self.package.read_at(&mut buffer[..wanted], self.position)?;
        if read == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file ends inside a slot",
            ));
        }
        self.position += read as u64;
        Ok(read)
    }
}

fn parse_metadata(json: &[u8], slot_count: u32) -> Result<Metadata, String> {
    let metadata: Metadata =
        serde_json::from_slice(json).map_err(|error| format!("metadata is not valid: {error}"))?;
    if metadata.format != "PSPF/2025" {
        return Err(format!(
            "format is `{}`, expected `PSPF/2025`",
            metadata.format
        ));
    }
    if metadata.slots.len() != slot_count as usize {
        return Err(format!(
            "metadata lists {} slots, the index {}",
            metadata.slots.len(),
            slot_count
        ));
    }
    for (position, slot) in metadata.slots.iter().enumerate() {
        if slot.slot != position as u64 {
            return Err(format!(
                "metadata slot {position} is numbered {}",
                slot.slot
            ));
        }
    }
    Ok(metadata)
}

fn check_signature(public_key: &[u8; 32], signature: &[u8; 64], json: &[u8]) -> Outcome {
    if public_key.iter().all(|byte| *byte == 0) || signature.iter().all(|byte| *byte == 0) {
        return Outcome::Fail("the package is not signed".into());
    }
    let key = match VerifyingKey::from_bytes(public_key) {
        Ok(key) => key,
        Err(_) => {
            return Outcome::Fail("the embedded public key is not a valid Ed25519 key".into())
        }
    };
    match key.verify_strict(json, &Signature::from_bytes(signature)) {
        Ok(()) => Outcome::Pass("Ed25519 over the metadata, by the embedded key".into()),
        Err(_) => Outcome::Fail(
            "the Ed25519 signature does not match the metadata and the embedded key".into(),
        ),
    }
}

/// Each descriptor must agree with the signed metadata entry of the same slot: its operation
/// chain valid and decodable, its size and short checksum those of the signed full SHA-256.
fn check_slot_table(
    descriptors: &[SlotDescriptor],
    metadata: &Metadata,
) -> Result<Vec<VerifiedSlot>, String> {
    descriptors
        .iter()
        .zip(&metadata.slots)
        .enumerate()
        .map(|(position, (descriptor, info))| {
            let name = format!("slot {position} ({})", info.id);
            let operations = Operations::unpack(descriptor.operations)
                .map_err(|error| format!("{name}: {error}"))?;
            operations
                .check_supported()
                .map_err(|error| format!("{name}: {error}"))?;
            let declared =
                Operations::parse(&info.operations).map_err(|error| format!("{name}: {error}"))?;
            if declared != operations {
                return Err(format!(
                    "{name}: descriptor says {operations}, signed metadata says {declared}"
                ));
            }
            let sha256 = info.sha256().ok_or_else(|| {
                format!("{name}: the signed metadata has no sha256 checksum for it")
            })?;
            if descriptor.checksum != short_checksum(&sha256) {
                return Err(format!(
                    "{name}: descriptor checksum {:016x} does not match the signed sha256",
                    descriptor.checksum
                ));
            }
            if let Some(size) = info.size {
                if size != descriptor.size {
                    return Err(format!(
                        "{name}: descriptor size {} but signed size {size}",
                        descriptor.size
                    ));
                }
            }
            Ok(VerifiedSlot {
                index: position,
                id: info.id.clone(),
                descriptor: descriptor.clone(),
                operations,
                sha256,
                target: info.target.clone(),
                mode: info.mode(),
            })
        })
        .collect()
}
