//! Looking into a package file: its verified structure and signer (`inspect`), and verified
//! extraction of every slot into a new directory (`unpack`).

use std::path::{Path, PathBuf};

use super::{Error, Result};
use crate::format::extract::{unpack as extract_all, Limits};
use crate::format::package::{Package, Scope, Verified};
use crate::trust::{describe, TrustStore};

/// A package whose structure and signature were checked (slot contents were not hashed).
#[derive(Debug)]
pub struct Inspected {
    /// The open package.
    pub package: Package,
    /// What was verified.
    pub verified: Verified,
    /// Who signed it, and whether that key is trusted.
    pub signer: String,
    /// The file trusting its signer, if one does.
    pub trusted_by: Option<PathBuf>,
}

/// Opens `file` and checks everything but the slot contents.
pub fn inspect(file: &Path, trusted_key_dirs: &[PathBuf]) -> Result<Inspected> {
    let package = Package::open(file)?;
    let (report, verified) = package.verify(Scope::Structure);
    let Some(verified) = verified else {
        let (check, reason) = report.first_failure().unwrap_or(("verify", "incomplete"));
        return Err(Error::refused(
            format!(
                "cannot inspect {}: check `{check}` failed: {reason}",
                file.display()
            ),
            format!("run `pandora verify {}` for every check", file.display()),
        ));
    };
    let trust = TrustStore::load(trusted_key_dirs);
    let signer = describe(&trust, &verified.public_key);
    let trusted_by = trust.trusts(&verified.public_key).map(Path::to_path_buf);
    Ok(Inspected {
        package,
        verified,
        signer,
        trusted_by,
    })
}

/// What `unpack` did.
#[derive(Debug)]
pub struct Unpacked {
    /// The package.
    pub inspected: Inspected,
    /// Whether its signer is trusted.
    pub trusted: bool,
    /// Bytes written.
    pub bytes: u64,
}

/// Extracts every slot of `file` into the new directory `directory`, hashing as it streams.
pub fn unpack(file: &Path, directory: &Path, trusted_key_dirs: &[PathBuf]) -> Result<Unpacked> {
    let package = Package::open(file)?;
    let verified = package.verified(Scope::Structure)?;
    // Slots are hashed while they stream; the stub is checked here.
    package.verify_launcher(&verified)?;
    let trust = TrustStore::load(trusted_key_dirs);
    let trusted_by = trust.trusts(&verified.public_key).map(Path::to_path_buf);
    let trusted = trusted_by.is_some();
    let signer = describe(&trust, &verified.public_key);
    let bytes = extract_all(&package, &verified.slots, directory, Limits::default())?;
    Ok(Unpacked {
        inspected: Inspected {
            package,
            verified,
            signer,
            trusted_by,
        },
        trusted,
        bytes,
    })
}
