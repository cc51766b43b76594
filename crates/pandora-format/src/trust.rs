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
            let Ok(entries) = fs_err::read_dir(directory) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|extension| extension == "pub"))
                .collect();
            paths.sort();
            for path in paths {
                match fs_err::read_to_string(&path)
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

/// The trust policy, the same for every entry point (`pandora install`, `activate`, `run`,
/// `verify`, and the launcher stub): a package signed by a key the user trusts is trusted;
/// with `require_trusted` (`PANDORA_REQUIRE_TRUSTED=1`) anything else is refused, without it
/// it is allowed with a warning. Keys the caller vouches for (a registry's configured keys,
/// for packages installed from it) count as trusted.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    store: TrustStore,
    require_trusted: bool,
}

/// What the policy decided about a signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Trusted, and why: a key file, or a key the caller vouched for.
    Trusted(String),
    /// Not trusted, but allowed (warn).
    Untrusted,
    /// Not trusted, and trusted keys are required: refuse.
    Refused,
}

impl Policy {
    /// The policy of the trusted-key directories and `require_trusted`.
    pub fn new(directories: &[PathBuf], require_trusted: bool) -> Policy {
        Policy {
            store: TrustStore::load(directories),
            require_trusted,
        }
    }

    /// Decides about a package signed by `key`; `vouched` are keys the caller trusts for this
    /// package (a registry's keys). Every entry point asks here, nowhere else.
    pub fn check(&self, key: &PublicKey, vouched: &[PublicKey]) -> Verdict {
        if let Some(path) = self.store.trusts(key) {
            return Verdict::Trusted(format!("trusted by {}", path.display()));
        }
        if vouched.contains(key) {
            return Verdict::Trusted("a key of the registry it came from".into());
        }
        if self.require_trusted {
            Verdict::Refused
        } else {
            Verdict::Untrusted
        }
    }

    /// The trusted keys.
    pub fn store(&self) -> &TrustStore {
        &self.store
    }

    /// Whether untrusted signers are refused.
    pub fn requires_trusted(&self) -> bool {
        self.require_trusted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_trusts_key_files_and_vouched_keys_and_refuses_only_when_required() {
        let directory = tempfile::tempdir().unwrap();
        let trusted = SigningKey::from_seed("trusted").public_key();
        let vouched = SigningKey::from_seed("registry").public_key();
        let stranger = SigningKey::from_seed("stranger").public_key();
        fs_err::write(directory.path().join("t.pub"), format!("{trusted}\n")).unwrap();
        let dirs = [directory.path().to_path_buf()];
        for required in [false, true] {
            let policy = Policy::new(&dirs, required);
            assert!(matches!(policy.check(&trusted, &[]), Verdict::Trusted(_)));
            assert!(matches!(
                policy.check(&vouched, &[vouched]),
                Verdict::Trusted(_)
            ));
            let expected = if required {
                Verdict::Refused
            } else {
                Verdict::Untrusted
            };
            assert_eq!(policy.check(&stranger, &[vouched]), expected);
        }
    }
    use crate::signing::{public_key_pem, SigningKey};

    #[test]
    fn loads_pem_and_hex_and_reports_junk() {
        let directory = tempfile::tempdir().unwrap();
        let first = SigningKey::from_seed("one").public_key();
        let second = SigningKey::from_seed("two").public_key();
        fs_err::write(directory.path().join("a.pub"), public_key_pem(&first)).unwrap();
        fs_err::write(
            directory.path().join("b.pub"),
            format!("ed25519:{}\n", crate::metadata::encode_hex(&second)),
        )
        .unwrap();
        fs_err::write(directory.path().join("junk.pub"), "not a key").unwrap();
        fs_err::write(directory.path().join("ignored.txt"), "ed25519:00").unwrap();
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
