//! Ed25519 public keys and their fingerprints, each with its own spelling so nobody can paste
//! one where the other belongs: a key is `ed25519:` + 64 hex digits, a fingerprint (SHA-256 of
//! the key) is `sha256:` + 64 hex digits.

use std::fmt;
use std::str::FromStr;

use crate::digest::Sha256;

/// A validated Ed25519 public key (the bytes are a point on the curve).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

/// Why a key string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `ed25519:` prefix.
    #[error("`{0}` does not start with `ed25519:`")]
    MissingPrefix(String),
    /// Not 64 hex digits after the prefix.
    #[error("`{key}` should have 64 hex digits after `ed25519:`, it has {found} characters")]
    WrongLength {
        /// The key as given.
        key: String,
        /// How many characters followed the prefix.
        found: usize,
    },
    /// A character that is not a hex digit.
    #[error("`{key}` has a non-hex character `{character}`")]
    NotHex {
        /// The key as given.
        key: String,
        /// The offending character.
        character: char,
    },
    /// 32 bytes that are not an Ed25519 point.
    #[error("`{0}` is not a valid Ed25519 public key")]
    NotOnCurve(String),
}

impl PublicKey {
    /// The raw 32 bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Wraps raw bytes this program checked before, read back from a digest-checked cache of
    /// its own (a record's summary): checking the point again costs 30 µs a key, and a key that
    /// were not one would still verify nothing ([`PublicKey::verify`] decodes it again).
    pub fn from_checked_bytes(bytes: [u8; 32]) -> PublicKey {
        PublicKey(bytes)
    }

    /// Wraps raw bytes after checking they are a valid Ed25519 point.
    pub fn from_bytes(bytes: [u8; 32]) -> Option<PublicKey> {
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .ok()
            .map(|_| PublicKey(bytes))
    }

    /// The key's fingerprint: SHA-256 of its 32 bytes.
    pub fn fingerprint(&self) -> KeyFingerprint {
        KeyFingerprint(Sha256::of(self.0))
    }

    /// Checks an Ed25519 signature (strictly: no malleable or small-order forms) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        ed25519_dalek::VerifyingKey::from_bytes(&self.0).is_ok_and(|key| {
            key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
                .is_ok()
        })
    }
}

impl From<ed25519_dalek::VerifyingKey> for PublicKey {
    /// A verifying key is a valid point by construction.
    fn from(key: ed25519_dalek::VerifyingKey) -> Self {
        PublicKey(key.to_bytes())
    }
}

impl std::ops::Deref for PublicKey {
    type Target = [u8; 32];

    /// The raw bytes, for the Ed25519 and PSPF code that needs them.
    fn deref(&self) -> &[u8; 32] {
        &self.0
    }
}

impl AsRef<[u8]> for PublicKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<[u8; 32]> for PublicKey {
    fn eq(&self, other: &[u8; 32]) -> bool {
        &self.0 == other
    }
}

/// The SHA-256 of a public key, shown as `sha256:HEX`: what PSPF packages record and what
/// messages use to name a signer briefly. Never accepted where a key is needed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFingerprint(Sha256);

impl KeyFingerprint {
    /// From the lowercase hex a PSPF index stores (no prefix); `sha256:HEX` is accepted too.
    pub fn parse_hex(text: &str) -> Option<KeyFingerprint> {
        Sha256::parse_hex(text).map(KeyFingerprint)
    }

    /// The bare hex, as the PSPF index stores it.
    pub fn hex(&self) -> String {
        self.0.hex()
    }
}

impl fmt::Display for KeyFingerprint {
    /// `sha256:` and lowercase hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFingerprint({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        let hex = text
            .strip_prefix("ed25519:")
            .ok_or_else(|| KeyError::MissingPrefix(text.to_string()))?;
        if hex.len() != 64 {
            return Err(KeyError::WrongLength {
                key: text.to_string(),
                found: hex.chars().count(),
            });
        }
        if let Some(character) = hex.chars().find(|character| !character.is_ascii_hexdigit()) {
            return Err(KeyError::NotHex {
                key: text.to_string(),
                character,
            });
        }
        let bytes = crate::hex::decode::<32>(hex).ok_or_else(|| KeyError::NotHex {
            key: text.to_string(),
            character: '?',
        })?;
        PublicKey::from_bytes(bytes).ok_or_else(|| KeyError::NotOnCurve(text.to_string()))
    }
}

impl fmt::Display for PublicKey {
    /// `ed25519:` and lowercase hex, the form `FromStr` reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", crate::hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real public key, derived from an arbitrary fixed secret.
    fn sample() -> String {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let hex: String = signing
            .verifying_key()
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("ed25519:{hex}")
    }

    #[test]
    fn round_trips_and_normalises_case() {
        let text = sample();
        let key: PublicKey = text.parse().unwrap();
        assert_eq!(key.to_string(), text);
        let upper = format!("ed25519:{}", text["ed25519:".len()..].to_uppercase());
        assert_eq!(upper.parse::<PublicKey>().unwrap(), key);
    }

    #[test]
    fn refusals() {
        let cases = [
            ("abcd", "`abcd` does not start with `ed25519:`"),
            (
                "ed25519:abcd",
                "`ed25519:abcd` should have 64 hex digits after `ed25519:`, it has 4 characters",
            ),
            (
                &*format!("ed25519:{}", "zz".repeat(32)),
                "has a non-hex character `z`",
            ),
        ];
        for (text, message) in cases {
            let error = text.parse::<PublicKey>().unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
        }
        // y = 2 (little-endian) has no x on the curve.
        let mut off_curve = "02".to_string();
        off_curve.push_str(&"00".repeat(31));
        let error = format!("ed25519:{off_curve}")
            .parse::<PublicKey>()
            .unwrap_err();
        assert!(matches!(error, KeyError::NotOnCurve(_)), "{error}");
    }
}
