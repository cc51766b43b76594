//! Which signing keys the user trusts: `*.pub` files in `$PANDORA_HOME/keys/trusted/` and, for
//! FlavorPack compatibility, in `$FLAVOR_TRUSTED_KEYS_DIR`. A `.pub` file holds a PEM
//! SubjectPublicKeyInfo (FlavorPack's form) or `ed25519:HEX`.
//!
//! Trust is only as good as the places it is read from (DESIGN.md invariant 8), so they are
//! checked as ssh checks `~/.ssh` ([`crate::secure`]): a directory counts only if it belongs to
//! the running user or root, is writable by nobody else, and so is every directory above it
//! (sticky ones aside); otherwise none of its keys count. A key file counts only if it is a
//! regular file (never through a link), of the user or root, writable by nobody else, and at
//! most [`MAX_KEY_FILE`] bytes. Whatever is refused is listed in [`TrustStore::rejected`], with
//! the reason, for callers to warn about.

use std::path::{Path, PathBuf};

use pandora_core::PublicKey;

use crate::secure::{self, Owners};
use crate::signing::parse_public_key;

/// The largest key file read (a PEM key is about 113 bytes).
pub const MAX_KEY_FILE: u64 = 16 << 10;

/// The trusted keys, with the file each came from.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: Vec<(PublicKey, PathBuf)>,
    /// Directories and files that were not believed or not readable keys: reported, never
    /// trusted.
    pub rejected: Vec<Rejected>,
}

/// A trusted-keys directory or key file that was not believed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The directory or file.
    pub path: PathBuf,
    /// Why (naming the offending path, which may be a directory above `path`).
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.reason)
    }
}

impl TrustStore {
    /// Reads every `*.pub` in the given directories (missing directories are empty), believing
    /// only directories and files nobody but the user or root could have written.
    pub fn load(directories: &[PathBuf]) -> TrustStore {
        let mut store = TrustStore::default();
        for directory in directories {
            store.load_directory(directory);
        }
        store
    }

    fn reject(&mut self, path: &Path, reason: String) {
        self.rejected.push(Rejected {
            path: path.to_path_buf(),
            reason,
        });
    }

