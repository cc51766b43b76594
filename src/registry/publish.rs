//! `pandora registry index DIR`: turns a directory of `.psp` files into a signed registry that
//! any static host can serve. Publishing is: copy the files in, run this, upload.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pandora_core::id::{compare_versions, validate_name, validate_version};
pub use pandora_core::time::now;

use super::index::{
    signature_file, IndexPackage, IndexVersion, LauncherRef, PlatformFile, RegistryIndex,
};
use crate::format::package::{Package, Scope};
use crate::format::platform::Platform;
use crate::format::signing::SigningKey;
use crate::format::FormatError;

/// What can stop indexing. Nothing is written when one happens.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Not a directory.
    #[error("{path} is not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] pandora_core::IoError),
    /// A package that fails verification.
    #[error("{path} is not a valid package")]
    InvalidPackage {
        /// The file.
        path: PathBuf,
        /// The failed check.
        #[source]
        source: FormatError,
    },
    /// A package whose name or version Pandora cannot index.
    #[error("{path}: {reason}")]
    BadIdentity {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Two files claiming the same name and version with different contents.
    #[error("{first} and {second} are both {name}@{version}, with different contents")]
    Conflict {
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
        /// Package name.
        name: String,
        /// Version.
        version: String,
    },
    /// The index already there has a serial nothing can follow.
    #[error("the existing index {path} has serial {serial}, the largest there is")]
    SerialExhausted {
        /// The file.
        path: PathBuf,
        /// Its serial.
        serial: i64,
    },
    /// The index already there does not parse, so its serial is unknown.
    #[error("the existing index {path} is not valid")]
    ExistingIndex {
        /// The file.
        path: PathBuf,
        /// What is wrong, where.
        #[source]
        source: acl_parser::Error,
    },
}

impl pandora_core::Hint for PublishError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            PublishError::InvalidPackage { path, .. } => format!("remove it, or rebuild it; `pandora verify {}` lists every check", path.display()),
            PublishError::Conflict { .. } => "a name and version is published once (once per platform, for builds that declare their `arch`): bump the version of one of them".into(),
            PublishError::SerialExhausted { .. } => "it was made by a broken or hostile tool: move it away to start again at serial 1, and have clients re-add the registry (`pandora registry remove NAME`, then `pandora registry add`)".into(),
            PublishError::ExistingIndex { .. } => "fix it, or move it away to start again at serial 1 (clients that saw a higher serial will refuse the new index)".into(),
            _ => return None,
        })
    }
}

/// How to index.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The registry directory.
    pub directory: PathBuf,
    /// The key signing the index.
    pub key: SigningKey,
    /// Days until clients refuse the index.
    pub expires_in_days: u32,
    /// The registry's name (default: the previous index's, else the directory's name).
    pub name: Option<String>,
    /// Priority hint (default: the previous index's, else 100).
    pub priority: Option<i64>,
    /// The current time (Unix seconds).
    pub now: i64,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Published {
    /// The new index.
    pub index: RegistryIndex,
    /// Where it is.
    pub path: PathBuf,
}

/// One version found in the directory.
struct Found {
    file: PathBuf,
    /// The platform of the first file found (known when the package says).
    platform: Option<Platform>,
    entry: IndexVersion,
    description: Option<String>,
    tags: Vec<String>,
}

