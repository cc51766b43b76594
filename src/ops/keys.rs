//! Signing keys: generating one into `keys/`, and finding the key a build or an index is
//! signed with (a seed, a file, a name in `keys/`, or the default key).

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use fs_err::os::unix::fs::OpenOptionsExt;
use pandora_core::{IoError, KeyFingerprint, PublicKey};

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
    create_key_dirs(layout, false)?;
    let directory = layout.keys_dir();
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
        self::trust(layout, &key.public_key(), name)?;
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

/// One key Pandora knows of, from any of the places keys live.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// Its name: `keys/NAME.pub` or `.key`, else the trusted file's stem; `None` for a key only
    /// a registry lists.
    pub name: Option<String>,
    /// The public key (`ed25519:HEX`).
    pub public_key: PublicKey,
    /// `keys/NAME.key`, when the private key is here.
    pub private: Option<PathBuf>,
    /// `keys/NAME.pub`, when there is one.
    pub public_file: Option<PathBuf>,
    /// The trusted-key files (in `keys/trusted/` or `FLAVOR_TRUSTED_KEYS_DIR`) naming it: its
    /// packages are trusted by the launcher, `install` and `activate`.
    pub trusted_by: Vec<PathBuf>,
    /// Configured registries (`registries.acl`) that list it.
    pub registries: Vec<String>,
}

/// What `list` found.
#[derive(Debug, Clone, Default)]
pub struct KeyList {
    /// Keys with a name first (sorted), then keys only registries list.
    pub keys: Vec<KeyInfo>,
    /// Files that were not readable keys, and trusted-key sources that were not believed, with
    /// the reason.
    pub problems: Vec<String>,
}

/// Every key in `keys/`, in the trusted-key directories and in `registries.acl`.
pub fn list(layout: &Layout, trusted_key_dirs: &[PathBuf]) -> Result<KeyList> {
    let mut found = KeyList::default();
    let directory = layout.keys_dir();
    let mut names: Vec<String> = match fs_err::read_dir(&directory) {
        Ok(entries) => entries
            .filter_map(std::result::Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_file())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "pub" || extension == "key")
            })
            .filter_map(|path| Some(path.file_stem()?.to_str()?.to_string()))
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => {
            return Err(IoError {
                action: "read",
                path: directory,
                source: error,
            }
            .into())
        }
    };
    names.sort();
    names.dedup();
    for name in names {
        let private = directory.join(format!("{name}.key"));
        let public = directory.join(format!("{name}.pub"));
        let from_public = public
            .is_file()
            .then(|| read_public_key(&public))
            .transpose();
        let key = match from_public {
            Ok(Some(key)) => key,
            Ok(None) => match SigningKey::from_file(&private) {
                Ok(signing) => signing.public_key(),
                Err(error) => {
                    found.problems.push(pandora_core::error::chain(&error));
                    continue;
                }
            },
            Err(problem) => {
                found.problems.push(problem);
                continue;
            }
        };
        found.keys.push(KeyInfo {
            name: Some(name),
            public_key: key,
            private: private.is_file().then_some(private),
            public_file: public.is_file().then_some(public),
            trusted_by: Vec::new(),
            registries: Vec::new(),
        });
    }
    let trust = crate::trust::TrustStore::load(trusted_key_dirs);
    found.problems.extend(
        trust
            .rejected
            .iter()
            .map(|rejected| format!("not a trusted key source (ignored): {rejected}")),
    );
    for (key, path) in trust.keys() {
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned());
        for entry in entries_for(&mut found.keys, key, name) {
            entry.trusted_by.push(path.to_path_buf());
        }
    }
    let registries = crate::config::RegistriesFile::load(&layout.registries_file())?;
    for registry in registries.registries() {
        for key in &registry.keys {
            for entry in entries_for(&mut found.keys, key, None) {
                if !entry.registries.contains(&registry.name) {
                    entry.registries.push(registry.name.clone());
                }
            }
        }
    }
    Ok(found)
}

