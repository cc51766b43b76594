//! Removing packages from the store: refused while something installed needs them (unless
//! forced); every profile holding them first gets a generation without them, so no active
//! link ever points at a store entry that is gone.

use super::{Error, Result};
use crate::activation::{apply, Applied, Change};
use crate::layout::Layout;
use crate::profile::{Prefer, Profiles};
use crate::store::{Store, StoreError};

/// Checks that `ids` can be removed: each installed, and (unless `force`) needed by nothing
/// that stays. Run before asking the user, so a refusal comes first.
pub fn check(layout: &Layout, ids: &[String], force: bool) -> Result<()> {
    // A package whose record is damaged can be removed. What it needs is written in that
    // record, so it holds nothing back: it is to be installed again or removed anyway.
    let (records, damaged) = Store::new(layout).readable_records()?;
    let is_damaged = |id: &String| {
        damaged
            .iter()
            .any(|error| matches!(error, StoreError::Record { id: damaged, .. } if damaged == id))
    };
    for id in ids {
        if !records.iter().any(|record| &record.id() == id) && !is_damaged(id) {
            return Err(Error::refused(
                format!("{id} is not installed"),
                "`pandora list` shows what is",
            ));
        }
        let dependents: Vec<String> = records
            .iter()
            .filter(|record| !ids.contains(&record.id()) && record.dependencies.contains(id))
            .map(|record| record.id())
            .collect();
        if !dependents.is_empty() && !force {
            return Err(Error::refused(
                format!("{id} is needed by {}", dependents.join(", ")),
                format!(
                    "remove them too (`pandora remove {} {id}`), or pass --force",
                    dependents.join(" ")
                ),
            ));
        }
    }
    Ok(())
}

/// What `remove` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// `(profile, change)` for each profile that held one of the packages.
    pub profiles: Vec<(String, Applied)>,
    /// The `name@version`s removed from the store.
    pub removed: Vec<String>,
    /// How to undo it: `pandora install` arguments that bring the packages back (`name@version`
    /// for what came from a registry, the file for what was installed from one), and the
    /// generation of the active profile that held them, to roll back to (`None` when the active
    /// profile did not hold them).
    pub restore: Option<Restore>,
    /// What the packages' `warn` pre-remove hooks said: `(name@version, message)`.
    pub hook_messages: Vec<(String, String)>,
    /// What was moved out of the packages' store trees to `rescue/`, one line each.
    pub rescued: Vec<String>,
}

/// How to undo a removal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restore {
    /// What `pandora install --no-activate` takes to put the packages back in the store.
    pub reinstall: Vec<String>,
    /// The active profile's generation that held them, if it did.
    pub generation: Option<u64>,
    /// Other profiles whose current generation held them: `(profile, generation)`.
    pub elsewhere: Vec<(String, u64)>,
}

impl Restore {
    /// The command that undoes the removal.
    pub fn command(&self) -> String {
        crate::profile::restore_command(&self.reinstall, self.generation)
    }
}

/// The profiles whose current generation holds one of `ids`, for the question before removing.
pub fn holding_profiles(layout: &Layout, ids: &[String]) -> Result<Vec<String>> {
    let profiles = Profiles::new(layout);
    let mut holding = Vec::new();
    for profile in profiles.list()? {
        if profiles
            .current(&profile)?
            .is_some_and(|generation| generation.members.iter().any(|id| ids.contains(id)))
        {
            holding.push(profile);
        }
    }
    Ok(holding)
}

/// Takes `ids` out of every profile, then out of the store. Call [`check`] first.
pub fn remove(layout: &Layout, ids: &[String], run_hooks: bool) -> Result<Removed> {
    let mut report = Removed::default();
    if run_hooks {
        // Before anything changes: a failing hook leaves everything installed and active.
        let store = Store::new(layout);
        for id in ids {
            for message in store.run_remove_hooks(id)? {
                report.hook_messages.push((id.clone(), message));
            }
        }
    }
    let profiles = Profiles::new(layout);
    let active = profiles.active()?;
    let mut held = None;
    let mut elsewhere = Vec::new();
    for profile in profiles.list()? {
        let Some(current) = profiles
            .current(&profile)?
            .filter(|generation| generation.members.iter().any(|id| ids.contains(id)))
        else {
            continue;
        };
        if profile == active {
            held = Some(current.number);
        } else {
            elsewhere.push((profile.clone(), current.number));
        }
        let description = format!("removed {}", ids.join(", "));
        let applied = apply(
            layout,
            &profile,
            Change::Forget(ids),
            Prefer::Neither,
            &description,
        )?;
        report.profiles.push((profile, applied));
    }
    let store = Store::new(layout);
    let mut reinstall = Vec::new();
    for id in ids {
        let (record, rescued) = store.remove(id)?;
        report.rescued.extend(rescued);
        pandora_core::events::Event::new("remove")
            .with("id", id)
            .emit();
        report.removed.push(id.clone());
        reinstall.push(match record {
            Some(record) if record.registry.is_none() && !record.source.is_empty() => record.source,
            _ => id.clone(),
        });
    }
    report.restore = (!reinstall.is_empty()).then_some(Restore {
        reinstall,
        generation: held,
        elsewhere,
    });
    Ok(report)
}