impl Found {
    /// Takes another file of the same version: the same bytes again, or a build for another
    /// platform (both files then listed per platform, each client picking its own). `false`
    /// for different bytes that are not told apart by platform.
    fn add_platform_file(&mut self, other: &IndexVersion, platform: Option<&Platform>) -> bool {
        let same_bytes = |sha256| sha256 == other.sha256;
        if same_bytes(self.entry.sha256) || self.entry.files.iter().any(|f| same_bytes(f.sha256)) {
            return true;
        }
        let (Some(mine), Some(theirs)) = (self.platform.clone(), platform) else {
            return false;
        };
        let file = |entry: &IndexVersion, platform: &Platform| PlatformFile {
            platform: platform.to_string(),
            pkg_url: entry.pkg_url.clone(),
            sha256: entry.sha256,
            size: entry.size,
            launcher: entry.launcher,
        };
        if self.entry.files.is_empty() {
            if mine == *theirs {
                return false;
            }
            self.entry.files.push(file(&self.entry, &mine));
            self.entry.pkg_url.clear();
            self.entry.size = None;
            self.entry.launcher = None;
        } else if self
            .entry
            .files
            .iter()
            .any(|known| Platform::parse(&known.platform).as_ref() == Some(theirs))
        {
            return false;
        }
        self.entry.files.push(file(other, theirs));
        self.entry.files.sort_by(|a, b| a.platform.cmp(&b.platform));
        true
    }
}

