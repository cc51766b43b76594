//! Activating and deactivating installed packages in the active profile: one new generation,
//! then `$HOME/bin` and friends linked into `vir` where the user has nothing of their own.

use std::path::Path;

use super::{Error, Result};
use crate::activation::{apply, Applied, Change};
use crate::config::RegistriesFile;
use crate::layout::Layout;
use crate::profile::{link_user_dirs, HomeLinks, Prefer, Profiles};
use crate::store::Store;
use crate::trust::{Policy, Verdict};

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

/// The one rule every command uses to name an installed package: `NAME@VERSION` as given
/// (the command itself says, in its terms, if it is not installed); a bare `NAME` is the
/// version the active profile holds, else the only installed version, else an error listing
/// the installed versions.
pub fn installed_id(layout: &Layout, text: &str) -> Result<String> {
    if pandora_core::id::split_id(text).is_some() {
        return Ok(text.to_string());
    }
    let records = Store::new(layout).records()?;
    let versions: Vec<&crate::store::Record> = records
        .iter()
        .filter(|record| record.name == text)
        .collect();
    let profiles = Profiles::new(layout);
    let active = profiles.members(&profiles.active()?)?;
    if let Some(id) = versions
        .iter()
        .map(|record| record.id())
        .find(|id| active.contains(id))
    {
        return Ok(id);
    }
    match versions.as_slice() {
        [only] => Ok(only.id()),
        [] => Err(Error::refused(
            format!("{text} is not installed"),
            format!("pandora install {text}"),
        )),
        several => {
            let listed: Vec<String> = several.iter().map(|record| record.id()).collect();
            Err(Error::refused(
                format!(
                    "{text} is installed at {} versions and none is active: {}",
                    several.len(),
                    listed.join(", ")
                ),
                format!("name one: `{}`", listed[0]),
            ))
        }
    }
}

/// An active package whose version a change would replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The active `name@version`.
    pub old: String,
    /// The `name@version` that would take its place.
    pub new: String,
    /// The package whose pin brings `new`, if it is not itself one of those named.
    pub needed_by: Option<String>,
}

/// What activating some packages would do to the active profile, worked out without
/// changing anything, so it can be shown (and asked about) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    /// The active profile.
    pub profile: String,
    /// `name@version`s that would join (replacements included).
    pub joining: Vec<String>,
    /// Active versions that would be replaced.
    pub replaced: Vec<Replacement>,
}

impl Preview {
    /// Whether the profile would stay as it is.
    pub fn changes_nothing(&self) -> bool {
        self.joining.is_empty() && self.replaced.is_empty()
    }

    /// Replacements of packages that nobody named: the one rule is that these need a yes.
    pub fn unasked(&self) -> Vec<&Replacement> {
        self.replaced
            .iter()
            .filter(|replacement| replacement.needed_by.is_some())
            .collect()
    }
}

/// What activating `ids` (with everything they pin) would change in the active profile.
/// `pins` knows packages that are not installed yet (an install's plan); installed ones are
/// looked up in the store.
pub fn preview(
    layout: &Layout,
    ids: &[String],
    pins: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Result<Preview> {
    let store = Store::new(layout);
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let active = profiles.members(&profile)?;
    let mut preview = Preview {
        profile,
        ..Preview::default()
    };
    let named: Vec<&str> = ids.iter().map(|id| pandora_core::id::name_of(id)).collect();
    let mut pending: Vec<(String, Option<String>)> =
        ids.iter().rev().map(|id| (id.clone(), None)).collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some((id, parent)) = pending.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let name = pandora_core::id::name_of(&id);
        if !active.contains(&id) {
            preview.joining.push(id.clone());
            if let Some(old) = active
                .iter()
                .find(|member| pandora_core::id::name_of(member) == name)
            {
                preview.replaced.push(Replacement {
                    old: old.clone(),
                    new: id.clone(),
                    needed_by: parent.clone().filter(|_| !named.contains(&name)),
                });
            }
        }
        let dependencies = match pins(&id) {
            Some(dependencies) => dependencies,
            None => store
                .record(&id)?
                .map(|record| record.dependencies)
                .unwrap_or_default(),
        };
        for pin in dependencies.into_iter().rev() {
            pending.push((pin, Some(id.clone())));
        }
    }
    Ok(preview)
}

/// Makes `ids` (installed `name@version`s, with their dependencies) part of the active profile,
/// if the trust policy accepts their signers (as it did, or would have, at install).
pub fn activate(
    layout: &Layout,
    home: Option<&Path>,
    ids: &[String],
    placement: Placement,
    trust: &Policy,
) -> Result<ProfileChange> {
    check_trust(layout, ids, trust)?;
    let profile = Profiles::new(layout).active()?;
    let change = Change::Activate {
        ids,
        namespace: placement.namespace,
    };
    let description = format!("activated {}", ids.join(", "));
    let applied = apply(layout, &profile, change, placement.prefer, &description)?;
    finish(layout, home, profile, applied)
}

/// Refuses, under `PANDORA_REQUIRE_TRUSTED`, any of `ids` or their dependencies whose signer
/// the policy does not trust (a registry's configured keys vouch for what came from it).
pub(super) fn check_trust(layout: &Layout, ids: &[String], trust: &Policy) -> Result<()> {
    if !trust.requires_trusted() {
        return Ok(());
    }
    let store = Store::new(layout);
    let registries = RegistriesFile::load(&layout.registries_file())?;
    let mut pending: Vec<String> = ids.to_vec();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(id) = pending.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        // A missing record is the activation's own error to report, with its graph.
        let Some(record) = store.record(&id)? else {
            continue;
        };
        let vouched = record
            .registry
            .as_deref()
            .and_then(|name| registries.find(name).ok())
            .map_or(Vec::new(), |registry| registry.keys.clone());
        if trust.check(&record.public_key, &vouched) == Verdict::Refused {
            return Err(Error::refused(
                format!(
                    "{id} is signed by key {} ({}), which is not trusted, and PANDORA_REQUIRE_TRUSTED=1 requires trusted keys; the profile was not changed",
                    record.public_key,
                    record.public_key.fingerprint()
                ),
                format!(
                    "if you trust its publisher: `echo {} > $PANDORA_HOME/keys/trusted/NAME.pub`",
                    record.public_key
                ),
            ));
        }
        pending.extend(record.dependencies.iter().cloned());
    }
    Ok(())
}

/// Takes packages out of the active profile: by `NAME`, or by `NAME@VERSION` when the profile
/// holds exactly that version.
pub fn deactivate(layout: &Layout, home: Option<&Path>, names: &[String]) -> Result<ProfileChange> {
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let members = profiles.members(&profile)?;
    let names = names
        .iter()
        .map(|text| match pandora_core::id::split_id(text) {
            None => Ok(text.clone()),
            Some((name, _)) if members.contains(text) => Ok(name.to_string()),
            Some((name, _)) => {
                let held = members
                    .iter()
                    .find(|id| pandora_core::id::name_of(id) == name);
                Err(Error::refused(
                    match held {
                        Some(held) => format!("profile {profile} holds {held}, not {text}"),
                        None => format!("profile {profile} does not hold {name}"),
                    },
                    "`pandora list` shows what the profile holds",
                ))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let names = &names[..];
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
