//! Ed25519 public keys as users write them: `ed25519:` followed by 64 hex digits.

use std::fmt;
use std::str::FromStr;

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

    /// Wraps raw bytes after checking they are a valid Ed25519 point.
    pub fn from_bytes(bytes: [u8; 32]) -> Option<PublicKey> {
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .ok()
            .map(|_| PublicKey(bytes))
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
        let mut bytes = [0u8; 32];
        let digits: Vec<char> = hex.chars().collect();
        for (index, pair) in digits.chunks(2).enumerate() {
            let mut byte = 0u8;
            for character in pair {
                let digit = character.to_digit(16).ok_or(KeyError::NotHex {
                    key: text.to_string(),
                    character: *character,
                })?;
                byte = byte * 16 + digit as u8;
            }
            bytes[index] = byte;
        }
        PublicKey::from_bytes(bytes).ok_or_else(|| KeyError::NotOnCurve(text.to_string()))
    }
}

impl fmt::Display for PublicKey {
    /// `ed25519:` and lowercase hex, the form `FromStr` reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ed25519:")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
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
