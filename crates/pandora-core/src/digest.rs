//! SHA-256 digests: of blobs (content addresses), of slots, of metadata.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A SHA-256 digest. Shown as 64 lowercase hex digits; `sha256:HEX` is accepted when parsed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: impl AsRef<[u8]>) -> Sha256 {
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, the form used in file names and indexes.
    pub fn hex(&self) -> String {
        crate::hex::encode(self.0)
    }

    /// Parses 64 hex digits (an optional `sha256:` prefix is accepted).
    pub fn parse_hex(text: &str) -> Option<Sha256> {
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        crate::hex::decode::<32>(hex).map(Sha256)
    }
}

impl From<[u8; 32]> for Sha256 {
    fn from(bytes: [u8; 32]) -> Self {
        Sha256(bytes)
    }
}

impl From<Sha256> for [u8; 32] {
    fn from(digest: Sha256) -> Self {
        digest.0
    }
}

impl From<sha2::digest::Output<sha2::Sha256>> for Sha256 {
    fn from(output: sha2::digest::Output<sha2::Sha256>) -> Self {
        Sha256(output.into())
    }
}

impl PartialEq<[u8; 32]> for Sha256 {
    fn eq(&self, other: &[u8; 32]) -> bool {
        &self.0 == other
    }
}

impl std::ops::Deref for Sha256 {
    type Target = [u8; 32];

    fn deref(&self) -> &[u8; 32] {
        &self.0
    }
}

impl AsRef<[u8]> for Sha256 {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// Why a digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a SHA-256 digest (64 hex digits)")]
pub struct DigestError(pub String);

impl FromStr for Sha256 {
    type Err = DigestError;

    fn from_str(text: &str) -> Result<Self, DigestError> {
        Sha256::parse_hex(text).ok_or_else(|| DigestError(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_and_print() {
        let digest = Sha256::of(b"abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(digest.to_string(), hex);
        assert_eq!(hex.parse::<Sha256>().unwrap(), digest);
        assert_eq!(format!("sha256:{hex}").parse::<Sha256>().unwrap(), digest);
        assert!("abc".parse::<Sha256>().is_err());
        assert_eq!(digest, *digest.bytes());
    }
}
