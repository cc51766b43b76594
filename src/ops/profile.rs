//! Profile workflows that move `vir`: switching profiles and rolling back, each followed by the
//! `$HOME` links of the forest that became active; creating and deleting profiles.

use std::path::Path;

use std::collections::BTreeMap;

use super::activate::{check_trust, link_home};
use super::Result;
use crate::layout::Layout;
use crate::profile::{Generation, HomeLinks, ProfileError, Profiles, Target};
use crate::trust::Policy;

/// What `rollback` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    /// The active profile.
    pub profile: String,
    /// The generation that was current.
    pub from: u64,
    /// The generation now current (`from` when it already was).
    pub generation: u64,
    /// `$HOME` links made or left to the user.
    pub home: HomeLinks,
    /// What could not be finished after the rollback took effect.
    pub warnings: Vec<String>,
}

/// Another generation of the active profile becomes current (`target`: the next older, the
/// next newer, or one by number), if the trust policy accepts everything it holds (as
/// activation would). Generations are never deleted by this, so any can be returned to.
pub fn rollback(
    layout: &Layout,
    home: Option<&Path>,
    trust: &Policy,
    target: Target,
) -> Result<RolledBack> {
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let moved = profiles.move_checked(&profile, target, |generation| {
        check_trust(layout, &generation.members, trust)
    })?;
    pandora_core::events::Event::new("rollback")
        .with("profile", &profile)
        .with("from", moved.from)
        .with("generation", moved.to)
        .emit();
    let mut warnings = profiles.take_warnings();
    let home = link_home(layout, home, &profile, &mut warnings);
    Ok(RolledBack {
        profile,
        from: moved.from,
        generation: moved.to,
        home,
        warnings,
    })
}

/// What `switch` did.
#[derive(Debug)]
pub struct Switched {
    /// The `$HOME` links of the profile's forest.
    pub links: HomeLinks,
    /// What could not be finished after the switch took effect.
    pub warnings: Vec<String>,
    /// Whether the profile was the active one already (its links are made again all the same:
    /// that finishes a switch cut short).
    pub already_active: bool,
}

/// Makes `name` the active profile.
pub fn switch(
    layout: &Layout,
    home: Option<&Path>,
    name: &str,
    trust: &Policy,
) -> Result<Switched> {
    let profiles = Profiles::new(layout);
    let before = profiles.active().ok();
    profiles.switch_checked(name, |generation| {
        check_trust(layout, &generation.members, trust)
    })?;
    let already_active = before.as_deref() == Some(name);
    pandora_core::events::Event::new("switch")
        .with("from", before.unwrap_or_default())
        .with("profile", name)
        .emit();
    let mut warnings = profiles.take_warnings();
    let links = link_home(layout, home, name, &mut warnings);
    Ok(Switched {
        links,
        warnings,
        already_active,
    })
}

/// For a profile without a current generation: `Ok` when its creation was cut short before
/// any generation, else the error that says which generations it has and how to mend it.
pub fn never_finished(layout: &Layout, name: &str) -> Result<()> {
    Ok(Profiles::new(layout).never_finished(name)?)
}

/// A new profile, empty or a copy of `from`'s current generation.
pub fn create(layout: &Layout, name: &str, from: Option<&str>) -> Result<()> {
    Ok(Profiles::new(layout).create(name, from)?)
}

/// Deletes a profile and all its generations.
pub fn delete(layout: &Layout, name: &str) -> Result<()> {
    Ok(Profiles::new(layout).delete(name)?)
}

/// Every profile by name, with its current generation (none before its first).
pub type ProfileList = Vec<(String, Option<Generation>)>;

/// The active profile's name, and every profile with its current generation.
pub fn list(layout: &Layout) -> Result<(String, ProfileList)> {
    let profiles = Profiles::new(layout);
    let active = profiles.active()?;
    let mut listed = Vec::new();
    for name in profiles.list()? {
        // One without a current generation is listed as such (the command says why).
        let current = match profiles.current(&name) {
            Err(ProfileError::NoCurrent { .. }) => None,
            current => current?,
        };
        listed.push((name, current));
    }
    Ok((active, listed))
}