    fn load_directory(&mut self, directory: &Path) {
        match secure::check_directory_tree(directory, Owners::MeOrRoot) {
            Ok(true) => {}
            Ok(false) => return,
            Err(reason) => {
                return self.reject(
                    directory,
                    format!("{reason}: another user could choose which keys are trusted"),
                )
            }
        }
        let entries = match fs_err::read_dir(directory) {
            Ok(entries) => entries,
            Err(error) => return self.reject(directory, error.to_string()),
        };
        let mut found: Vec<(PathBuf, Option<std::fs::FileType>)> = entries
            .filter_map(Result::ok)
            .map(|entry| (entry.path(), entry.file_type().ok()))
            .filter(|(path, _)| path.extension().is_some_and(|extension| extension == "pub"))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, kind) in found {
            // The entry's own type, not following a link: nothing but a regular file is opened
            // (read_file judges the opened file again, so a swap in between changes nothing).
            match kind {
                Some(kind) if kind.is_symlink() => {
                    self.reject(&path, secure::Unsafe::Link(path.clone()).to_string());
                    continue;
                }
                Some(kind) if !kind.is_file() => {
                    self.reject(&path, secure::Unsafe::NotFile(path.clone()).to_string());
                    continue;
                }
                _ => {}
            }
            match secure::read_file(&path, Owners::MeOrRoot, MAX_KEY_FILE) {
                Ok(Some(bytes)) => {
                    match std::str::from_utf8(&bytes).ok().and_then(parse_public_key) {
                        Some(key) => self.keys.push((key, path)),
                        None => {
                            let reason = format!(
                                "{} is not a public key (PEM or ed25519:HEX)",
                                path.display()
                            );
                            self.reject(&path, reason);
                        }
                    }
                }
                // Removed since the directory was listed.
                Ok(None) => {}
                Err(reason) => self.reject(&path, reason.to_string()),
            }
        }
    }

    /// The file trusting `public_key`, if any.
    pub fn trusts(&self, public_key: &PublicKey) -> Option<&Path> {
        self.keys
            .iter()
            .find(|(key, _)| key == public_key)
            .map(|(_, path)| path.as_path())
    }

    /// Every trusted key with the file trusting it, in directory order then file-name order.
    pub fn keys(&self) -> impl Iterator<Item = (&PublicKey, &Path)> {
        self.keys.iter().map(|(key, path)| (key, path.as_path()))
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

/// Describes a key for messages: the key itself (`ed25519:HEX`, what `pandora key trust` and
/// `pandora registry add --key` take), its labelled fingerprint, and whether (and by which file)
/// it is trusted.
pub fn describe(store: &TrustStore, public_key: &PublicKey) -> String {
    match store.trusts(public_key) {
        Some(path) => format!(
            "{public_key} (fingerprint {}, trusted by {})",
            public_key.fingerprint(),
            path.display()
        ),
        None => format!(
            "{public_key} (fingerprint {}, not trusted)",
            public_key.fingerprint()
        ),
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

    #[test]
    fn only_private_regular_small_files_in_private_directories_count() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path, mode: u32| {
            fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        let root = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed("one").public_key();
        let good = root.path().join("good");
        fs_err::create_dir(&good).unwrap();
        mode(&good, 0o755);
        fs_err::write(good.join("k.pub"), public_key_pem(&key)).unwrap();
        mode(&good.join("k.pub"), 0o644);
        let fifo = good.join("a.pub");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let zero = good.join("z.pub");
        fs_err::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let shared = good.join("shared.pub");
        fs_err::write(&shared, public_key_pem(&key)).unwrap();
        mode(&shared, 0o666);
        let big = good.join("big.pub");
        let mut text = public_key_pem(&key);
        text.push_str(&" ".repeat(MAX_KEY_FILE as usize));
        fs_err::write(&big, text).unwrap();
        mode(&big, 0o644);
        let store = TrustStore::load(std::slice::from_ref(&good));
        assert!(store.trusts(&key).unwrap().ends_with("k.pub"));
        let reasons: Vec<(String, String)> = store
            .rejected
            .iter()
            .map(|rejected| {
                let name = rejected.path.file_name().unwrap();
                (name.to_string_lossy().into_owned(), rejected.reason.clone())
            })
            .collect();
        let expect = [
            ("a.pub", "is not a regular file"),
            ("big.pub", "is larger than 16384 bytes"),
            ("shared.pub", "writable by group or others"),
            ("z.pub", "is a symbolic link"),
        ];
        assert_eq!(reasons.len(), expect.len(), "{reasons:?}");
        for ((name, reason), (expected_name, expected_reason)) in reasons.iter().zip(expect) {
            assert_eq!(name, expected_name);
            assert!(reason.contains(expected_reason), "{name}: {reason}");
        }

        // A directory others may write counts for nothing, with the reason.
        mode(&good, 0o777);
        let store = TrustStore::load(std::slice::from_ref(&good));
        assert!(store.is_empty());
        assert_eq!(store.rejected.len(), 1);
        assert_eq!(store.rejected[0].path, good);
        assert!(
            store.rejected[0]
                .reason
                .contains("writable by group or others"),
            "{}",
            store.rejected[0]
        );
        // So does one below a directory others may rename things in.
        mode(&good, 0o755);
        mode(root.path(), 0o777);
        let store = TrustStore::load(std::slice::from_ref(&good));
        assert!(store.is_empty());
        assert!(
            store.rejected[0].reason.contains("without the sticky bit"),
            "{}",
            store.rejected[0]
        );
        mode(root.path(), 0o700);
    }
}
