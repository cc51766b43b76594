//! Slot descriptors (64 bytes each in the slot table) and the operation chains that say how a
//! slot's stored bytes decode.

use std::fmt;

use super::index::DESCRIPTOR_SIZE;

/// One operation of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A tar archive.
    Tar,
    /// gzip.
    Gzip,
    /// bzip2 (FlavorPack defines it; nothing decodes it).
    Bzip2,
    /// xz (defined, not decodable).
    Xz,
    /// Zstandard.
    Zstd,
}

impl Operation {
    fn code(self) -> u8 {
        match self {
            Operation::Tar => 0x01,
            Operation::Gzip => 0x10,
            Operation::Bzip2 => 0x13,
            Operation::Xz => 0x16,
            Operation::Zstd => 0x1B,
        }
    }

    fn from_code(code: u8) -> Option<Operation> {
        Some(match code {
            0x01 => Operation::Tar,
            0x10 => Operation::Gzip,
            0x13 => Operation::Bzip2,
            0x16 => Operation::Xz,
            0x1B => Operation::Zstd,
            _ => return None,
        })
    }

    /// Its name in a chain.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Tar => "tar",
            Operation::Gzip => "gzip",
            Operation::Bzip2 => "bzip2",
            Operation::Xz => "xz",
            Operation::Zstd => "zstd",
        }
    }
}

/// An operation chain: applied in order when building (`tar` then `zstd`), undone in reverse
/// when extracting. Packed one op per byte, first op in the low byte.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Operations(Vec<Operation>);

/// Why an operation chain is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperationsError {
    /// A byte that is no known operation.
    #[error("unknown operation code 0x{0:02x}")]
    UnknownCode(u8),
    /// A name that is no known chain.
    #[error("unknown operations `{0}`")]
    UnknownName(String),
    /// A known operation this reader cannot undo.
    #[error("operation `{0}` is not supported (Pandora decodes tar, gzip and zstd)")]
    Unsupported(&'static str),
    /// A chain in an order that cannot be undone (`tar` must come first, at most once).
    #[error("operation chain `{0}` is not valid: tar must come first and only once, then at most one compression")]
    Invalid(String),
}

impl Operations {
    /// Raw bytes: no operation.
    pub fn none() -> Self {
        Operations(Vec::new())
    }

    /// A chain of operations.
    pub fn new(operations: Vec<Operation>) -> Self {
        Operations(operations)
    }

    /// The operations, in build order.
    pub fn steps(&self) -> &[Operation] {
        &self.0
    }

    /// Whether the slot is an archive (its first op is tar).
    pub fn is_archive(&self) -> bool {
        self.0.first() == Some(&Operation::Tar)
    }

    /// The compression applied after archiving, if any.
    pub fn compression(&self) -> Option<Operation> {
        self.0.iter().copied().find(|op| *op != Operation::Tar)
    }

    /// Decodes the descriptor's packed `u64`.
    pub fn unpack(packed: u64) -> Result<Self, OperationsError> {
        let mut operations = Vec::new();
        for byte in packed.to_le_bytes() {
            if byte == 0 {
                break;
            }
            operations.push(Operation::from_code(byte).ok_or(OperationsError::UnknownCode(byte))?);
        }
        Ok(Operations(operations))
    }

    /// The packed `u64` for a descriptor.
    pub fn pack(&self) -> u64 {
        self.0.iter().enumerate().fold(0u64, |packed, (index, op)| {
            packed | (u64::from(op.code()) << (8 * index))
        })
    }

    /// Parses the metadata's string form: `none`, `raw`, `tar`, `gzip`, `zstd`, `tgz`,
    /// `tar.gz`, `tar+gzip`, `tzst`, `tar.zst`, `tar+zstd` (and `|`-joined chains).
    pub fn parse(text: &str) -> Result<Self, OperationsError> {
        let normalized = text.trim().to_ascii_lowercase();
        let chain = match normalized.as_str() {
            "" | "none" | "raw" => vec![],
            "tgz" | "tar.gz" => vec![Operation::Tar, Operation::Gzip],
            "tzst" | "tar.zst" | "tar.zstd" => vec![Operation::Tar, Operation::Zstd],
            "tbz2" | "tar.bz2" => vec![Operation::Tar, Operation::Bzip2],
            "txz" | "tar.xz" => vec![Operation::Tar, Operation::Xz],
            other => other
                .split(['+', '|', ','])
                .map(|name| match name.trim() {
                    "tar" => Ok(Operation::Tar),
                    "gzip" | "gz" => Ok(Operation::Gzip),
                    "zstd" | "zst" => Ok(Operation::Zstd),
                    "bzip2" | "bz2" => Ok(Operation::Bzip2),
                    "xz" => Ok(Operation::Xz),
                    _ => Err(OperationsError::UnknownName(text.to_string())),
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Operations(chain))
    }

    /// The name FlavorPack's tools use in metadata (`OPERATION_CHAINS`): `tgz`, `tar.zst`,
    /// `tar`, `gzip`, `zstd`, `none`.
    pub fn metadata_name(&self) -> String {
        match self.0.as_slice() {
            [] => "none".to_string(),
            [Operation::Tar, Operation::Gzip] => "tgz".to_string(),
            [Operation::Tar, compression] => format!(
                "tar.{}",
                match compression {
                    Operation::Zstd => "zst",
                    Operation::Bzip2 => "bz2",
                    other => other.name(),
                }
            ),
            _ => self
                .0
                .iter()
                .map(|op| op.name())
                .collect::<Vec<_>>()
                .join("|"),
        }
    }

    /// Refuses chains Pandora cannot undo: unsupported codecs, tar anywhere but first, more than
    /// one compression.
    pub fn check_supported(&self) -> Result<(), OperationsError> {
        if let Some(op) = self
            .0
            .iter()
            .find(|op| matches!(op, Operation::Bzip2 | Operation::Xz))
        {
            return Err(OperationsError::Unsupported(op.name()));
        }
        let after_tar = if self.is_archive() {
            &self.0[1..]
        } else {
            &self.0[..]
        };
        if after_tar.contains(&Operation::Tar) || after_tar.len() > 1 {
            return Err(OperationsError::Invalid(self.to_string()));
        }
        Ok(())
    }
}

impl fmt::Display for Operations {
    /// `tar+zstd`, `gzip`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.0.iter().map(|op| op.name()).collect();
        f.write_str(&names.join("+"))
    }
}

/// A decoded 64-byte slot descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotDescriptor {
    /// Slot index.
    pub id: u64,
    /// A hash of the slot's name (builders differ; informational only).
    pub name_hash: u64,
    /// Absolute offset of the stored bytes.
    pub offset: u64,
    /// Stored size.
    pub size: u64,
    /// Size before compression.
    pub original_size: u64,
    /// Packed operation chain.
    pub operations: u64,
    /// First 8 bytes of SHA-256(stored bytes), little-endian.
    pub checksum: u64,
    /// payload 0, runtime 1, tool 2.
    pub purpose: u8,
    /// init 0 ... platform 10.
    pub lifecycle: u8,
    /// Extraction priority.
    pub priority: u8,
    /// Platform code.
    pub platform: u8,
    /// Unix mode for single-file slots.
    pub permissions: u16,
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(word)
}

