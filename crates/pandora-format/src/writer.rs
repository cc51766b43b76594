//! Writing `.psp` files: the launcher stub, gzipped metadata, slot table, slot data (each
//! 8-aligned, as the rs builder lays them out), then the trailer. Output goes to a temporary
//! file beside the destination and is renamed into place, so a failed or interrupted build
//! leaves no partial package.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::index::{
    Index, CAPABILITIES, DESCRIPTOR_SIZE, FORMAT_VERSION, TRAILER_END, TRAILER_SIZE, TRAILER_START,
};
use super::metadata::{encode_hex, Metadata};
use super::package::{Package, Scope};
use super::signing::SigningKey;
use super::slot::{short_checksum, Operations, SlotDescriptor, LIFECYCLES, PURPOSES};
use super::FormatError;

/// A slot's stored bytes, ready to be placed: already archived and compressed into `data`.
#[derive(Debug)]
pub struct SlotData {
    /// The file holding exactly the stored bytes.
    pub data: File,
    /// Stored size.
    pub size: u64,
    /// Size before compression.
    pub original_size: u64,
    /// SHA-256 of the stored bytes.
    pub sha256: [u8; 32],
    /// How they decode.
    pub operations: Operations,
}

/// Rounds up to a multiple of 8.
fn align(offset: u64) -> u64 {
    offset.div_ceil(8) * 8
}

fn write_error(path: &Path) -> impl Fn(io::Error) -> FormatError + '_ {
    move |source| FormatError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a package. `metadata.slots[i]` describes `slots[i]`; its `size`, `checksum` and
/// `operations` are filled in here from the data, so they cannot disagree.
pub fn write_package(
    output: &Path,
    launcher: &Path,
    mut metadata: Metadata,
    mut slots: Vec<SlotData>,
    key: &SigningKey,
    build_timestamp: u64,
) -> Result<u64, FormatError> {
    let launcher_bytes = fs_err::read(launcher).map_err(|source| FormatError::Read {
        path: launcher.to_path_buf(),
        source,
    })?;
    for (info, slot) in metadata.slots.iter_mut().zip(&slots) {
        info.size = Some(slot.size);
        info.checksum = Some(format!("sha256:{}", encode_hex(&slot.sha256)));
        info.operations = slot.operations.metadata_name();
    }
    // Compact JSON with fields in declaration order: the same input signs to the same bytes.
    let json = serde_json::to_vec(&metadata).map_err(|error| FormatError::Write {
        path: output.to_path_buf(),
        source: io::Error::other(error),
    })?;
    let mut gzip = GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&json).map_err(write_error(output))?;
    let gzipped = gzip.finish().map_err(write_error(output))?;

    let launcher_size = launcher_bytes.len() as u64;
    let metadata_offset = launcher_size;
    let slot_table_offset = align(metadata_offset + gzipped.len() as u64);
    let slot_table_size = (slots.len() * DESCRIPTOR_SIZE) as u64;
    let mut offset = align(slot_table_offset + slot_table_size);
    let mut table = Vec::with_capacity(slot_table_size as usize);
    let mut placements = Vec::with_capacity(slots.len());
    for (position, (slot, info)) in slots.iter().zip(&metadata.slots).enumerate() {
        let descriptor = SlotDescriptor {
            id: position as u64,
            name_hash: short_checksum(&Sha256::digest(info.id.as_bytes()).into()),
            offset,
            size: slot.size,
            original_size: slot.original_size,
            operations: slot.operations.pack(),
            checksum: short_checksum(&slot.sha256),
            purpose: PURPOSES
                .iter()
                .position(|name| *name == info.purpose)
                .unwrap_or(0) as u8,
            lifecycle: LIFECYCLES
                .iter()
                .position(|name| *name == info.lifecycle)
                .unwrap_or(2) as u8,
            priority: 1,
            platform: 0,
            permissions: info.mode() as u16,
        };
        table.extend_from_slice(&descriptor.encode());
        placements.push(offset);
        offset = align(offset + slot.size);
    }
    let data_end = placements
        .last()
        .zip(slots.last())
        .map_or(offset, |(start, slot)| start + slot.size);
    let package_size = data_end + TRAILER_SIZE as u64;
    let public_key = key.public_key();
    let mut fingerprint = [0u8; 64];
    fingerprint.copy_from_slice(key.fingerprint().hex().as_bytes());
    let index = Index {
        format_version: FORMAT_VERSION,
        checksum: 0,
        package_size,
        launcher_size,
        metadata_offset,
        metadata_size: gzipped.len() as u64,
        slot_table_offset,
        slot_table_size,
        slot_count: slots.len() as u32,
        flags: 0,
        public_key: *public_key.bytes(),
        metadata_sha256: Sha256::digest(&gzipped).into(),
        signature: key.sign(&json),
        build_timestamp,
        capabilities: CAPABILITIES,
        key_fingerprint: Some(fingerprint),
        // The attestation's digest, as the signed metadata records it, where the format keeps it.
        sbom_digest: metadata
            .pandora
            .as_ref()
            .and_then(|pandora| pandora.attestation_sha256.as_deref())
            .and_then(|hex| <[u8; 64]>::try_from(hex.as_bytes()).ok()),
    };

    let directory = parent_directory(output);
    let mut temporary = tempfile::Builder::new()
        .prefix(".pandora-build-")
        .tempfile_in(&directory)
        .map_err(write_error(&directory))?;
    {
        let file = temporary.as_file_mut();
        let error = write_error(output);
        file.write_all(&launcher_bytes).map_err(&error)?;
        file.write_all(&gzipped).map_err(&error)?;
        file.write_all_at(&table, slot_table_offset)
            .map_err(&error)?;
        for (slot, start) in slots.iter_mut().zip(&placements) {
            file.seek(SeekFrom::Start(*start)).map_err(&error)?;
            slot.data.seek(SeekFrom::Start(0)).map_err(&error)?;
            // File to file: the kernel copies (copy_file_range), no userspace buffer.
            let copied = io::copy(&mut (&slot.data).take(slot.size), file).map_err(&error)?;
            if copied != slot.size {
                return Err(error(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "slot data is shorter than recorded",
                )));
            }
        }
        let mut trailer = Vec::with_capacity(TRAILER_SIZE);
        trailer.extend_from_slice(&TRAILER_START);
        trailer.extend_from_slice(&index.encode());
        trailer.extend_from_slice(&TRAILER_END);
        file.write_all_at(&trailer, data_end).map_err(&error)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(&error)?;
        file.sync_all().map_err(&error)?;
    }
    temporary
        .persist(output)
        .map_err(|error| FormatError::Write {
            path: output.to_path_buf(),
            source: error.error,
        })?;
    pandora_core::fs::sync_directory(&directory).map_err(write_error(&directory))?;
    Ok(package_size)
}

