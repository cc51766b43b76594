//! Deleting what nothing uses. With a generation count, old generations first, then every
//! store entry no remaining generation of any profile holds (the GC roots); always blobs no
//! installed package came from (and the whole copies `run` made of them), store entries
//! without an install record, and leftovers of interrupted downloads and installs. Every deletion is decided under the store's lock, and
//! nothing of a blob is deleted while another process holds its lock (a download or copy in
//! flight): that is skipped, for a later prune.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::Result;
use crate::layout::Layout;
use crate::profile::Profiles;
use crate::store::Store;

/// One thing deleted (or that would be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pruned {
    /// An old generation of a profile.
    Generation {
        /// The profile.
        profile: String,
        /// The generation.
        number: u64,
        /// The disk space its forest and manifests took.
        bytes: u64,
    },
    /// A store entry nothing holds.
    Package {
        /// `name@version`.
        id: String,
        /// Its size in bytes.
        bytes: u64,
    },
    /// A launcher work environment unused for the given time, or a leftover of the cache.
    Workenv {
        /// Where it was.
        path: PathBuf,
        /// The package it was extracted from, when known.
        package: Option<String>,
        /// Its size in bytes.
        bytes: u64,
    },
    /// A blob, orphaned store entry or leftover.
    Path {
        /// What.
        path: PathBuf,
        /// Its size in bytes.
        bytes: u64,
    },
}

impl Pruned {
    /// What it is, in words.
    pub fn label(&self) -> String {
        match self {
            Pruned::Generation {
                profile, number, ..
            } => format!("profile {profile} generation {number}"),
            Pruned::Package { id, .. } => id.clone(),
            Pruned::Path { path, .. } => path.display().to_string(),
            Pruned::Workenv {
                path,
                package: Some(package),
                ..
            } => format!("{} (work environment of {package})", path.display()),
            Pruned::Workenv { path, .. } => path.display().to_string(),
        }
    }

    /// Bytes freed: the disk space it took (allocated blocks, links not followed; see
    /// [`crate::fs::disk_usage`]).
    pub fn bytes(&self) -> u64 {
        match self {
            Pruned::Generation { bytes, .. }
            | Pruned::Package { bytes, .. }
            | Pruned::Path { bytes, .. }
            | Pruned::Workenv { bytes, .. } => *bytes,
        }
    }
}

/// Which launcher work environments go: those under `cache` unused for `unused_for`.
#[derive(Debug, Clone, Copy)]
pub struct Workenvs<'a> {
    /// The launcher's cache root (`LaunchSettings::cache_root`).
    pub cache: &'a Path,
    /// How long a work environment must have gone unused.
    pub unused_for: std::time::Duration,
}

/// Deletes (or with `dry_run` only lists) what nothing uses; `generations` keeps that many of
/// each profile's newest generations and collects the store entries the rest held; launcher
/// work environments unused for `workenvs.unused_for` (and not in use now) go too.
pub fn prune(
    layout: &Layout,
    generations: Option<usize>,
    workenvs: Workenvs<'_>,
    dry_run: bool,
) -> Result<Vec<Pruned>> {
    let store = Store::new(layout);
    let profiles = Profiles::new(layout);
    let mut pruned = Vec::new();
    let mut collected = BTreeSet::new();
    let mut deleted = Vec::new();
    if let Some(keep) = generations {
        deleted = profiles.prune_generations(keep, dry_run)?;
        pruned.extend(deleted.iter().map(|generation| Pruned::Generation {
            profile: generation.profile.clone(),
            number: generation.number,
            bytes: generation.bytes,
        }));
        // A dry run's generations are still there: leave them out as a real run would have.
        let roots = || -> Result<_> { Ok(profiles.roots(&deleted)?) };
        let mut measured = Ok(());
        store.collect(roots, dry_run, |id, entry| {
            let bytes = disk_usage(entry).unwrap_or_else(|error| {
                measured = Err(error);
                0
            });
            collected.insert(id.to_string());
            pruned.push(Pruned::Package {
                id: id.to_string(),
                bytes,
            });
        })?;
        measured?;
    }
    // A dry run's collected entries still have records: their blobs count as unreferenced,
    // as they will be once a real run removed them.
    let mut going = BTreeSet::new();
    store.remove_unreferenced_blobs(dry_run, &collected, |path, bytes| {
        going.insert(path.to_path_buf());
        pruned.push(Pruned::Path {
            path: path.to_path_buf(),
            bytes,
        });
    })?;
    super::run::prune_run_cache(layout, &going, dry_run, |path, bytes| {
        pruned.push(Pruned::Path {
            path: path.to_path_buf(),
            bytes,
        });
    })?;
    for path in super::source_build::stale_leftovers(layout)? {
        let bytes = disk_usage(&path).unwrap_or(0);
        if !dry_run {
            super::source_build::remove_leftover(&path).map_err(|source| {
                super::Error::Io(pandora_core::IoError {
                    action: "remove",
                    path: path.clone(),
                    source,
                })
            })?;
        }
        pruned.push(Pruned::Path { path, bytes });
    }
    let (_, orphans) = held_apart(layout, &profiles, &deleted, store.orphans()?)?;
    for path in orphans {
        pruned.push(Pruned::Path {
            bytes: disk_usage(&path)?,
            path: path.clone(),
        });
        if !dry_run {
            store.remove_orphan(&path)?;
        }
    }
    for item in crate::launcher::collect_unused(workenvs.cache, workenvs.unused_for, dry_run)? {
        pruned.push(Pruned::Workenv {
            path: item.path,
            package: item.package,
            bytes: item.bytes,
        });
    }
    pandora_core::events::Event::new("prune")
        .with("dry_run", dry_run)
        .with("items", pruned.len())
        .with("bytes", pruned.iter().map(Pruned::bytes).sum::<u64>())
        .emit();
    Ok(pruned)
}

/// Splits `orphans` (see [`Store::orphans`]) into the ids of store entries some generation
/// (but those in `excluding`) holds, and the rest. An entry without its record (deleted by
/// hand, say) that a generation holds is no orphan: its record is what is missing, which
/// reinstalling writes again.
pub(crate) fn held_apart(
    layout: &Layout,
    profiles: &Profiles,
    excluding: &[crate::profile::PrunedGeneration],
    orphans: Vec<PathBuf>,
) -> Result<(BTreeSet<String>, Vec<PathBuf>)> {
    let roots = profiles.roots(excluding)?;
    let store_dir = layout.store_dir();
    let entries_dir = layout.entries_dir();
    let mut held = BTreeSet::new();
    let mut rest = Vec::new();
    for path in orphans {
        let parent = path.parent();
        let of_a_package =
            parent == Some(store_dir.as_path()) || parent == Some(entries_dir.as_path());
        let id = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        match id.filter(|id| of_a_package && roots.contains(id)) {
            Some(id) => {
                held.insert(id);
            }
            None => rest.push(path),
        }
    }
    Ok((held, rest))
}

/// [`crate::fs::disk_usage`], naming the path on failure.
fn disk_usage(path: &Path) -> Result<u64> {
    crate::fs::disk_usage(path)
        .map_err(pandora_core::IoError::at("measure", path))
        .map_err(Into::into)
}
