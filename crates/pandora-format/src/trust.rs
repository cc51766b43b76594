//! Which signing keys the user trusts: `*.pub` files in `$PANDORA_HOME/keys/trusted/` and, for
//! FlavorPack compatibility, in `$FLAVOR_TRUSTED_KEYS_DIR`. A `.pub` file holds a PEM
//! SubjectPublicKeyInfo (FlavorPack's form) or `ed25519:HEX`.

use std::path::{Path, PathBuf};

use pandora_core::PublicKey;

use crate::signing::parse_public_key;

/// The trusted keys, with the file each came from.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: Vec<(PublicKey, PathBuf)>,
    /// Files that were not readable keys: reported, never trusted.
    pub rejected: Vec<PathBuf>,
}

impl TrustStore {
    /// Reads every `*.pub` in the given directories (missing directories are empty).
    pub fn load(directories: &[PathBuf]) -> TrustStore {
        let mut store = TrustStore::default();
        for directory in directories {
            let Ok(entries) = std::fs::read_dir(directory) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|extension| extension == "pub"))
                .collect();
            paths.sort();
            for path in paths {
                match std::fs::read_to_string(&path)
                    .ok()
                    .as_deref()
                    .and_then(parse_public_key)
                {
                    Some(key) => store.keys.push((key, path)),
                    None => store.rejected.push(path),
                }
            }
        }
        store
    }

    /// The file trusting `public_key`, if any.
    pub fn trusts(&self, public_key: &PublicKey) -> Option<&Path> {
        self.keys
            .iter()
            .find(|(key, _)| key == public_key)
            .map(|(_, path)| path.as_path())
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Describes a key for messages: its fingerprint and whether (and by which file) it is trusted.
pub fn describe(store: &TrustStore, public_key: &PublicKey) -> String {
    match store.trusts(public_key) {
        Some(path) => format!(
            "{} (trusted by {})",
            public_key.fingerprint(),
            path.display()
        ),
        None => format!("{} (not trusted)", public_key.fingerprint()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{public_key_pem, SigningKey};

    #[test]
    fn loads_pem_and_hex_and_reports_junk() {
        let directory = tempfile::tempdir().unwrap();
        let first = SigningKey::from_seed("one").public_key();
        let second = SigningKey::from_seed("two").public_key();
        std::fs::write(directory.path().join("a.pub"), public_key_pem(&first)).unwrap();
        std::fs::write(
            directory.path().join("b.pub"),
            format!("ed25519:{}\n", crate::metadata::encode_hex(&second)),
        )
        .unwrap();
        std::fs::write(directory.path().join("junk.pub"), "not a key").unwrap();
        std::fs::write(directory.path().join("ignored.txt"), "ed25519:00").unwrap();
        let store = TrustStore::load(&[
            directory.path().to_path_buf(),
            PathBuf::from("/nonexistent"),
        ]);
        assert_eq!(store.len(), 2);
        assert!(store.trusts(&first).unwrap().ends_with("a.pub"));
        assert!(store.trusts(&second).is_some());
        assert!(store
            .trusts(&SigningKey::from_seed("three").public_key())
            .is_none());
        assert_eq!(store.rejected.len(), 1);
    }
}