fn parent_directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes a copy of `input` whose launcher stub is `launcher`, every offset rebased. The
/// metadata, and so the signature, is unchanged. This is how a package built with one tool's
/// launcher runs under another's.
pub fn replace_launcher(input: &Path, launcher: &Path, output: &Path) -> Result<u64, FormatError> {
    let package = Package::open(input)?;
    package.verified(Scope::Structure)?;
    let old = package.index().clone();
    let launcher_bytes = fs_err::read(launcher).map_err(|source| FormatError::Read {
        path: launcher.to_path_buf(),
        source,
    })?;
    let new_launcher = launcher_bytes.len() as u64;
    // Shift by a multiple of 8 so every offset keeps its alignment.
    let shift = (i128::from(new_launcher) - i128::from(old.launcher_size)).div_euclid(8) * 8;
    let shift = if i128::from(old.launcher_size) + shift < i128::from(new_launcher) {
        shift + 8
    } else {
        shift
    };
    let rebase = |offset: u64| (i128::from(offset) + shift) as u64;
    let new_base = rebase(old.launcher_size);
    let data_end = package.size() - TRAILER_SIZE as u64;

    let directory = parent_directory(output);
    let mut temporary = tempfile::Builder::new()
        .prefix(".pandora-build-")
        .tempfile_in(&directory)
        .map_err(write_error(&directory))?;
    let error = write_error(output);
    {
        let file = temporary.as_file_mut();
        file.write_all(&launcher_bytes).map_err(&error)?;
        file.write_all(&vec![0u8; (new_base - new_launcher) as usize])
            .map_err(&error)?;
        let mut body = package.slot_reader(&SlotDescriptor {
            offset: old.launcher_size,
            size: data_end - old.launcher_size,
            ..SlotDescriptor::decode(&[0u8; DESCRIPTOR_SIZE])
        });
        io::copy(&mut body, file).map_err(&error)?;
        let mut table = vec![0u8; old.slot_table_size as usize];
        package
            .file()
            .read_exact_at(&mut table, old.slot_table_offset)
            .map_err(|source| FormatError::Read {
                path: input.to_path_buf(),
                source,
            })?;
        for chunk in table.chunks_exact_mut(DESCRIPTOR_SIZE) {
            let mut raw = [0u8; DESCRIPTOR_SIZE];
            raw.copy_from_slice(chunk);
            let mut descriptor = SlotDescriptor::decode(&raw);
            descriptor.offset = rebase(descriptor.offset);
            chunk.copy_from_slice(&descriptor.encode());
        }
        file.write_all_at(&table, rebase(old.slot_table_offset))
            .map_err(&error)?;
        let index = Index {
            package_size: rebase(data_end) + TRAILER_SIZE as u64,
            launcher_size: new_launcher,
            metadata_offset: rebase(old.metadata_offset),
            slot_table_offset: rebase(old.slot_table_offset),
            ..old
        };
        let mut trailer = Vec::with_capacity(TRAILER_SIZE);
        trailer.extend_from_slice(&TRAILER_START);
        trailer.extend_from_slice(&index.encode());
        trailer.extend_from_slice(&TRAILER_END);
        file.write_all_at(&trailer, rebase(data_end))
            .map_err(&error)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(&error)?;
        file.sync_all().map_err(&error)?;
    }
    let size = rebase(data_end) + TRAILER_SIZE as u64;
    temporary
        .persist(output)
        .map_err(|failure| FormatError::Write {
            path: output.to_path_buf(),
            source: failure.error,
        })?;
    Ok(size)
}
