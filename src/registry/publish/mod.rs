//! Writing registries. `pandora registry index DIR` turns a directory of `.psp` files into a
//! signed registry that any static host can serve; `pandora publish` adds packages to a
//! registry in place, on a directory ([`file`]) or S3-compatible object storage ([`s3`]),
//! through one read-merge-sign-write loop ([`update`]) that never loses a concurrent update.
//!
//! Published files are content-addressed: [`blob_key`] (`blobs/sha256/HEX.psp`, relative to
//! the index). A `name@version` is immutable once indexed: other bytes under it are refused by
//! both `publish` and `registry index`.

pub mod aws;
pub mod file;
pub mod merge;
pub mod offer;
pub mod s3;
pub mod target;
pub mod update;

use std::collections::BTreeMap;
use std::path::PathBuf;

use pandora_core::id::compare_versions;
pub use pandora_core::time::now;

use super::index::{signature_file, IndexPackage, IndexVersion, PlatformFile, RegistryIndex};
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
    /// A `name@version` the index already has, offered with other bytes.
    #[error("{id} is already published with SHA-256 {indexed}; {path} has SHA-256 {offered}")]
    Immutable {
        /// `name@version`.
        id: String,
        /// The indexed SHA-256 (hex).
        indexed: String,
        /// The offered file's SHA-256 (hex).
        offered: String,
        /// The offered file.
        path: PathBuf,
    },
    /// A version that is not in the index (yank, deprecate).
    #[error("{id} is not in the index at {location}")]
    UnknownVersion {
        /// `name@version`, or the name.
        id: String,
        /// The registry's storage.
        location: String,
    },
    /// The registry's storage failed or refused.
    #[error("{action} {location}: {message}")]
    Storage {
        /// What was being done.
        action: &'static str,
        /// The object or file.
        location: String,
        /// What the storage said.
        message: String,
        /// What kind of failure, for the hint.
        kind: StorageFailure,
    },
    /// The index at the registry is not signed by a key the registry's configuration trusts.
    #[error(
        "the index at {location} is not signed by a key registry `{registry}` trusts: {reason}"
    )]
    UntrustedIndex {
        /// Where it is.
        location: String,
        /// The registry.
        registry: String,
        /// What is wrong.
        reason: String,
    },
    /// The index found is older than one seen here, or missing where one was.
    #[error("{}", older_index(location, registry, *found, *seen))]
    OlderIndex {
        /// Where it is.
        location: String,
        /// The registry.
        registry: String,
        /// Its serial (`None`: there is no index).
        found: Option<i64>,
        /// The highest serial seen or signed here (0: none, but package files are stored).
        seen: i64,
    },
    /// Other publishers kept changing the index.
    #[error("the index at {location} changed under every one of {attempts} attempts")]
    Contended {
        /// Where it is.
        location: String,
        /// How many tries.
        attempts: u32,
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

fn older_index(location: &str, registry: &str, found: Option<i64>, seen: i64) -> String {
    match (found, seen) {
        (Some(found), seen) => format!("the index of registry `{registry}` at {location} has serial {found}, older than serial {seen} seen here: it was rolled back, and building on it would drop what was published since"),
        (None, 0) => format!("registry `{registry}` has package files stored but no index at {location}: it was lost, and a new one would drop every package published"),
        (None, seen) => format!("registry `{registry}` has no index at {location}, but serial {seen} was seen here: it was lost, and a new one would drop every package published"),
    }
}

impl pandora_core::Hint for PublishError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            PublishError::InvalidPackage { path, .. } => format!("remove it, or rebuild it; `pandora verify {}` lists every check", path.display()),
            PublishError::Conflict { .. } => "a name and version is published once (once per platform, for builds that declare their `arch`): bump the version of one of them".into(),
            PublishError::SerialExhausted { .. } => "it was made by a broken or hostile tool: move it away to start again at serial 1, and have clients re-add the registry (`pandora registry remove NAME`, then `pandora registry add`)".into(),
            PublishError::ExistingIndex { .. } => "fix it, or move it away to start again at serial 1 (clients that saw a higher serial will refuse the new index)".into(),
            PublishError::Immutable { .. } => "a published version never changes: bump the version and publish that (or `pandora yank` the old one)".into(),
            PublishError::UnknownVersion { .. } => "`pandora info NAME` lists the versions a registry offers".into(),
            PublishError::Storage { kind, .. } => kind.hint().into(),
            PublishError::UntrustedIndex { registry, .. } => format!("nothing was written; if the registry's key changed, update it with `pandora registry set {registry} --add-key ed25519:HEX`, else tell the registry's operator: someone else wrote that index"),
            PublishError::Contended { .. } => "nothing was lost; run the command again (what it published so far is in the index)".into(),
            PublishError::OlderIndex { registry, .. } => format!("nothing was written: restore the newest index.acl and index.acl.sig (for a directory registry, `pandora registry index DIR` rebuilds them from its files), or, to start `{registry}` anew on purpose, use another location (clients that saw the old one would refuse a new one here)"),
            _ => return None,
        })
    }
}

