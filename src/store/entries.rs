//! Entry points, written at install beside the store entry they run (the launcher's
//! [`entry`](crate::launcher) mode reads them):
//!
//! ```text
//! entries/.launcher-<sha256[..16]>   the launcher, copied once per home (0555)
//! entries/<id>/NAME                  a hard link to it, one per entry point (a copy where the
//!                                    filesystem refuses the link)
//! entries/<id>/.NAME.entry           NAME's record: command and environment rules (0444)
//! var/<id>/DIR                       a package's writable `workenv.directories`; its store
//!                                    entry's `DIR` is a link here
//! ```
//!
//! A profile's `bin/NAME` links to `entries/<id>/NAME`, which runs the package's command as its
//! `.psp` would, with `store/<id>` as `{workenv}`. `entries/<id>` is staged in `tmp/` with the
//! tree and renamed into place before it, and leaves with it.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use pandora_core::PublicKey;

use crate::format::extract::{directory_mode, workenv_relative};
use crate::format::metadata::{encode_hex, Metadata};
use crate::launcher::{record_name, EntryRecord, LaunchPlan, WritableDirectory};
use crate::layout::Layout;

use super::{io, StoreError};

/// What a package gets besides its tree.
#[derive(Debug, Default)]
pub(super) struct Prepared {
    /// Its entry points' records, by name.
    pub records: BTreeMap<String, EntryRecord>,
    /// The writable directories its store entry links out to.
    pub writable: Vec<WritableDirectory>,
}

/// The entry points a package gets, by name, and the writable directories its store entry
/// links out to (links already made in `tree`).
pub(super) fn prepare(
    layout: &Layout,
    metadata: &Metadata,
    public_key: &PublicKey,
    id: &str,
    tree: &Path,
    source: &str,
) -> Result<Prepared, StoreError> {
    let writable = link_writable_directories(layout, metadata, id, tree, source)?;
    let mut records = BTreeMap::new();
    for (name, plan) in LaunchPlan::entry_points(metadata, public_key) {
        pandora_core::id::validate_name(&name).map_err(|reason| StoreError::Identity {
            path: source.into(),
            reason: format!("entry point {reason}"),
        })?;
        records.insert(name, EntryRecord::new(&plan, writable.clone()));
    }
    Ok(Prepared { records, writable })
}

/// FlavorPack's `workenv.directories`, which a program writes into: the store entry is
/// read-only, so each becomes a link from `store/<id>/DIR` to `var/<id>/DIR` (relative, so a
/// moved home keeps working), or to `$FLAVOR_WORKENV_DIR/<id>/DIR`. A directory the package
/// ships with contents stays as shipped (read-only).
fn link_writable_directories(
    layout: &Layout,
    metadata: &Metadata,
    id: &str,
    tree: &Path,
    source: &str,
) -> Result<Vec<WritableDirectory>, StoreError> {
    let declared = metadata
        .workenv
        .as_ref()
        .map(|workenv| workenv.directories.as_slice())
        .unwrap_or_default();
    let root = std::env::var_os(crate::env_vars::FLAVOR_WORKENV_DIR)
        .filter(|value| !value.is_empty())
        .map(|value| std::path::absolute(PathBuf::from(value)).unwrap_or_default());
    let mut writable = Vec::new();
    for directory in declared {
        // As the launcher reads them: `{workenv}` first, then the other placeholders.
        let entry = &directory.path;
        let rest = entry.strip_prefix("{workenv}").unwrap_or(entry);
        let substituted = rest
            .replace("{package_name}", &metadata.package.name)
            .replace("{version}", &metadata.package.version);
        let relative = workenv_relative(&substituted)
            .map_err(|reason| StoreError::Identity {
                path: source.into(),
                reason: format!("workenv directory `{entry}`: {reason}"),
            })?
            .filter(|relative| relative.components().count() > 0);
        let Some(relative) = relative else {
            continue;
        };
        let mode = directory_mode(
            directory
                .mode
                .as_deref()
                .and_then(|text| u32::from_str_radix(text.trim_start_matches("0o"), 8).ok())
                .unwrap_or(0o755),
        );
        if !make_link_place(tree, &relative)? {
            continue;
        }
        let depth = relative.components().count();
        let (target, recorded) = match &root {
            Some(root) => {
                let path = root.join(id).join(&relative);
                (path.clone(), path.display().to_string())
            }
            None => {
                let inside = layout
                    .var_dir()
                    .strip_prefix(layout.root())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|_| PathBuf::from("var"))
                    .join(id)
                    .join(&relative);
                let mut target = PathBuf::new();
                for _ in 0..depth + 1 {
                    target.push("..");
                }
                (target.join(&inside), inside.display().to_string())
            }
        };
        let link = tree.join(&relative);
        std::os::unix::fs::symlink(&target, &link).map_err(io(&link))?;
        writable.push(WritableDirectory {
            path: recorded,
            mode,
        });
    }
    Ok(writable)
}

