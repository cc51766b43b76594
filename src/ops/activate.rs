//! Activating and deactivating installed packages in the active profile: one new generation,
//! then `$HOME/bin` and friends linked into `vir` where the user has nothing of their own.

use std::path::Path;

use super::{Error, Result};
use crate::activation::{apply, Applied, Change};
use crate::layout::Layout;
use crate::profile::{link_user_dirs, HomeLinks, Prefer, Profiles};
use crate::store::{newest, Store};

/// What a change to a profile did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChange {
    /// The profile changed.
    pub profile: String,
    /// Its new generation and who joined and left.
    pub applied: Applied,
    /// `$HOME` links made or left to the user (only when the active profile changed).
    pub home: HomeLinks,
    /// What could not be finished after the change took effect: it stands, and the command
    /// succeeds with these warnings.
    pub warnings: Vec<String>,
}

/// How activated packages are laid out.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// `TOP/NAME-VERSION/...` instead of `TOP/...`.
    pub namespace: bool,
    /// Which side wins a path both claim.
    pub prefer: Prefer,
}

/// `NAME@VERSION` as given, or for a bare `NAME` its newest installed version.
pub fn installed_id(layout: &Layout, text: &str) -> Result<String> {
    if text.contains('@') {
        return Ok(text.to_string());
    }
    let records = Store::new(layout).records()?;
    match newest(&records, |record| record.name == text) {
        Some(record) => Ok(record.id()),
        None => Err(Error::refused(
            format!("no version of {text} is installed"),
            format!("pandora install {text}"),
        )),
    }
}

/// Makes `ids` (installed `name@version`s, with their dependencies) part of the active profile.
pub fn activate(
    layout: &Layout,
    home: Option<&Path>,
    ids: &[String],
    placement: Placement,
) -> Result<ProfileChange> {
    let profile = Profiles::new(layout).active()?;
    let change = Change::Activate {
        ids,
        namespace: placement.namespace,
    };
    let description = format!("activated {}", ids.join(", "));
    let applied = apply(layout, &profile, change, placement.prefer, &description)?;
    finish(layout, home, profile, applied)
}

/// Takes packages (by name) out of the active profile.
pub fn deactivate(layout: &Layout, home: Option<&Path>, names: &[String]) -> Result<ProfileChange> {
    let profile = Profiles::new(layout).active()?;
    let description = format!("deactivated {}", names.join(", "));
    let applied = apply(
        layout,
        &profile,
        Change::Deactivate(names),
        Prefer::Neither,
        &description,
    )?;
    finish(layout, home, profile, applied)
}

/// Links `$HOME` into the active forest when `profile` is the active one. The change is
/// committed already, so nothing here can fail it: problems become warnings.
pub(super) fn finish(
    layout: &Layout,
    home: Option<&Path>,
    profile: String,
    mut applied: Applied,
) -> Result<ProfileChange> {
    let mut warnings = std::mem::take(&mut applied.warnings);
    let home = link_home(layout, home, &profile, &mut warnings);
    Ok(ProfileChange {
        profile,
        applied,
        home,
        warnings,
    })
}

/// `$HOME` links for the active forest, if `profile` is active and there is a `$HOME`; a
/// failure (a read-only or full `$HOME`) is added to `warnings`.
pub(super) fn link_home(
    layout: &Layout,
    home: Option<&Path>,
    profile: &str,
    warnings: &mut Vec<String>,
) -> HomeLinks {
    let Some(home) = home else {
        return HomeLinks::default();
    };
    if !Profiles::new(layout)
        .active()
        .is_ok_and(|active| active == profile)
    {
        return HomeLinks::default();
    }
    link_user_dirs(home, &layout.vir()).unwrap_or_else(|error| {
        warnings.push(format!(
            "the profile changed, but {} could not be linked to it: {}",
            home.display(),
            pandora_core::error::chain(&error)
        ));
        HomeLinks::default()
    })
}