/// The entries for `key` (several names may hold one key), one added (with `name`) if there
/// is none yet.
fn entries_for<'a>(
    keys: &'a mut Vec<KeyInfo>,
    key: &PublicKey,
    name: Option<String>,
) -> impl Iterator<Item = &'a mut KeyInfo> {
    if !keys.iter().any(|info| info.public_key == *key) {
        keys.push(KeyInfo {
            name,
            public_key: *key,
            private: None,
            public_file: None,
            trusted_by: Vec::new(),
            registries: Vec::new(),
        });
    }
    let key = *key;
    keys.iter_mut().filter(move |info| info.public_key == key)
}

/// A `.pub` file's key (PEM or `ed25519:HEX`), or why it is not one.
fn read_public_key(path: &Path) -> std::result::Result<PublicKey, String> {
    let text = fs_err::read_to_string(path).map_err(|error| error.to_string())?;
    crate::format::signing::parse_public_key(&text).ok_or_else(|| {
        format!(
            "{} is not a public key (PEM or ed25519:HEX)",
            path.display()
        )
    })
}

/// How the user named a key: `ed25519:HEX`, `sha256:HEX` (a fingerprint), or a name.
fn matches(info: &KeyInfo, spec: &str) -> bool {
    if let Ok(key) = spec.parse::<PublicKey>() {
        return info.public_key == key;
    }
    if spec.starts_with("sha256:") {
        return KeyFingerprint::parse_hex(spec)
            .is_some_and(|fingerprint| fingerprint == info.public_key.fingerprint());
    }
    info.name.as_deref() == Some(spec)
}

/// The key `spec` names (a name, `ed25519:HEX` or a `sha256:HEX` fingerprint), among `list`'s.
pub fn show(layout: &Layout, trusted_key_dirs: &[PathBuf], spec: &str) -> Result<KeyInfo> {
    let found = list(layout, trusted_key_dirs)?;
    found
        .keys
        .into_iter()
        .find(|info| matches(info, spec))
        .ok_or_else(|| {
            Error::refused(
                format!("no key `{spec}` in {}, the trusted keys or registries.acl", layout.keys_dir().display()),
                "`pandora key list` shows every key by name, public key (ed25519:HEX) and fingerprint (sha256:HEX)",
            )
        })
}

/// What `trust` did.
#[derive(Debug, Clone)]
pub struct Trusted {
    /// The key now trusted.
    pub public_key: PublicKey,
    /// The file trusting it (the one written, or the one that already did).
    pub file: PathBuf,
    /// Whether a file already trusted it (nothing was written).
    pub already: bool,
}

