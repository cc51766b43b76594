//! `pandora build --cache-export FILE` / `--cache-import FILE`: build-cache entries carried
//! between machines (CI) as a zstd-compressed tar of `KEY/files/...`.
//!
//! Whoever hands over the archive decides what the package contains, exactly as whoever hands
//! over `files/` does, but not what the provenance says about how it was built: an imported
//! entry is marked, and its sandbox text is recorded as unverified. The archive itself is
//! checked: only `KEY/files/...` entries (KEY a SHA-256) of plain files, directories and
//! relative links that stay under `KEY/files`, and at most a plain `KEY/sandbox` file.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use pandora_core::IoError;

use super::source_build::IMPORTED_MARKER;
use super::{Error, Result};

fn io<'a>(action: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |source| {
        Error::Io(IoError {
            action,
            path: path.to_path_buf(),
            source,
        })
    }
}

fn invalid(archive: &Path, detail: impl std::fmt::Display) -> Error {
    Error::refused(
        format!(
            "{} is not a build-cache archive: {detail}",
            archive.display()
        ),
        "pass a file written by `pandora build --cache-export`",
    )
}

/// Whether a link in the directory `parent` (components under `KEY/files`) to the relative
/// `target` stays under `KEY/files`, read without following anything.
fn stays_inside(parent: &[Component], target: &Path) -> bool {
    let mut depth = parent.len();
    for part in target.components() {
        match part {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            _ => return false,
        }
    }
    true
}

/// Resolves every unpacked link as the kernel would (one link through another can leave where
/// each alone stays) and refuses any that lands outside `entry/files`.
fn check_links_resolved(archive: &Path, entry: &Path) -> Result<()> {
    let files = entry.join("files");
    let Ok(root) = fs_err::canonicalize(&files) else {
        return Ok(());
    };
    for item in walkdir::WalkDir::new(&files).follow_links(false) {
        let item = item.map_err(|error| invalid(archive, error))?;
        if !item.path_is_symlink() {
            continue;
        }
        // A link to nothing resolves nowhere; the packer refuses those anyway.
        if let Ok(resolved) = fs_err::canonicalize(item.path()) {
            if !resolved.starts_with(&root) {
                let relative = item.path().strip_prefix(entry).unwrap_or(item.path());
                return Err(invalid(
                    archive,
                    format!("{} leads outside its entry's files", relative.display()),
                ));
            }
        }
    }
    Ok(())
}

/// Writes the entry `key` of the cache at `root` to `archive`.
pub fn export(root: &Path, key: &str, archive: &Path) -> Result<()> {
    let entry = root.join(key);
    if !entry.join("files").is_dir() {
        return Err(Error::refused(
            format!("the build cache has no entry {key}"),
            "build without --verify-reproducible to fill the cache, then export it",
        ));
    }
    let directory = match archive.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let temporary =
        tempfile::NamedTempFile::new_in(&directory).map_err(io("create", &directory))?;
    let encoder =
        zstd::stream::write::Encoder::new(temporary.as_file(), 3).map_err(io("write", archive))?;
    let mut builder = tar::Builder::new(encoder);
    builder.follow_symlinks(false);
    builder
        .append_dir_all(Path::new(key).join("files"), entry.join("files"))
        .map_err(io("write", archive))?;
    let description = entry.join("sandbox");
    if description.is_file() {
        builder
            .append_path_with_name(&description, Path::new(key).join("sandbox"))
            .map_err(io("write", archive))?;
    }
    let encoder = builder.into_inner().map_err(io("write", archive))?;
    encoder.finish().map_err(io("write", archive))?;
    temporary
        .persist(archive)
        .map_err(|error| io("write", archive)(error.error))?;
    Ok(())
}

/// Unpacks `archive` into the cache at `root`; returns how many entries it added.
pub fn import(root: &Path, archive: &Path) -> Result<usize> {
    fs_err::create_dir_all(root).map_err(io("create", root))?;
    let staging = tempfile::Builder::new()
        .prefix(".import.")
        .tempdir_in(root)
        .map_err(io("create", root))?;
    let file = fs_err::File::open(archive).map_err(io("read", archive))?;
    let decoder =
        zstd::stream::read::Decoder::new(file).map_err(|error| invalid(archive, error))?;
    let mut tar = tar::Archive::new(decoder);
    let mut keys = BTreeSet::new();
    for entry in tar.entries().map_err(|error| invalid(archive, error))? {
        let mut entry = entry.map_err(|error| invalid(archive, error))?;
        let path = entry
            .path()
            .map_err(|error| invalid(archive, error))?
            .into_owned();
        let parts: Vec<Component> = path.components().collect();
        let key = match parts.as_slice() {
            [Component::Normal(key), Component::Normal(files), ..] if *files == "files" => {
                key.to_string_lossy().into_owned()
            }
            [Component::Normal(key), Component::Normal(sandbox)]
                if *sandbox == "sandbox" && entry.header().entry_type().is_file() =>
            {
                key.to_string_lossy().into_owned()
            }
            _ => {
                return Err(invalid(
                    archive,
                    format!("unexpected entry {}", path.display()),
                ))
            }
        };
        if key.len() != 64 || !key.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(invalid(archive, format!("{key} is not a cache key")));
        }
        if parts
            .iter()
            .any(|part| !matches!(part, Component::Normal(_)))
        {
            return Err(invalid(
                archive,
                format!("{} leaves its entry", path.display()),
            ));
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(|error| invalid(archive, error))?
                .map(|target| target.into_owned())
                .unwrap_or_default();
            if target.is_absolute() {
                return Err(invalid(
                    archive,
                    format!("{} links to an absolute path", path.display()),
                ));
            }
            // `KEY/files` or `KEY/sandbox` as a link would hand the build whatever it names.
            if parts.len() <= 2 {
                return Err(invalid(
                    archive,
                    format!("{} is a symbolic link", path.display()),
                ));
            }
            if !stays_inside(&parts[2..parts.len() - 1], &target) {
                return Err(invalid(
                    archive,
                    format!(
                        "{} links to {}, outside its entry's files",
                        path.display(),
                        target.display()
                    ),
                ));
            }
        } else if !(kind.is_file() || kind.is_dir()) {
            return Err(invalid(
                archive,
                format!("{} is not a file, directory or link", path.display()),
            ));
        }
        entry.set_preserve_mtime(false);
        let unpacked = entry
            .unpack_in(staging.path())
            .map_err(|error| invalid(archive, error))?;
        if !unpacked {
            return Err(invalid(
                archive,
                format!("{} leaves its entry", path.display()),
            ));
        }
        keys.insert(key);
    }
    if keys.is_empty() {
        return Err(invalid(archive, "it holds no cache entries"));
    }
    for key in &keys {
        // Read back as the entry's provenance: what the archive says about its sandbox is
        // quoted as unverified, never taken as this machine's word. Written before the links
        // are checked, so none may point at it either.
        let marker = staging.path().join(key).join(IMPORTED_MARKER);
        fs_err::write(&marker, b"").map_err(io("write", &marker))?;
        check_links_resolved(archive, &staging.path().join(key))?;
    }
    let mut added = 0;
    for key in keys {
        let target = root.join(&key);
        if target.join("files").is_dir() {
            continue;
        }
        fs_err::rename(staging.path().join(&key), &target).map_err(io("create", &target))?;
        added += 1;
    }
    Ok(added)
}
