//! Reading a package's `files/` tree: every entry checked before anything is archived, so a
//! bad tree fails the build without writing output.

use std::path::{Path, PathBuf};

use super::BuildError;

/// One entry of the tree, relative to `files/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Path relative to `files/`.
    pub relative: PathBuf,
    /// What it is.
    pub kind: EntryKind,
}

/// The kinds of entry a package may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Directory,
    /// A regular file, executable or not.
    File {
        /// Size in bytes.
        size: u64,
        /// Whether any execute bit is set.
        executable: bool,
    },
    /// A relative symbolic link that stays inside the tree.
    Symlink(PathBuf),
}

/// Whether a path looks like a secret that should not be shipped: `*.env`, `*.pem`, `*.key`,
/// or anything under a `secrets/` directory.
pub fn is_secret(relative: &Path) -> bool {
    let name = relative
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    [".env", ".pem", ".key"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
        || relative
            .components()
            .rev()
            .skip(1)
            .any(|component| component.as_os_str() == "secrets")
}

/// Lists `files/` in a stable order (sorted by path), refusing what cannot be packaged.
pub fn walk(root: &Path, allow_secrets: bool) -> Result<Vec<TreeEntry>, BuildError> {
    if !root.is_dir() {
        return Err(BuildError::FilesMissing {
            path: root.to_path_buf(),
        });
    }
    let mut entries = Vec::new();
    let mut secrets = Vec::new();
    for item in walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item = item.map_err(|error| {
            let path = error.path().unwrap_or(root).to_path_buf();
            BuildError::Io(pandora_core::IoError {
                action: "access",
                path,
                source: error
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
            })
        })?;
        let path = item.path();
        let relative = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        if is_secret(&relative) {
            secrets.push(relative.display().to_string());
        }
        let metadata = item.metadata().map_err(|error| {
            BuildError::Io(pandora_core::IoError {
                action: "access",
                path: path.to_path_buf(),
                source: error
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("cannot stat")),
            })
        })?;
        let file_type = metadata.file_type();
        let kind = if file_type.is_dir() {
            EntryKind::Directory
        } else if file_type.is_file() {
            // Opened now, so an unreadable file fails before any output is written.
            fs_err::File::open(path).map_err(|source| BuildError::Unreadable {
                path: path.to_path_buf(),
                source,
            })?;
            use std::os::unix::fs::PermissionsExt;
            EntryKind::File {
                size: metadata.len(),
                executable: metadata.permissions().mode() & 0o111 != 0,
            }
        } else if file_type.is_symlink() {
            let target = fs_err::read_link(path).map_err(|source| {
                BuildError::Io(pandora_core::IoError {
                    action: "access",
                    path: path.to_path_buf(),
                    source,
                })
            })?;
            check_link(root, &relative, &target)?;
            // Each link may stay inside on its own and still leave through a chain of them
            // (`up -> ../..`, then `escape -> sub/up/..`): what the link finally leads to must
            // be inside the tree, as extraction will check again.
            let resolved = fs_err::canonicalize(path).map_err(|_| BuildError::DanglingSymlink {
                path: path.to_path_buf(),
                target: target.clone(),
            })?;
            let inside = fs_err::canonicalize(root).is_ok_and(|root| resolved.starts_with(root));
            if !inside {
                return Err(BuildError::LinkOutside {
                    path: relative,
                    target,
                });
            }
            EntryKind::Symlink(target)
        } else {
            return Err(BuildError::SpecialFile {
                path: path.to_path_buf(),
            });
        };
        entries.push(TreeEntry { relative, kind });
    }
    if !secrets.is_empty() && !allow_secrets {
        return Err(BuildError::Secrets { paths: secrets });
    }
    if entries.is_empty() {
        return Err(BuildError::EmptyTree {
            path: root.to_path_buf(),
        });
    }
    Ok(entries)
}

fn check_link(root: &Path, relative: &Path, target: &Path) -> Result<(), BuildError> {
    crate::format::extract::check_link(relative, target).map_err(|_| BuildError::LinkOutside {
        path: root.join(relative),
        target: target.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        for secret in [
            ".env",
            "config/prod.env",
            "tls/server.pem",
            "id.key",
            "secrets/token",
            "a/secrets/b/c",
        ] {
            assert!(is_secret(Path::new(secret)), "{secret}");
        }
        for fine in ["bin/envoy", "share/keys.txt", "secrets", "lib/key.rs"] {
            assert!(!is_secret(Path::new(fine)), "{fine}");
        }
    }

    #[test]
    fn a_chain_of_links_that_leaves_the_tree_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path().join("files");
        fs_err::create_dir_all(root.join("a/b/c")).unwrap();
        // Each link alone stays inside; followed one through the other they leave.
        std::os::unix::fs::symlink("../..", root.join("a/b/c/up")).unwrap();
        std::os::unix::fs::symlink("b/c/up/../..", root.join("a/escape")).unwrap();
        let error = walk(&root, false).unwrap_err();
        assert!(
            matches!(&error, BuildError::LinkOutside { path, .. } if path == Path::new("a/escape")),
            "{error}"
        );
    }

    #[test]
    fn walk_refuses_bad_trees() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path().join("files");
        fs_err::create_dir_all(root.join("bin")).unwrap();
        fs_err::write(root.join("bin/tool"), "x").unwrap();
        std::os::unix::fs::symlink("tool", root.join("bin/alias")).unwrap();
        let entries = walk(&root, false).unwrap();
        let names: Vec<_> = entries
            .iter()
            .map(|entry| entry.relative.display().to_string())
            .collect();
        assert_eq!(names, ["bin", "bin/alias", "bin/tool"]);

        std::os::unix::fs::symlink("missing", root.join("bin/dangling")).unwrap();
        assert!(matches!(
            walk(&root, false),
            Err(BuildError::DanglingSymlink { .. })
        ));
        fs_err::remove_file(root.join("bin/dangling")).unwrap();

        std::os::unix::fs::symlink("../../etc/passwd", root.join("bin/escape")).unwrap();
        assert!(matches!(
            walk(&root, false),
            Err(BuildError::LinkOutside { .. })
        ));
        fs_err::remove_file(root.join("bin/escape")).unwrap();

        fs_err::write(root.join("prod.env"), "TOKEN=1").unwrap();
        match walk(&root, false) {
            Err(BuildError::Secrets { paths }) => assert_eq!(paths, ["prod.env"]),
            other => panic!("{other:?}"),
        }
        assert!(walk(&root, true).is_ok());
    }
}