/// The public key `source` names: `ed25519:HEX`, a `.pub` file (PEM or `ed25519:HEX`), a
/// private key file (Pandora's or PKCS#8 PEM), or a `.psp` package (its signer). With the name
/// the source suggests (the file's stem, the package's name).
pub fn resolve_key(source: &str) -> Result<(PublicKey, Option<String>)> {
    // The prefix is a label: `ED25519:` is the same key.
    let lowered = source.to_ascii_lowercase();
    let source = if lowered.starts_with("ed25519:") || lowered.starts_with("sha256:") {
        lowered.as_str()
    } else {
        source
    };
    if source.starts_with("ed25519:") {
        let key = source.parse::<PublicKey>().map_err(|error| {
            Error::refused(
                format!("`{source}` is not a public key: {error}"),
                "a public key is `ed25519:` and 64 hex digits (`pandora inspect FILE.psp` shows a package's)",
            )
        })?;
        return Ok((key, None));
    }
    if source.starts_with("sha256:") {
        return Err(Error::refused(
            format!("`{source}` is a fingerprint, not a public key: a key cannot be trusted by its fingerprint"),
            "pass the key itself (`ed25519:HEX`), a .pub file or the package: `pandora inspect FILE.psp` shows its signer's key",
        ));
    }
    if KeyFingerprint::parse_hex(source).is_some() && !Path::new(source).exists() {
        // 64 hex digits say neither what they are: a key and a fingerprint look the same.
        return Err(Error::refused(
            format!("`{source}` has no label: a public key is written `ed25519:{source}`, a fingerprint `sha256:{source}`"),
            format!("if it is the key: `pandora key trust ed25519:{source}` (a key cannot be trusted by its fingerprint)"),
        ));
    }
    let path = Path::new(source);
    if !path.exists() {
        return Err(Error::refused(
            format!("`{source}` is neither a file nor a public key"),
            "pass a .pub file, a .psp package, or a key as `ed25519:HEX`",
        ));
    }
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned());
    if path.extension().is_some_and(|extension| extension == "psp") {
        let package = crate::format::package::Package::open(path)?;
        let verified = package.verified(crate::format::package::Scope::Structure)?;
        return Ok((verified.public_key, Some(verified.metadata.package.name)));
    }
    let text = fs_err::read(path).map_err(IoError::at("read", path))?;
    let text = String::from_utf8_lossy(&text);
    if let Some(key) = crate::format::signing::parse_public_key(&text) {
        return Ok((key, stem));
    }
    let signing = SigningKey::from_file(path)?;
    Ok((signing.public_key(), stem))
}

/// Creates `keys/` (and `keys/trusted/`) private to the user, as the trust store requires.
fn create_key_dirs(layout: &Layout, trusted: bool) -> Result<()> {
    let mut directories = vec![layout.keys_dir()];
    if trusted {
        directories.push(layout.trusted_keys_dir());
    }
    for directory in directories {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&directory)
            .map_err(|source| IoError {
                action: "create",
                path: directory.clone(),
                source,
            })?;
    }
    Ok(())
}

/// Trusts `public_key`: writes `keys/trusted/NAME.pub` (PEM, atomically, private to the user)
/// unless a trusted file already names it, then checks the trust store believes it.
pub fn trust(layout: &Layout, public_key: &PublicKey, name: &str) -> Result<Trusted> {
    check_name(name)?;
    let directory = layout.trusted_keys_dir();
    let before = crate::trust::TrustStore::load(std::slice::from_ref(&directory));
    if let Some(file) = before.trusts(public_key) {
        return Ok(Trusted {
            public_key: *public_key,
            file: file.to_path_buf(),
            already: true,
        });
    }
    create_key_dirs(layout, true)?;
    let file = directory.join(format!("{name}.pub"));
    if file.exists() {
        return Err(Error::refused(
            format!("{} exists and trusts another key", file.display()),
            "pick another name with --name (trusted keys are never overwritten)",
        ));
    }
    let pem = public_key_pem(public_key);
    crate::fs::write_atomic(&file, pem.as_bytes()).map_err(IoError::at("write", &file))?;
    let after = crate::trust::TrustStore::load(std::slice::from_ref(&directory));
    if after.trusts(public_key).is_none() {
        let reasons: Vec<String> = after.rejected.iter().map(ToString::to_string).collect();
        return Err(Error::refused(
            format!(
                "wrote {}, but the trust store does not believe it: {}",
                file.display(),
                reasons.join("; ")
            ),
            "make the directories on the way private to you (`chmod go-w DIR`), then run the command again",
        ));
    }
    Ok(Trusted {
        public_key: *public_key,
        file,
        already: false,
    })
}

/// The trusted-key files `untrust` would remove.
#[derive(Debug, Clone)]
pub struct Untrust {
    /// The key, when the files could be read.
    pub public_key: Option<PublicKey>,
    /// Files in `keys/trusted/` to remove.
    pub files: Vec<PathBuf>,
    /// Files elsewhere (`FLAVOR_TRUSTED_KEYS_DIR`) that trust it too: Pandora does not edit them.
    pub elsewhere: Vec<PathBuf>,
    /// Registries that still list the key (their packages stay trusted when installed from them).
    pub registries: Vec<String>,
}

