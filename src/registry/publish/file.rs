//! A registry in a local directory (`publish_url = "file:///srv/registry"`): writers take turns
//! on a lock on the directory itself (no lock file to be served), every file is replaced
//! atomically and left readable by a web server running as another user.

use std::path::{Path, PathBuf};

use super::target::{Current, Listed, Target};
use super::{PublishError, StorageFailure};
use crate::fs::FileLock;

/// A directory registry.
#[derive(Debug)]
pub struct DirectoryTarget {
    directory: PathBuf,
    lock: std::sync::Mutex<Option<FileLock>>,
}

impl DirectoryTarget {
    /// The registry in `directory`, which must exist.
    pub fn new(directory: &Path) -> Result<DirectoryTarget, PublishError> {
        if !directory.is_dir() {
            return Err(PublishError::Storage {
                action: "open",
                location: directory.display().to_string(),
                message: "no such directory".into(),
                kind: StorageFailure::Missing,
            });
        }
        Ok(DirectoryTarget {
            directory: directory.to_path_buf(),
            lock: std::sync::Mutex::new(None),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.directory.join(key)
    }
}

fn io<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> PublishError + 'p {
    move |source| {
        PublishError::Io(pandora_core::IoError {
            action,
            path: path.to_path_buf(),
            source,
        })
    }
}

impl Target for DirectoryTarget {
    fn location(&self) -> String {
        let mut location = url::Url::from_directory_path(&self.directory)
            .map_or_else(|()| self.directory.display().to_string(), String::from);
        if !location.ends_with('/') {
            location.push('/');
        }
        location
    }

    fn begin(&self) -> Result<Current, PublishError> {
        let mut lock = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if lock.is_none() {
            *lock = Some(
                FileLock::acquire_directory(&self.directory)
                    .map_err(io("lock", &self.directory))?,
            );
        }
        drop(lock);
        let text = |key| {
            self.read(key)
                .map(|bytes| bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Current {
            index: text("index.acl")?,
            signature: text("index.acl.sig")?,
            version: None,
        })
    }

    fn end(&self) {
        *self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PublishError> {
        let path = self.path(key);
        match fs_err::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io("read", &path)(error)),
        }
    }

    fn size(&self, key: &str) -> Result<Option<u64>, PublishError> {
        let path = self.path(key);
        match fs_err::metadata(&path) {
            Ok(metadata) if metadata.is_file() => Ok(Some(metadata.len())),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io("look up", &path)(error)),
        }
    }

    fn create(&self, key: &str, bytes: Vec<u8>) -> Result<bool, PublishError> {
        // The same bytes only: a stored copy damaged in place (same size) is replaced, so a
        // rerun repairs what clients fail to download. Reading it back is cheap on a disk.
        if self.size(key)? == Some(bytes.len() as u64)
            && self.read(key)?.as_deref() == Some(&bytes[..])
        {
            return Ok(false);
        }
        self.replace(key, bytes)?;
        Ok(true)
    }

    fn replace(&self, key: &str, bytes: Vec<u8>) -> Result<(), PublishError> {
        let path = self.path(key);
        crate::fs::write_atomic_public(&path, &bytes).map_err(io("write", &path))
    }

    fn commit_index(&self, text: &[u8], _current: &Current) -> Result<bool, PublishError> {
        // Under the directory's lock since `begin`: nobody else wrote in between.
        self.replace("index.acl", text.to_vec())?;
        Ok(true)
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, PublishError> {
        let directory = self.path(prefix);
        let entries = match fs_err::read_dir(&directory) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io("list", &directory)(error)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("list", &directory))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let metadata = fs_err::symlink_metadata(&path).map_err(io("list", &directory))?;
            if name.starts_with('.') || !metadata.is_file() {
                continue;
            }
            let modified = metadata
                .modified()
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |age| i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
            keys.push(Listed {
                key: format!("{prefix}{name}"),
                size: metadata.len(),
                modified,
            });
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(keys)
    }

    fn delete(&self, key: &str) -> Result<(), PublishError> {
        let path = self.path(key);
        match fs_err::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(io("delete", &path)(error))
            }
            _ => Ok(()),
        }
    }
}