impl SlotDescriptor {
    /// Decodes one descriptor.
    pub fn decode(bytes: &[u8; DESCRIPTOR_SIZE]) -> SlotDescriptor {
        SlotDescriptor {
            id: u64_at(bytes, 0),
            name_hash: u64_at(bytes, 8),
            offset: u64_at(bytes, 16),
            size: u64_at(bytes, 24),
            original_size: u64_at(bytes, 32),
            operations: u64_at(bytes, 40),
            checksum: u64_at(bytes, 48),
            purpose: bytes[56],
            lifecycle: bytes[57],
            priority: bytes[58],
            platform: bytes[59],
            permissions: u16::from_le_bytes([bytes[62], bytes[63]]),
        }
    }

    /// Encodes it.
    pub fn encode(&self) -> [u8; DESCRIPTOR_SIZE] {
        let mut bytes = [0u8; DESCRIPTOR_SIZE];
        for (index, word) in [
            self.id,
            self.name_hash,
            self.offset,
            self.size,
            self.original_size,
            self.operations,
            self.checksum,
        ]
        .iter()
        .enumerate()
        {
            bytes[index * 8..index * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        bytes[56] = self.purpose;
        bytes[57] = self.lifecycle;
        bytes[58] = self.priority;
        bytes[59] = self.platform;
        bytes[62..64].copy_from_slice(&self.permissions.to_le_bytes());
        bytes
    }
}

/// The descriptor checksum of some stored bytes: the first 8 bytes of their SHA-256.
pub fn short_checksum(sha256: &[u8; 32]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&sha256[..8]);
    u64::from_le_bytes(word)
}

/// Purpose names as the metadata writes them, by code.
pub const PURPOSES: [&str; 3] = ["payload", "runtime", "tool"];
/// Lifecycle names as the metadata writes them, by code.
pub const LIFECYCLES: [&str; 12] = [
    "init",
    "startup",
    "runtime",
    "shutdown",
    "cache",
    "temp",
    "lazy",
    "eager",
    "dev",
    "config",
    "platform",
    "attestation",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_matches_flavorpack() {
        let cases = [
            ("tgz", 0x1001u64),
            ("tar+zstd", 0x1B01),
            ("gzip", 0x10),
            ("none", 0),
            ("tar", 0x01),
            ("zstd", 0x1B),
        ];
        for (name, packed) in cases {
            let operations = Operations::parse(name).unwrap();
            assert_eq!(operations.pack(), packed, "{name}");
            assert_eq!(Operations::unpack(packed).unwrap(), operations);
            operations.check_supported().unwrap();
        }
        assert_eq!(Operations::unpack(0x1001).unwrap().to_string(), "tar+gzip");
        for name in ["tgz", "tar.zst", "tar", "gzip", "zstd", "none"] {
            assert_eq!(Operations::parse(name).unwrap().metadata_name(), name);
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Operations::unpack(0x77).unwrap_err(),
            OperationsError::UnknownCode(0x77)
        );
        assert_eq!(
            Operations::parse("rar").unwrap_err(),
            OperationsError::UnknownName("rar".into())
        );
        let xz = Operations::parse("tar+xz").unwrap();
        assert_eq!(
            xz.check_supported().unwrap_err(),
            OperationsError::Unsupported("xz")
        );
        let backwards = Operations::parse("gzip+tar").unwrap();
        assert!(matches!(
            backwards.check_supported(),
            Err(OperationsError::Invalid(_))
        ));
        let double = Operations::parse("tar+gzip+zstd").unwrap();
        assert!(matches!(
            double.check_supported(),
            Err(OperationsError::Invalid(_))
        ));
    }

    #[test]
    fn descriptor_round_trip() {
        let descriptor = SlotDescriptor {
            id: 1,
            name_hash: 2,
            offset: 3,
            size: 4,
            original_size: 5,
            operations: 0x1B01,
            checksum: 6,
            purpose: 0,
            lifecycle: 2,
            priority: 1,
            platform: 0,
            permissions: 0o755,
        };
        assert_eq!(SlotDescriptor::decode(&descriptor.encode()), descriptor);
    }
}
