//! Signing keys: generating one into `keys/`, and finding the key a build or an index is
//! signed with (a seed, a file, a name in `keys/`, or the default key).

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use fs_err::os::unix::fs::OpenOptionsExt;
use pandora_core::{IoError, PublicKey};

use super::{Error, Result};
use crate::format::signing::{public_key_pem, SigningKey};
use crate::layout::Layout;

/// Where a signing key comes from.
#[derive(Debug, Clone, Copy)]
pub enum KeySource<'a> {
    /// `--key-seed SEED`: the secret is SHA-256(SEED), as FlavorPack's builders derive it.
    Seed(&'a str),
    /// `--key NAME|FILE`: a file path, or a name in `keys/`.
    Named(&'a str),
    /// Neither: `keys/default.key`.
    Default,
}

/// The signing key `source` names.
pub fn signing_key(layout: &Layout, source: KeySource<'_>) -> Result<SigningKey> {
    let path = match source {
        KeySource::Seed(seed) => return Ok(SigningKey::from_seed(seed)),
        KeySource::Named(spec) if spec.contains('/') || Path::new(spec).is_file() => {
            PathBuf::from(spec)
        }
        KeySource::Named(name) => layout.keys_dir().join(format!("{name}.key")),
        KeySource::Default => {
            let default = layout.keys_dir().join("default.key");
            if !default.exists() {
                return Err(Error::refused(
                    "no signing key given, and there is no default key",
                    "run `pandora key generate default`, or pass --key NAME|FILE or --key-seed SEED",
                ));
            }
            default
        }
    };
    Ok(SigningKey::from_file(&path)?)
}

/// A key made by [`generate`].
#[derive(Debug, Clone)]
pub struct Generated {
    /// The secret key file (0600).
    pub private: PathBuf,
    /// The public key.
    pub public_key: PublicKey,
}

/// Makes a new key pair `keys/NAME.key` (0600) and `keys/NAME.pub`; never overwrites one.
/// With `trust`, its packages are trusted too (`keys/trusted/NAME.pub`).
pub fn generate(layout: &Layout, name: &str, trust: bool) -> Result<Generated> {
    check_name(name)?;
    let directory = layout.keys_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&directory)
        .map_err(|source| IoError {
            action: "create",
            path: directory.clone(),
            source,
        })?;
    let key = SigningKey::generate().map_err(IoError::at("read", Path::new("/dev/urandom")))?;
    let private = directory.join(format!("{name}.key"));
    let public = directory.join(format!("{name}.pub"));
    if public.exists() {
        return Err(Error::refused(
            format!("{} already exists", public.display()),
            "pick another name (keys are never overwritten)",
        ));
    }
    create_new(&private, key.to_key_file(name).as_bytes(), 0o600)?;
    let pem = public_key_pem(&key.public_key());
    create_new(&public, pem.as_bytes(), 0o644)?;
    crate::fs::sync_directory(&directory).map_err(IoError::at("sync", &directory))?;
    if trust {
        let trusted = layout.trusted_keys_dir().join(format!("{name}.pub"));
        crate::fs::write_atomic(&trusted, pem.as_bytes())
            .map_err(IoError::at("write", &trusted))?;
    }
    Ok(Generated {
        private,
        public_key: key.public_key(),
    })
}

fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(Error::refused(
            format!("invalid key name `{name}`"),
            "key names start with a letter or digit and use only letters, digits, `.`, `_` and `-`",
        ))
    }
}

fn create_new(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                Error::refused(
                    format!("cannot create {}: it exists", path.display()),
                    "a key of that name exists; pick another name (keys are never overwritten)",
                )
            } else {
                IoError {
                    action: "create",
                    path: path.to_path_buf(),
                    source,
                }
                .into()
            }
        })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(IoError::at("write", path))?;
    Ok(())
}
