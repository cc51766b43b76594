//! One package file, verified in full and described as an index entry: what `registry index`
//! finds in a directory and what `publish` uploads.

use std::path::{Path, PathBuf};

use pandora_core::id::{validate_name, validate_version};
use pandora_core::PublicKey;

use super::PublishError;
use crate::format::package::{Package, Scope};
use crate::registry::index::{IndexVersion, LauncherRef};

/// A verified package file and its index entry.
#[derive(Debug, Clone)]
pub struct Offered {
    /// The file.
    pub path: PathBuf,
    /// Its entry; `pkg_url` is left for the caller (where the file is served from).
    pub entry: IndexVersion,
    /// The package's name.
    pub name: String,
    /// One line.
    pub description: Option<String>,
    /// Search tags.
    pub tags: Vec<String>,
    /// The key that signed the package.
    pub signer: PublicKey,
    /// The platform it is built for, when it says (its `arch`, else its launcher's header).
    pub platform: Option<crate::format::platform::Platform>,
}

impl Offered {
    /// `name@version`.
    pub fn id(&self) -> String {
        pandora_core::id::id(&self.name, &self.entry.version)
    }
}

/// Opens and verifies `path` in full (layout, checksums, signature and every slot's SHA-256,
/// as install does), and describes it.
pub fn offer(path: &Path) -> Result<Offered, PublishError> {
    let invalid = |source| PublishError::InvalidPackage {
        path: path.to_path_buf(),
        source,
    };
    let package = Package::open(path).map_err(invalid)?;
    let verified = package.verified(Scope::Full).map_err(invalid)?;
    let metadata = &verified.metadata;
    let (name, version) = (
        metadata.package.name.clone(),
        metadata.package.version.clone(),
    );
    validate_name(&name)
        .and_then(|()| validate_version(&version))
        .map_err(|reason| PublishError::BadIdentity {
            path: path.to_path_buf(),
            reason,
        })?;
    let sha256 = package.hash_range(0, package.size()).map_err(invalid)?;
    let launcher_size = package.index().launcher_size;
    let launcher = if launcher_size > 0 && launcher_size < package.size() {
        Some(LauncherRef {
            sha256: package.hash_range(0, launcher_size).map_err(invalid)?,
            size: launcher_size,
        })
    } else {
        None
    };
    let platform = package
        .platform(metadata)
        .map_err(invalid)?
        .map(|(platform, _)| platform);
    let pandora = metadata.pandora.clone().unwrap_or_default();
    Ok(Offered {
        path: path.to_path_buf(),
        entry: IndexVersion {
            version,
            pkg_url: String::new(),
            sha256: sha256.into(),
            size: Some(package.size()),
            manifest_url: None,
            dependencies: pandora.dependencies.clone(),
            license: pandora.license.clone(),
            deprecated: false,
            deprecation: None,
            yanked: false,
            launcher,
            files: Vec::new(),
        },
        name,
        description: metadata.package.description.clone(),
        tags: pandora.tags,
        signer: verified.public_key,
        platform,
    })
}