/// Makes room for a link at `tree/relative`: its parents real directories (made if missing,
/// never through a link), nothing there or an empty directory (removed). `false` when the
/// package ships something there.
fn make_link_place(tree: &Path, relative: &Path) -> Result<bool, StoreError> {
    let mut at = tree.to_path_buf();
    let parts: Vec<Component<'_>> = relative.components().collect();
    for (index, part) in parts.iter().enumerate() {
        at.push(part);
        let last = index + 1 == parts.len();
        match fs_err::symlink_metadata(&at) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if !last {
                    fs_err::create_dir(&at).map_err(io(&at))?;
                }
            }
            Err(error) => return Err(io(&at)(error)),
            Ok(metadata) if metadata.is_dir() && !metadata.file_type().is_symlink() => {
                if last {
                    let empty = fs_err::read_dir(&at).map_err(io(&at))?.next().is_none();
                    if !empty {
                        return Ok(false);
                    }
                    fs_err::set_permissions(&at, std::fs::Permissions::from_mode(0o755))
                        .map_err(io(&at))?;
                    fs_err::remove_dir(&at).map_err(io(&at))?;
                }
            }
            Ok(_) => return Ok(false),
        }
    }
    Ok(true)
}

/// Writes `records` into the new directory `directory`: a hard link to the home's launcher
/// and a read-only record for each entry point.
pub(super) fn write(
    layout: &Layout,
    directory: &Path,
    records: &BTreeMap<String, EntryRecord>,
) -> Result<(), StoreError> {
    let launcher = home_launcher(layout)?;
    fs_err::create_dir(directory).map_err(io(directory))?;
    for (name, record) in records {
        let program = directory.join(name);
        if fs_err::hard_link(&launcher, &program).is_err() {
            // Another filesystem, too many links, or one that has none: a copy works the same.
            fs_err::copy(&launcher, &program).map_err(io(&program))?;
            fs_err::set_permissions(&program, std::fs::Permissions::from_mode(0o555))
                .map_err(io(&program))?;
        }
        let path = directory.join(record_name(name));
        fs_err::write(&path, record.encode()).map_err(io(&path))?;
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o444))
            .map_err(io(&path))?;
    }
    Ok(())
}

/// What is wrong with the entry points of `id`: each program is a copy (a hard link) of
/// `entries/.launcher-<hash>`, so its bytes must hash to a launcher of that name. As root,
/// `cp script ~/bin/NAME` writes through the link into the launcher every entry point shares.
pub(crate) fn check_programs(layout: &Layout, id: &str) -> Result<Vec<String>, StoreError> {
    let directory = layout.entries_dir().join(id);
    let Ok(listing) = fs_err::read_dir(&directory) else {
        return Ok(Vec::new());
    };
    let mut problems = Vec::new();
    for item in listing {
        let item = item.map_err(io(&directory))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let program = item.path();
        let sha256 = crate::registry::download::file_sha256(&program).map_err(io(&program))?;
        let hash = encode_hex(&sha256);
        let launcher = layout
            .entries_dir()
            .join(format!(".launcher-{}", &hash[..16]));
        if !launcher.is_file() {
            problems.push(format!(
                "entry point {name}: {} is not the launcher entry points run as; it was changed, and with it every entry point that shares its bytes (as root, a file written to ~/bin/{name} goes there): `rm {}/.launcher-*`, then `pandora install --reinstall` each package `pandora verify --all` names",
                program.display(),
                layout.entries_dir().display()
            ));
        }
    }
    Ok(problems)
}