/// Finds what trusts the key `spec` names: `keys/trusted/SPEC.pub`, or every trusted file
/// holding the key `spec` names (a name, `ed25519:HEX` or `sha256:HEX`).
pub fn plan_untrust(layout: &Layout, trusted_key_dirs: &[PathBuf], spec: &str) -> Result<Untrust> {
    let directory = layout.trusted_keys_dir();
    let found = list(layout, trusted_key_dirs)?;
    let by_file = directory.join(format!("{spec}.pub"));
    let mut plan = Untrust {
        public_key: None,
        files: Vec::new(),
        elsewhere: Vec::new(),
        registries: Vec::new(),
    };
    if check_name(spec).is_ok() && by_file.symlink_metadata().is_ok() {
        plan.public_key = read_public_key(&by_file).ok();
        plan.files.push(by_file);
    }
    let info = match plan.public_key {
        Some(key) => found.keys.iter().find(|info| info.public_key == key),
        None if plan.files.is_empty() => found.keys.iter().find(|info| matches(info, spec)),
        None => None,
    };
    if let Some(info) = info {
        plan.public_key = Some(info.public_key);
        plan.registries.clone_from(&info.registries);
        for file in &info.trusted_by {
            if file.parent() == Some(directory.as_path()) {
                if !plan.files.contains(file) {
                    plan.files.push(file.clone());
                }
            } else {
                plan.elsewhere.push(file.clone());
            }
        }
    }
    if plan.files.is_empty() {
        let hint = if plan.elsewhere.is_empty() {
            "`pandora key list` shows the trusted keys".to_string()
        } else {
            format!(
                "it is trusted by {} (FLAVOR_TRUSTED_KEYS_DIR), which Pandora does not edit: remove that file yourself",
                plan.elsewhere
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(Error::refused(
            format!("no file in {} trusts `{spec}`", directory.display()),
            hint,
        ));
    }
    Ok(plan)
}

/// Removes the files of an [`Untrust`] plan.
pub fn untrust(layout: &Layout, plan: &Untrust) -> Result<()> {
    for file in &plan.files {
        match fs_err::remove_file(file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(IoError::at("remove", file)(error).into()),
        }
    }
    let directory = layout.trusted_keys_dir();
    crate::fs::sync_directory(&directory).map_err(IoError::at("sync", &directory))?;
    Ok(())
}

/// Copies the private key in `file` (Pandora's key file or PKCS#8 PEM) to `keys/NAME.key`
/// (0600, Pandora's form) and its public key to `keys/NAME.pub`; never overwrites one. With
/// `trust`, its packages are trusted too.
pub fn import(
    layout: &Layout,
    file: &Path,
    name: Option<&str>,
    trust_it: bool,
) -> Result<Generated> {
    let key = SigningKey::from_file(file)?;
    let name = match name {
        Some(name) => name.to_string(),
        None => file
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    check_name(&name)?;
    create_key_dirs(layout, false)?;
    let directory = layout.keys_dir();
    let private = directory.join(format!("{name}.key"));
    let public = directory.join(format!("{name}.pub"));
    if public.exists() || private.exists() {
        return Err(Error::refused(
            format!("a key named `{name}` exists in {}", directory.display()),
            "pick another name with --name (keys are never overwritten)",
        ));
    }
    create_new(&private, key.to_key_file(&name).as_bytes(), 0o600)?;
    let pem = public_key_pem(&key.public_key());
    create_new(&public, pem.as_bytes(), 0o644)?;
    crate::fs::sync_directory(&directory).map_err(IoError::at("sync", &directory))?;
    if trust_it {
        trust(layout, &key.public_key(), &name)?;
    }
    Ok(Generated {
        private,
        public_key: key.public_key(),
    })
}