/// What one generation changed, package by package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// A package that joined (`name@version`).
    Added(String),
    /// A package that left (`name@version`).
    Removed(String),
    /// A package whose version changed.
    Replaced {
        /// Its name.
        name: String,
        /// The version before.
        from: String,
        /// The version after.
        to: String,
    },
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Changed::Added(id) => write!(f, "+ {id}"),
            Changed::Removed(id) => write!(f, "- {id}"),
            Changed::Replaced { name, from, to } => write!(f, "{name} {from} -> {to}"),
        }
    }
}

/// One generation in a profile's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The generation.
    pub generation: Generation,
    /// Whether it is the profile's current one.
    pub current: bool,
    /// The generation it was made from (what `changes` compares with), if any.
    pub base: Option<u64>,
    /// What it changed from `base` (everything it holds, for a first generation); `None` when
    /// the generation it was made from has been pruned, so what changed is unknown.
    pub changes: Option<Vec<Changed>>,
}

/// Every generation of `name` (default: the active profile), oldest first, with what each
/// changed from the generation it was made from and which one is current.
pub fn history(layout: &Layout, name: Option<&str>) -> Result<(String, Vec<HistoryEntry>)> {
    let profiles = Profiles::new(layout);
    let name = match name {
        Some(name) => name.to_string(),
        None => profiles.active()?,
    };
    let current = profiles.current(&name)?.map(|g| g.number);
    let generations = profiles.generations(&name)?;
    let by_number: BTreeMap<u64, &Generation> = generations.iter().map(|g| (g.number, g)).collect();
    let mut entries = Vec::new();
    for generation in &generations {
        // Manifests written before `parent` existed: the generation before it by number,
        // which is what it was made from unless a rollback came between.
        let base = generation.parent.or_else(|| {
            by_number
                .range(..generation.number)
                .next_back()
                .map(|(number, _)| *number)
        });
        let changes = match base {
            None => Some(changes(&[], &generation.members)),
            Some(base) => by_number
                .get(&base)
                .map(|before| changes(&before.members, &generation.members)),
        };
        entries.push(HistoryEntry {
            generation: generation.clone(),
            current: Some(generation.number) == current,
            base,
            changes,
        });
    }
    Ok((name, entries))
}

/// What changed from the members `before` to `after`: replaced versions, then removals, then
/// additions, each sorted by name.
pub fn changes(before: &[String], after: &[String]) -> Vec<Changed> {
    let split = |ids: &[String]| -> BTreeMap<String, String> {
        ids.iter()
            .filter_map(|id| pandora_core::id::split_id(id))
            .map(|(name, version)| (name.to_string(), version.to_string()))
            .collect()
    };
    let (before, after) = (split(before), split(after));
    let mut replaced = Vec::new();
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for (name, from) in &before {
        match after.get(name) {
            Some(to) if to != from => replaced.push(Changed::Replaced {
                name: name.clone(),
                from: from.clone(),
                to: to.clone(),
            }),
            Some(_) => {}
            None => removed.push(Changed::Removed(pandora_core::id::id(name, from))),
        }
    }
    for (name, version) in &after {
        if !before.contains_key(name) {
            added.push(Changed::Added(pandora_core::id::id(name, version)));
        }
    }
    replaced.into_iter().chain(removed).chain(added).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_replacements_removals_and_additions() {
        let before = ["hello@1.0.0".to_string(), "libgreet@1.0.0".to_string()];
        let after = ["hello@1.1.0".to_string(), "tool@2.0.0".to_string()];
        let shown: Vec<String> = changes(&before, &after)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            ["hello 1.0.0 -> 1.1.0", "- libgreet@1.0.0", "+ tool@2.0.0"]
        );
        assert!(changes(&after, &after).is_empty());
    }
}