/// What is wrong with the entry-point records of `id` against `expected` (each entry point's
/// plan, made from the signed metadata): one missing, one more, or one that says another
/// command, environment or key (the writable directories are where the home put them).
pub(crate) fn check_records(
    layout: &Layout,
    id: &str,
    expected: &BTreeMap<String, LaunchPlan>,
) -> Vec<String> {
    let directory = layout.entries_dir().join(id);
    let mut problems = Vec::new();
    let mut found = Vec::new();
    if let Ok(listing) = fs_err::read_dir(&directory) {
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            if let Some(entry) = name
                .strip_prefix('.')
                .and_then(|name| name.strip_suffix(".entry"))
            {
                found.push(entry.to_string());
            }
        }
    }
    for name in found.iter().filter(|name| !expected.contains_key(*name)) {
        problems.push(format!("entry point {name}: not one the package declares"));
    }
    for (name, plan) in expected {
        let path = directory.join(record_name(name));
        let read = crate::fs::read_regular(&path, 1 << 20)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<EntryRecord>(&bytes).ok());
        match read {
            None => problems.push(format!(
                "entry point {name}: its record {} is missing or damaged; `pandora install --reinstall {id}` writes it again",
                path.display()
            )),
            Some(actual) if actual != EntryRecord::new(plan, actual.writable.clone()) => {
                problems.push(format!(
                    "entry point {name}: its record {} says another command, environment or key than the package (it was changed); `pandora install --reinstall {id}` writes it again",
                    path.display()
                ));
            }
            Some(_) => {}
        }
    }
    problems
}

/// `entries/.launcher-<hash>`: the launcher every entry point of this home links to, copied
/// once (each version of it once: entry points made before keep theirs).
pub(crate) fn home_launcher(layout: &Layout) -> Result<PathBuf, StoreError> {
    // Read and hashed once per process: an install of twenty packages asks twenty times.
    let Some(local) = crate::registry::launchers::local_launcher() else {
        let exe = std::env::current_exe().unwrap_or_default();
        return Err(io(&exe)(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the launcher (pandora-launcher), which entry points run as, is not beside pandora",
        )));
    };
    let (bytes, hash) = (&local.bytes, encode_hex(&local.sha256));
    // Packages are staged on several threads, which would share the partial file's name.
    static PLACING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _placing = PLACING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let directory = layout.entries_dir();
    fs_err::create_dir_all(&directory).map_err(io(&directory))?;
    let path = directory.join(format!(".launcher-{}", &hash[..16]));
    if fs_err::symlink_metadata(&path).is_ok_and(|metadata| metadata.is_file()) {
        return Ok(path);
    }
    let partial = directory.join(format!(".launcher-partial-{}", std::process::id()));
    let _ = fs_err::remove_file(&partial);
    fs_err::write(&partial, bytes).map_err(io(&partial))?;
    fs_err::set_permissions(&partial, std::fs::Permissions::from_mode(0o555))
        .map_err(io(&partial))?;
    fs_err::File::open(&partial)
        .and_then(|file| file.sync_all())
        .map_err(io(&partial))?;
    fs_err::rename(&partial, &path).map_err(io(&path))?;
    crate::fs::sync_directory(&directory).map_err(io(&directory))?;
    Ok(path)
}

/// Creates the writable directories that are missing (entry points do too).
pub(super) fn make_writable(
    layout: &Layout,
    writable: &[WritableDirectory],
) -> Result<(), StoreError> {
    for directory in writable {
        let path = layout.root().join(&directory.path);
        std::os::unix::fs::DirBuilderExt::mode(
            std::fs::DirBuilder::new().recursive(true),
            directory.mode,
        )
        .create(&path)
        .map_err(io(&path))?;
    }
    Ok(())
}

/// Seals an entry-point directory (0555), or opens it again (0755) so it can be moved.
pub(super) fn set_sealed(directory: &Path, sealed: bool) -> Result<(), StoreError> {
    let mode = if sealed { 0o555 } else { 0o755 };
    fs_err::set_permissions(directory, std::fs::Permissions::from_mode(mode)).map_err(io(directory))
}
