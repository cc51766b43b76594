//! The 8200-byte trailer: package emoji, the 8192-byte index block, magic-wand emoji. Offsets
//! and fields are those FlavorPack 0.5.4's binaries write (DESIGN.md section 1).

/// `F0 9F 93 A6`, the package emoji, opens the trailer.
pub const TRAILER_START: [u8; 4] = [0xF0, 0x9F, 0x93, 0xA6];
/// `F0 9F AA 84`, the magic wand, ends the file.
pub const TRAILER_END: [u8; 4] = [0xF0, 0x9F, 0xAA, 0x84];
/// Size of the index block.
pub const INDEX_SIZE: usize = 8192;
/// Size of the trailer: two magics around the index block.
pub const TRAILER_SIZE: usize = INDEX_SIZE + 8;
/// `format_version` and `compatibility` of PSPF/2025.
pub const FORMAT_VERSION: u32 = 0x2025_0001;
/// Capability bits the rs builder sets: mmap (1) and signed (128).
pub const CAPABILITIES: u64 = 129;
/// Size of one slot descriptor.
pub const DESCRIPTOR_SIZE: usize = 64;

/// The decoded index block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// Must be [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Adler-32 of the block with this field zeroed.
    pub checksum: u32,
    /// The whole file's size.
    pub package_size: u64,
    /// Bytes of launcher at the start of the file.
    pub launcher_size: u64,
    /// Absolute offset of the gzipped metadata.
    pub metadata_offset: u64,
    /// Its size.
    pub metadata_size: u64,
    /// Absolute offset of the slot table.
    pub slot_table_offset: u64,
    /// Its size (64 per slot).
    pub slot_table_size: u64,
    /// Number of slots.
    pub slot_count: u32,
    /// Flags (unused by 0.5.4).
    pub flags: u32,
    /// Ed25519 public key.
    pub public_key: [u8; 32],
    /// SHA-256 of the gzipped metadata bytes.
    pub metadata_sha256: [u8; 32],
    /// Ed25519 signature over the decompressed metadata JSON.
    pub signature: [u8; 64],
    /// Build timestamp (seconds), or 0.
    pub build_timestamp: u64,
    /// Capability bits.
    pub capabilities: u64,
    /// Lowercase hex SHA-256 of the public key, or `None` when the field is all zero.
    pub key_fingerprint: Option<[u8; 64]>,
    /// ASCII lowercase hex SHA-256 of the package's SBOM (offset 1440); `None` when zero.
    pub sbom_digest: Option<[u8; 64]>,
}

fn u32_at(block: &[u8], offset: usize) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&block[offset..offset + 4]);
    u32::from_le_bytes(bytes)
}

fn u64_at(block: &[u8], offset: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&block[offset..offset + 8]);
    u64::from_le_bytes(bytes)
}

fn array_at<const N: usize>(block: &[u8], offset: usize) -> [u8; N] {
    let mut bytes = [0u8; N];
    bytes.copy_from_slice(&block[offset..offset + N]);
    bytes
}

/// Adler-32, as zlib defines it.
pub fn adler32(data: &[u8]) -> u32 {
    const MODULUS: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that can be summed before `b` could overflow a u32.
    for chunk in data.chunks(5552) {
        for byte in chunk {
            a += u32::from(*byte);
            b += a;
        }
        a %= MODULUS;
        b %= MODULUS;
    }
    (b << 16) | a
}

/// The checksum the block should carry: Adler-32 with bytes 4..8 zeroed.
pub fn index_checksum(block: &[u8; INDEX_SIZE]) -> u32 {
    let mut copy = *block;
    copy[4..8].fill(0);
    adler32(&copy)
}