/// Indexes and signs the directory.
pub fn index_directory(options: &PublishOptions) -> Result<Published, PublishError> {
    let directory = &options.directory;
    if !directory.is_dir() {
        return Err(PublishError::NotADirectory {
            path: directory.clone(),
        });
    }
    // On the directory itself: everything in a registry directory is published.
    let _lock = crate::fs::FileLock::acquire_directory(directory)
        .map_err(pandora_core::IoError::at("lock", directory))?;
    let index_path = directory.join("index.acl");
    let previous = match fs_err::read_to_string(&index_path) {
        Ok(text) => Some(
            RegistryIndex::parse(&index_path.display().to_string(), &text).map_err(|source| {
                PublishError::ExistingIndex {
                    path: index_path.clone(),
                    source,
                }
            })?,
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(PublishError::Io(pandora_core::IoError {
                action: "access",
                path: index_path,
                source,
            }))
        }
    };
    let base = url::Url::from_directory_path(std::path::absolute(directory).map_err(|source| {
        PublishError::Io(pandora_core::IoError {
            action: "access",
            path: directory.clone(),
            source,
        })
    })?)
    .map_err(|()| PublishError::NotADirectory {
        path: directory.clone(),
    })?;

    // name -> version -> what was found
    let mut found: BTreeMap<String, BTreeMap<String, Found>> = BTreeMap::new();
    let files = walkdir::WalkDir::new(directory)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
        });
    for entry in files {
        let entry = entry.map_err(|error| {
            PublishError::Io(pandora_core::IoError {
                action: "access",
                path: error.path().unwrap_or(directory).to_path_buf(),
                source: error
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
            })
        })?;
        let path = entry.path();
        if !entry.file_type().is_file()
            || path.extension().is_none_or(|extension| extension != "psp")
        {
            continue;
        }
        let package = Package::open(path).map_err(|source| PublishError::InvalidPackage {
            path: path.to_path_buf(),
            source,
        })?;
        let verified =
            package
                .verified(Scope::Full)
                .map_err(|source| PublishError::InvalidPackage {
                    path: path.to_path_buf(),
                    source,
                })?;
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
        let sha256 = package.hash_range(0, package.size()).map_err(|source| {
            PublishError::InvalidPackage {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let file_url = url::Url::from_file_path(std::path::absolute(path).map_err(|source| {
            PublishError::Io(pandora_core::IoError {
                action: "access",
                path: path.to_path_buf(),
                source,
            })
        })?)
        .map_err(|()| PublishError::NotADirectory {
            path: path.to_path_buf(),
        })?;
        let pkg_url = base
            .make_relative(&file_url)
            .unwrap_or_else(|| file_url.to_string());
        let pandora = metadata.pandora.clone().unwrap_or_default();
        // A deprecation set by hand in the previous index survives re-indexing.
        let deprecated = previous
            .as_ref()
            .and_then(|index| index.package(&name))
            .and_then(|known| {
                known
                    .versions
                    .iter()
                    .find(|v| v.version == version && v.sha256 == sha256)
            })
            .is_some_and(|known| known.deprecated);
        let launcher_size = package.index().launcher_size;
        let launcher = if launcher_size > 0 && launcher_size < package.size() {
            Some(LauncherRef {
                sha256: package.hash_range(0, launcher_size).map_err(|source| {
                    PublishError::InvalidPackage {
                        path: path.to_path_buf(),
                        source,
                    }
                })?,
                size: launcher_size,
            })
        } else {
            None
        };
        let entry = IndexVersion {
            version: version.clone(),
            pkg_url,
            sha256: sha256.into(),
            size: Some(package.size()),
            manifest_url: None,
            dependencies: pandora.dependencies.clone(),
            license: pandora.license.clone(),
            deprecated,
            launcher,
            files: Vec::new(),
        };
        let platform = package
            .platform(metadata)
            .map_err(|source| PublishError::InvalidPackage {
                path: path.to_path_buf(),
                source,
            })?
            .map(|(platform, _)| platform);
        let versions = found.entry(name.clone()).or_default();
        if let Some(known) = versions.get_mut(&version) {
            if !known.add_platform_file(&entry, platform.as_ref()) {
                return Err(PublishError::Conflict {
                    first: known.file.clone(),
                    second: path.to_path_buf(),
                    name,
                    version,
                });
            }
            continue;
        }
        let found_version = Found {
            file: path.to_path_buf(),
            platform,
            entry,
            description: metadata.package.description.clone(),
            tags: pandora.tags.clone(),
        };
        versions.insert(version, found_version);
    }

    let mut packages = Vec::with_capacity(found.len());
    for (name, versions) in found {
        let mut versions: Vec<Found> = versions.into_values().collect();
        versions.sort_by(|a, b| compare_versions(&a.entry.version, &b.entry.version));
        // Description and tags come from the newest version; `latest` is the newest one that
        // is not deprecated, or the newest when all are.
        let latest = versions
            .iter()
            .rev()
            .find(|found| !found.entry.deprecated)
            .or(versions.last())
            .map(|found| found.entry.version.clone())
            .unwrap_or_default();
        let (description, tags) = versions
            .last()
            .map(|found| (found.description.clone(), found.tags.clone()))
            .unwrap_or_default();
        packages.push(IndexPackage {
            name,
            description,
            tags,
            latest,
            pkg_base_url: None,
            versions: versions.into_iter().map(|found| found.entry).collect(),
        });
    }
    let fallback_name = directory
        .canonicalize()
        .ok()
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "registry".to_string());
    // An index without a serial (hand-written in the design's shape) is followed by serial 1.
    let serial = match previous.as_ref().and_then(|index| index.serial) {
        None => 1,
        Some(serial) => serial
            .checked_add(1)
            .ok_or_else(|| PublishError::SerialExhausted {
                path: index_path.clone(),
                serial,
            })?,
    };
    let index = RegistryIndex {
        name: options
            .name
            .clone()
            .or_else(|| previous.as_ref().map(|index| index.name.clone()))
            .unwrap_or(fallback_name),
        serial: Some(serial),
        expires: Some(options.now + i64::from(options.expires_in_days) * 86_400),
        priority: options
            .priority
            .or_else(|| previous.as_ref().map(|index| index.priority))
            .unwrap_or(crate::config::DEFAULT_PRIORITY),
        packages,
        compact: None,
    };
    let text = index.to_acl();
    let signature = options.key.sign(text.as_bytes());
    crate::fs::write_atomic_public(&index_path, text.as_bytes()).map_err(|source| {
        PublishError::Io(pandora_core::IoError {
            action: "access",
            path: index_path.clone(),
            source,
        })
    })?;
    let signature_path = directory.join("index.acl.sig");
    crate::fs::write_atomic_public(
        &signature_path,
        signature_file(&options.key.public_key(), &signature).as_bytes(),
    )
    .map_err(|source| {
        PublishError::Io(pandora_core::IoError {
            action: "access",
            path: signature_path,
            source,
        })
    })?;
    Ok(Published {
        index,
        path: index_path,
    })
}
