//! What needs what: `why` (the chains from what the user asked for down to a package),
//! `autoremove` (active dependencies nothing asked for needs any more), `owner` (which package
//! a file comes from) and `outdated` (active packages a registry has newer versions of).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::activate::{finish, ProfileChange};
use super::registries::{self, Registries};
use super::{Error, Result};
use crate::activation::{apply, members, Change};
use crate::layout::Layout;
use crate::profile::{Contents, Prefer, Profiles};
use crate::registry::client::Freshness;
use crate::store::{Record, Store};
use pandora_core::id::compare_versions;

/// The active profile's members and which of them the user asked for.
struct Active {
    profile: String,
    members: Vec<Record>,
    requested: BTreeSet<String>,
}

fn active(layout: &Layout) -> Result<Active> {
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let Some(generation) = profiles.current(&profile)? else {
        return Ok(Active {
            profile,
            members: Vec::new(),
            requested: BTreeSet::new(),
        });
    };
    let records = members(&Store::new(layout), &profile, &generation)?;
    let contents = Contents::of(&generation, records);
    Ok(Active {
        profile,
        requested: contents.requested,
        members: contents.members,
    })
}

/// Why a package is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    /// `name@version`.
    pub id: String,
    /// The active profile.
    pub profile: String,
    /// Whether the active profile holds it.
    pub active: bool,
    /// Whether the user asked for it (rather than it coming as a dependency).
    pub requested: bool,
    /// Chains from a package the user asked for down to it, through active pins.
    pub chains: Vec<Vec<String>>,
    /// Installed packages outside the profile that pin it.
    pub pinned_by_inactive: Vec<String>,
}

/// Why `id` (an installed `name@version`) is installed and active.
pub fn why(layout: &Layout, id: &str) -> Result<Why> {
    let store = Store::new(layout);
    if store.record(id)?.is_none() {
        return Err(Error::refused(
            format!("{id} is not installed"),
            "`pandora list --store` shows what is",
        ));
    }
    let active = active(layout)?;
    let is_active = active.members.iter().any(|record| record.id() == id);
    let mut chains = Vec::new();
    for root in active
        .members
        .iter()
        .filter(|record| active.requested.contains(&record.name))
    {
        let mut path = vec![root.id()];
        chains_to(&active.members, id, &mut path, &mut chains);
    }
    chains.retain(|chain| chain.len() > 1 || !is_active || chain[0] == id);
    let pinned_by_inactive = store
        .records()?
        .into_iter()
        .filter(|record| !active.members.iter().any(|m| m.id() == record.id()))
        .filter(|record| record.dependencies.iter().any(|pin| pin == id))
        .map(|record| record.id())
        .collect();
    Ok(Why {
        id: id.to_string(),
        profile: active.profile,
        active: is_active,
        requested: is_active && active.requested.contains(pandora_core::id::name_of(id)),
        chains,
        pinned_by_inactive,
    })
}

/// Every chain of pins from the last element of `path` down to `target`.
fn chains_to(members: &[Record], target: &str, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    const MOST: usize = 32;
    let Some(last) = path.last().cloned() else {
        return;
    };
    if last == target {
        out.push(path.clone());
        return;
    }
    let Some(record) = members.iter().find(|record| record.id() == last) else {
        return;
    };
    for pin in &record.dependencies {
        if out.len() >= MOST || path.contains(pin) {
            continue;
        }
        path.push(pin.clone());
        chains_to(members, target, path, out);
        path.pop();
    }
}

/// Active packages nothing the user asked for needs: neither asked for themselves nor pinned,
/// directly or not, by something that was. In profile order.
pub fn unneeded(layout: &Layout) -> Result<(String, Vec<String>)> {
    let active = active(layout)?;
    let mut needed = BTreeSet::new();
    let mut pending: Vec<String> = active
        .members
        .iter()
        .filter(|record| active.requested.contains(&record.name))
        .map(Record::id)
        .collect();
    while let Some(id) = pending.pop() {
        if !needed.insert(id.clone()) {
            continue;
        }
        if let Some(record) = active.members.iter().find(|record| record.id() == id) {
            pending.extend(record.dependencies.iter().cloned());
        }
    }
    let unneeded = active
        .members
        .iter()
        .map(Record::id)
        .filter(|id| !needed.contains(id))
        .collect();
    Ok((active.profile, unneeded))
}

/// Takes `ids` (what [`unneeded`] found, shown to the user) out of the active profile as one
/// new generation; refused if the profile changed meanwhile so that one of them is needed.
pub fn autoremove(layout: &Layout, home: Option<&Path>, ids: &[String]) -> Result<ProfileChange> {
    let (profile, still) = unneeded(layout)?;
    if let Some(id) = ids.iter().find(|id| !still.contains(id)) {
        return Err(Error::refused(
            format!("{id} is needed again: the profile changed meanwhile"),
            "run `pandora autoremove` again",
        ));
    }
    let names: Vec<String> = ids
        .iter()
        .map(|id| pandora_core::id::name_of(id).to_string())
        .collect();
    let description = format!("autoremoved {}", ids.join(", "));
    let applied = apply(
        layout,
        &profile,
        Change::Deactivate(&names),
        Prefer::Neither,
        &description,
    )?;
    finish(layout, home, profile, applied)
}

