//! Signing keys: derived from a seed exactly as FlavorPack's builders do (`--key-seed S`:
//! secret = SHA-256(S)), generated from the OS, or read from a key file. Public keys are written
//! as PEM SubjectPublicKeyInfo, the form FlavorPack's trusted-keys store reads, so a `.pub` file
//! works for both tools.

use std::io::Read;
use std::path::Path;

use ed25519_dalek::Signer;
use pandora_core::{KeyFingerprint, PublicKey};
use sha2::{Digest, Sha256};

use super::metadata::{decode_hex, encode_hex};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of an Ed25519 PKCS#8 private key; the 32 secret bytes follow.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Why a key file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file cannot be read.
    #[error("cannot read key file {path}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no key Pandora understands.
    #[error("{path} is not a key file Pandora understands: {reason}")]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong.
        reason: String,
    },
}

/// An Ed25519 signing key.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(public {})", self.public_key())
    }
}

impl pandora_core::Hint for KeyFileError {}

impl SigningKey {
    /// The key FlavorPack's `--key-seed SEED` makes: secret = SHA-256(SEED).
    pub fn from_seed(seed: &str) -> SigningKey {
        let secret: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&secret))
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> std::io::Result<SigningKey> {
        let mut secret = [0u8; 32];
        fs_err::File::open("/dev/urandom")?.read_exact(&mut secret)?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&secret)))
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.0.verifying_key().into()
    }

    /// The public key's fingerprint (the PSPF index's fingerprint field).
    pub fn fingerprint(&self) -> KeyFingerprint {
        self.public_key().fingerprint()
    }

    /// Signs a message.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// A Pandora key file: ACL, with the secret in hex. Keep it private (mode 0600).
    pub fn to_key_file(&self, name: &str) -> String {
        let block = acl_parser::Block::labelled("SigningKey", name)
            .with("algorithm", "ed25519")
            .with("secret", encode_hex(&self.0.to_bytes()))
            .with("public", self.public_key().to_string());
        format!("// Pandora signing key. Anyone holding this file can sign as you: keep it private.\n{block}")
    }

    /// Reads a Pandora key file or a PKCS#8 PEM private key (FlavorPack's `--private-key`).
    pub fn from_file(path: &Path) -> Result<SigningKey, KeyFileError> {
        let invalid = |reason: &str| KeyFileError::Invalid {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let text = fs_err::read_to_string(path).map_err(|source| KeyFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if text.contains("-----BEGIN PRIVATE KEY-----") {
            let der = pem_body(&text, "PRIVATE KEY")
                .ok_or_else(|| invalid("the PEM block is not valid base64"))?;
            let secret = der
                .strip_prefix(PKCS8_PREFIX.as_slice())
                .filter(|rest| rest.len() == 32)
                .ok_or_else(|| invalid("the PEM block is not an Ed25519 PKCS#8 private key"))?;
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(secret);
            return Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&bytes)));
        }
        let document = acl_parser::from_str(&path.display().to_string(), &text)
            .map_err(|error| invalid(&error.to_string()))?;
        let block = document
            .all_blocks()
            .find(|block| block.name() == "SigningKey")
            .ok_or_else(|| invalid("no `SigningKey` block"))?;
        let secret = block
            .get_str("secret")
            .ok()
            .and_then(decode_hex::<32>)
            .ok_or_else(|| invalid("`secret` must be 64 hex digits"))?;
        let key = SigningKey(ed25519_dalek::SigningKey::from_bytes(&secret));
        if let Ok(public) = block.get_str("public") {
            if public != key.public_key().to_string() {
                return Err(invalid("`public` does not belong to `secret`"));
            }
        }
        Ok(key)
    }
}

/// A public key as PEM SubjectPublicKeyInfo (what FlavorPack's trusted-keys store reads).
pub fn public_key_pem(public_key: &PublicKey) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(public_key.bytes());
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64_encode(&der)
    )
}

/// Reads a public key written as PEM SubjectPublicKeyInfo or as `ed25519:HEX`.
pub fn parse_public_key(text: &str) -> Option<PublicKey> {
    let trimmed = text.trim();
    if trimmed.starts_with("ed25519:") {
        return trimmed.parse().ok();
    }
    let der = pem_body(trimmed, "PUBLIC KEY")?;
    let key = der
        .strip_prefix(SPKI_PREFIX.as_slice())
        .filter(|rest| rest.len() == 32)?;
    PublicKey::from_bytes(key.try_into().ok()?)
}

fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    base64_decode(&text[start..stop])
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let word = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(BASE64[((word >> (18 - 6 * position)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut word, mut bits) = (0u32, 0u32);
    for character in text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace() && *byte != b'=')
    {
        let value = BASE64.iter().position(|symbol| *symbol == character)? as u32;
        word = (word << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((word >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_matches_flavorpack() {
        // `flavor-rs-builder --key-seed test` embeds this public key (measured on 0.5.4).
        let key = SigningKey::from_seed("test");
        assert_eq!(
            encode_hex(&key.public_key()),
            "67d3b5eaf0c0bf6b5a602d359daecc86a7a74053490ec37ae08e71360587c870"
        );
        assert_eq!(
            key.fingerprint().hex(),
            "c14ff30999c0d33fc2eff45b09ffee7b4c4a35279d727b028ad3acaf9fed3a9f"
        );
    }

    #[test]
    fn pem_round_trips() {
        let key = SigningKey::from_seed("pem");
        let pem = public_key_pem(&key.public_key());
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"),
            "{pem}"
        );
        assert_eq!(parse_public_key(&pem), Some(key.public_key()));
        assert_eq!(
            parse_public_key(&format!("ed25519:{}", encode_hex(&key.public_key()))),
            Some(key.public_key())
        );
        assert_eq!(parse_public_key("garbage"), None);
        assert_eq!(
            base64_decode(&base64_encode(b"hello!?")).unwrap(),
            b"hello!?"
        );
    }

    #[test]
    fn key_files_round_trip() {
        let directory = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed("file");
        let path = directory.path().join("k.key");
        fs_err::write(&path, key.to_key_file("k")).unwrap();
        assert_eq!(
            SigningKey::from_file(&path).unwrap().public_key(),
            key.public_key()
        );
        let mut der = PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&Sha256::digest(b"file"));
        let pem_path = directory.path().join("k.pem");
        fs_err::write(
            &pem_path,
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                base64_encode(&der)
            ),
        )
        .unwrap();
        assert_eq!(
            SigningKey::from_file(&pem_path).unwrap().public_key(),
            key.public_key()
        );
        fs_err::write(&path, "SigningKey \"k\" { secret = \"00\"; }").unwrap();
        assert!(SigningKey::from_file(&path).is_err());
    }
}
