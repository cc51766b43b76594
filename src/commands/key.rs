//! `pandora key generate NAME`, and how every command finds the signing key it is given.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::cli::{KeyCommand, KeyGenerateArgs};
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::format::signing::{public_key_pem, SigningKey};
use crate::settings::Settings;

/// Runs a `key` subcommand.
pub fn run(command: &KeyCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        KeyCommand::Generate(args) => generate(args, context),
    }
}

fn check_name(name: &str) -> Result<(), UserError> {
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
        Err(UserError::new(format!("invalid key name `{name}`")).hint(
            "key names start with a letter or digit and use only letters, digits, `.`, `_` and `-`",
        ))
    }
}

/// Writes a new file with `contents`, refusing to replace one that exists.
fn create_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|error| {
            let user = UserError::new(format!("cannot create {}: {error}", path.display()));
            if error.kind() == std::io::ErrorKind::AlreadyExists {
                user.hint(
                    "a key of that name exists; pick another name (keys are never overwritten)",
                )
            } else {
                user
            }
        })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|error| UserError::new(format!("cannot write {}: {error}", path.display())))?;
    Ok(())
}

fn generate(args: &KeyGenerateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    check_name(&args.name)?;
    let directory = context.settings.layout.keys_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&directory)
        .map_err(|error| {
            UserError::new(format!("cannot create {}: {error}", directory.display()))
        })?;
    let key = SigningKey::generate()
        .map_err(|error| UserError::new(format!("cannot read /dev/urandom: {error}")))?;
    let private = directory.join(format!("{}.key", args.name));
    let public = directory.join(format!("{}.pub", args.name));
    if public.exists() {
        return Err(
            UserError::new(format!("{} already exists", public.display()))
                .hint("pick another name (keys are never overwritten)")
                .into(),
        );
    }
    create_new(&private, key.to_key_file(&args.name).as_bytes(), 0o600)?;
    let pem = public_key_pem(&key.public_key());
    create_new(&public, pem.as_bytes(), 0o644)?;
    crate::fs::sync_directory(&directory)?;
    if args.trust {
        let trusted = context.settings.layout.trusted_keys_dir();
        std::fs::create_dir_all(&trusted).map_err(|error| {
            UserError::new(format!("cannot create {}: {error}", trusted.display()))
        })?;
        crate::fs::write_atomic(&trusted.join(format!("{}.pub", args.name)), pem.as_bytes())?;
    }
    context.printer.status(
        "Generated",
        format!("key `{}` in {}", args.name, private.display()),
    );
    context.printer.data(format!(
        "ed25519:{}",
        crate::format::metadata::encode_hex(&key.public_key())
    ));
    context
        .printer
        .detail(format!("fingerprint {}", key.fingerprint()));
    Ok(ExitStatus::Success)
}

/// The signing key a command was given: `--key-seed`, `--key NAME|FILE`, or the key named
/// `default`.
pub fn signing_key(
    key: Option<&str>,
    seed: Option<&str>,
    settings: &Settings,
) -> anyhow::Result<SigningKey> {
    if let Some(seed) = seed {
        return Ok(SigningKey::from_seed(seed));
    }
    let path = match key {
        Some(spec) if spec.contains('/') || Path::new(spec).is_file() => PathBuf::from(spec),
        Some(name) => settings.layout.keys_dir().join(format!("{name}.key")),
        None => {
            let default = settings.layout.keys_dir().join("default.key");
            if !default.exists() {
                return Err(UserError::new("no signing key given, and there is no default key")
                    .hint("run `pandora key generate default`, or pass --key NAME|FILE or --key-seed SEED")
                    .into());
            }
            default
        }
    };
    Ok(SigningKey::from_file(&path)?)
}