impl Index {
    /// Decodes a block. Never fails: whether the values make sense is for verification.
    pub fn decode(block: &[u8; INDEX_SIZE]) -> Index {
        let fingerprint: [u8; 64] = array_at(block, 1376);
        let sbom: [u8; 64] = array_at(block, 1440);
        Index {
            format_version: u32_at(block, 0),
            checksum: u32_at(block, 4),
            package_size: u64_at(block, 8),
            launcher_size: u64_at(block, 16),
            metadata_offset: u64_at(block, 24),
            metadata_size: u64_at(block, 32),
            slot_table_offset: u64_at(block, 40),
            slot_table_size: u64_at(block, 48),
            slot_count: u32_at(block, 56),
            flags: u32_at(block, 60),
            public_key: array_at(block, 64),
            metadata_sha256: array_at(block, 96),
            signature: array_at(block, 128),
            build_timestamp: u64_at(block, 704),
            capabilities: u64_at(block, 832),
            key_fingerprint: fingerprint
                .iter()
                .any(|byte| *byte != 0)
                .then_some(fingerprint),
            sbom_digest: sbom.iter().any(|byte| *byte != 0).then_some(sbom),
        }
    }

    /// Encodes the block as the rs builder lays it out, with its checksum filled in.
    pub fn encode(&self) -> [u8; INDEX_SIZE] {
        let mut block = [0u8; INDEX_SIZE];
        block[0..4].copy_from_slice(&self.format_version.to_le_bytes());
        block[8..16].copy_from_slice(&self.package_size.to_le_bytes());
        block[16..24].copy_from_slice(&self.launcher_size.to_le_bytes());
        block[24..32].copy_from_slice(&self.metadata_offset.to_le_bytes());
        block[32..40].copy_from_slice(&self.metadata_size.to_le_bytes());
        block[40..48].copy_from_slice(&self.slot_table_offset.to_le_bytes());
        block[48..56].copy_from_slice(&self.slot_table_size.to_le_bytes());
        block[56..60].copy_from_slice(&self.slot_count.to_le_bytes());
        block[60..64].copy_from_slice(&self.flags.to_le_bytes());
        block[64..96].copy_from_slice(&self.public_key);
        block[96..128].copy_from_slice(&self.metadata_sha256);
        block[128..192].copy_from_slice(&self.signature);
        // Performance hints: page size.
        block[644..648].copy_from_slice(&4096u32.to_le_bytes());
        block[704..712].copy_from_slice(&self.build_timestamp.to_le_bytes());
        block[832..840].copy_from_slice(&self.capabilities.to_le_bytes());
        block[856..860].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        block[860..864].copy_from_slice(&1u32.to_le_bytes());
        if let Some(fingerprint) = &self.key_fingerprint {
            block[1376..1440].copy_from_slice(fingerprint);
        }
        if let Some(sbom) = &self.sbom_digest {
            block[1440..1504].copy_from_slice(sbom);
        }
        let checksum = index_checksum(&block);
        block[4..8].copy_from_slice(&checksum.to_le_bytes());
        block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_matches_zlib() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let long = vec![0xFFu8; 100_000];
        // zlib.adler32(b"\xff" * 100000)
        assert_eq!(adler32(&long), 0x149A_302C);
    }

    #[test]
    fn encode_decode_round_trip() {
        let index = Index {
            format_version: FORMAT_VERSION,
            checksum: 0,
            package_size: 123_456,
            launcher_size: 1000,
            metadata_offset: 1000,
            metadata_size: 200,
            slot_table_offset: 1200,
            slot_table_size: 128,
            slot_count: 2,
            flags: 0,
            public_key: [7; 32],
            metadata_sha256: [8; 32],
            signature: [9; 64],
            build_timestamp: 1_700_000_000,
            capabilities: CAPABILITIES,
            key_fingerprint: Some([b'a'; 64]),
            sbom_digest: Some([b'b'; 64]),
        };
        let block = index.encode();
        let decoded = Index::decode(&block);
        assert_eq!(decoded.checksum, index_checksum(&block));
        assert_eq!(
            Index {
                checksum: 0,
                ..decoded
            },
            index
        );
    }
}
