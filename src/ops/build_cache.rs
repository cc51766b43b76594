//! `pandora build --cache-export FILE` / `--cache-import FILE`: build-cache entries carried
//! between machines (CI) as a zstd-compressed tar of `KEY/files/...`.
//!
//! An imported entry is trusted as the build's own output would be: whoever hands over the
//! archive decides what the package contains, exactly as whoever hands over `files/` does.
//! The archive itself is still checked: only `KEY/files/...` entries (KEY a SHA-256) of plain
//! files, directories and relative links, nothing that climbs out.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use pandora_core::IoError;

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