/// Which package a file belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `name@version`.
    pub id: String,
    /// The file inside the package.
    pub file: String,
    /// Whether the active profile holds the package.
    pub active: bool,
}

/// The installed package providing `path`: a path into `vir`, `$HOME/bin` or the store (links
/// followed), or a bare command name, looked up in the active profile's `bin/`.
pub fn owner(layout: &Layout, path: &Path) -> Result<Owner> {
    let command = path.components().count() == 1 && !path.exists();
    let candidate: PathBuf = if command {
        layout.vir().join("bin").join(path)
    } else {
        path.to_path_buf()
    };
    if command && candidate.symlink_metadata().is_err() {
        return Err(Error::refused(
            format!(
                "no file `{}` here, and no command `{}` in the active profile",
                path.display(),
                path.display()
            ),
            "`pandora list` shows the active packages; give a path to look one up elsewhere",
        ));
    }
    let resolved = fs_err::canonicalize(&candidate).map_err(|source| {
        Error::Io(pandora_core::IoError {
            action: "find",
            path: candidate.clone(),
            source,
        })
    })?;
    let store_dir = fs_err::canonicalize(layout.store_dir()).map_err(|source| {
        Error::Io(pandora_core::IoError {
            action: "read",
            path: layout.store_dir(),
            source,
        })
    })?;
    let not_ours = || {
        Error::refused(
            format!(
                "{} is not a file of any installed package ({})",
                path.display(),
                resolved.display()
            ),
            "`pandora list` shows the active packages; `pandora owner` takes a path into the profile or the store",
        )
    };
    // An entry point (`entries/<id>/NAME`) is the package's `bin/NAME`.
    let entries_dir = fs_err::canonicalize(layout.entries_dir()).ok();
    let (inside, entry_point) = match entries_dir
        .as_ref()
        .and_then(|entries| resolved.strip_prefix(entries).ok())
    {
        Some(inside) => (inside, true),
        None => (
            resolved.strip_prefix(&store_dir).map_err(|_| not_ours())?,
            false,
        ),
    };
    let mut parts = inside.components();
    let id = parts
        .next()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .filter(|id| pandora_core::id::split_id(id).is_some())
        .ok_or_else(not_ours)?;
    if Store::new(layout).record(&id)?.is_none() {
        return Err(not_ours());
    }
    let rest = parts.as_path().display().to_string();
    let file = if entry_point {
        format!("bin/{rest}")
    } else {
        rest
    };
    let profiles = Profiles::new(layout);
    let active = profiles.members(&profiles.active()?)?.contains(&id);
    Ok(Owner { id, file, active })
}

/// An active package a registry has a newer version of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outdated {
    /// The active `name@version`.
    pub id: String,
    /// The newest version offered that this machine can install (not yanked, built for it; not
    /// deprecated, unless all are).
    pub latest: String,
    /// The registry offering it.
    pub registry: String,
    /// Whether the user asked for it (else it is a dependency, which follows its dependents'
    /// pins).
    pub requested: bool,
}

/// The newest version of `package` this machine can install: not yanked, with a file for its
/// platform, and not deprecated unless every such version is (the index's `latest` may be
/// built for other platforms only).
fn newest_here(package: &crate::registry::index::IndexPackage) -> Option<String> {
    let here = crate::format::platform::Platform::current();
    let installable: Vec<_> = package
        .versions
        .iter()
        .rev()
        .filter(|version| !version.yanked && version.file_for(&here).is_ok())
        .collect();
    installable
        .iter()
        .find(|version| !version.deprecated)
        .or(installable.first())
        .map(|version| version.version.clone())
}

/// The active packages the registries (highest priority first) offer newer versions of, and
/// the registries that could not be read.
pub fn outdated(layout: &Layout, freshness: Freshness) -> Result<(Vec<Outdated>, Registries)> {
    let active = active(layout)?;
    let registries = registries::read(layout, freshness)?;
    if registries.loaded.is_empty() && !registries.failed.is_empty() {
        return Err(registries.none_readable());
    }
    let mut found = Vec::new();
    for record in &active.members {
        let offered = registries.loaded.iter().find_map(|loaded| {
            loaded
                .index
                .index
                .package(&record.name)
                .and_then(newest_here)
                .map(|latest| (loaded.configured.name.clone(), latest))
        });
        if let Some((registry, latest)) = offered {
            if compare_versions(&latest, &record.version).is_gt() {
                found.push(Outdated {
                    id: record.id(),
                    latest,
                    registry,
                    requested: active.requested.contains(&record.name),
                });
            }
        }
    }
    found.sort_by(|a: &Outdated, b: &Outdated| a.id.cmp(&b.id));
    Ok((found, registries))
}
