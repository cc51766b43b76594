//! Profile workflows that move `vir`: switching profiles and rolling back, each followed by the
//! `$HOME` links of the forest that became active; creating and deleting profiles.

use std::path::Path;

use super::activate::{check_trust, link_home};
use super::Result;
use crate::layout::Layout;
use crate::profile::{Generation, HomeLinks, Profiles};
use crate::trust::Policy;

/// What `rollback` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    /// The active profile.
    pub profile: String,
    /// The generation now current.
    pub generation: u64,
    /// `$HOME` links made or left to the user.
    pub home: HomeLinks,
    /// What could not be finished after the rollback took effect.
    pub warnings: Vec<String>,
}

/// The active profile's previous generation becomes current, if the trust policy accepts
/// everything it holds (as activation would).
pub fn rollback(layout: &Layout, home: Option<&Path>, trust: &Policy) -> Result<RolledBack> {
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let generation = profiles.rollback_checked(&profile, |generation| {
        check_trust(layout, &generation.members, trust)
    })?;
    let mut warnings = profiles.take_warnings();
    let home = link_home(layout, home, &profile, &mut warnings);
    Ok(RolledBack {
        profile,
        generation,
        home,
        warnings,
    })
}

/// Makes `name` the active profile; returns the `$HOME` links of its forest and what could
/// not be finished after the switch took effect.
pub fn switch(
    layout: &Layout,
    home: Option<&Path>,
    name: &str,
    trust: &Policy,
) -> Result<(HomeLinks, Vec<String>)> {
    let profiles = Profiles::new(layout);
    profiles.switch_checked(name, |generation| {
        check_trust(layout, &generation.members, trust)
    })?;
    let mut warnings = profiles.take_warnings();
    let links = link_home(layout, home, name, &mut warnings);
    Ok((links, warnings))
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
        let current = profiles.current(&name)?;
        listed.push((name, current));
    }
    Ok((active, listed))
}

/// The current generation's number and every generation of `name` (default: the active
/// profile), oldest first.
pub fn history(layout: &Layout, name: Option<&str>) -> Result<(Option<u64>, Vec<Generation>)> {
    let profiles = Profiles::new(layout);
    let name = match name {
        Some(name) => name.to_string(),
        None => profiles.active()?,
    };
    let current = profiles.current(&name)?.map(|g| g.number);
    Ok((current, profiles.generations(&name)?))
}