/// Why the storage failed, for the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFailure {
    /// The bucket or directory does not exist.
    Missing,
    /// Credentials were refused or are missing.
    Credentials,
    /// The network or server failed.
    Unreachable,
    /// Anything else.
    Other,
}

impl StorageFailure {
    fn hint(self) -> &'static str {
        match self {
            StorageFailure::Missing => "check the registry's publish_url (`pandora registry set NAME --publish-url URL`); the bucket or directory must exist",
            StorageFailure::Credentials => "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE with ~/.aws/credentials) to credentials allowed to write the bucket",
            StorageFailure::Unreachable => "the registry was left valid (an uploaded file without an index entry is harmless); run the command again when the storage is reachable",
            StorageFailure::Other => "the registry was left valid; run the command again, or `pandora -v` for details",
        }
    }
}

/// Where a published file goes, relative to the index: its SHA-256, so the same bytes are
/// stored once and a name can never point at other bytes than the index says.
pub fn blob_key(sha256: &pandora_core::Sha256) -> String {
    format!(
        "blobs/sha256/{}.psp",
        crate::format::metadata::encode_hex(sha256)
    )
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
        let offered = offer::offer(path)?;
        // A version the previous index has is immutable: other bytes under its name are
        // refused, never silently re-indexed.
        if let Some(previous) = &previous {
            merge::check_immutable(previous, &offered)?;
        }
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
        let mut entry = offered.entry.clone();
        entry.pkg_url = base
            .make_relative(&file_url)
            .unwrap_or_else(|| file_url.to_string());
        // What the publisher set on a version (deprecation, yank) survives re-indexing.
        if let Some(known) = previous
            .as_ref()
            .and_then(|index| index.package(&offered.name))
            .and_then(|known| {
                known
                    .versions
                    .iter()
                    .find(|v| v.version == entry.version && v.sha256 == entry.sha256)
            })
        {
            entry.deprecated = known.deprecated;
            entry.deprecation.clone_from(&known.deprecation);
            entry.yanked = known.yanked;
        }
        let (name, version) = (offered.name.clone(), entry.version.clone());
        let versions = found.entry(name.clone()).or_default();
        if let Some(known) = versions.get_mut(&version) {
            if !known.add_platform_file(&entry, offered.platform.as_ref()) {
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
            platform: offered.platform.clone(),
            entry,
            description: offered.description,
            tags: offered.tags,
        };
        versions.insert(version, found_version);
    }

    let mut packages = Vec::with_capacity(found.len());
    for (name, versions) in found {
        let mut versions: Vec<Found> = versions.into_values().collect();
        versions.sort_by(|a, b| compare_versions(&a.entry.version, &b.entry.version));
        let entries: Vec<IndexVersion> = versions.iter().map(|found| found.entry.clone()).collect();
        let latest = merge::latest(&entries);
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
    let serial = merge::next_serial(
        previous.as_ref().and_then(|index| index.serial),
        &index_path.display().to_string(),
    )?;
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
