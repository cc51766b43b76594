//! Activating and deactivating installed packages in the active profile: one new generation,
//! then `$HOME/bin` and friends linked into `vir` where the user has nothing of their own.

use std::path::Path;

use super::{Error, Result};
use crate::activation::{apply, apply_to, check_pins, Applied, Change, Pinned};
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
    /// Whether `vir` is missing although the profile has a generation.
    pub unlinked: bool,
}

impl Preview {
    /// Whether the profile would stay as it is (and `vir` leads to it: an interrupted command
    /// may have left it unmade, which activating finishes).
    pub fn changes_nothing(&self) -> bool {
        self.joining.is_empty() && self.replaced.is_empty() && !self.unlinked
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
    let known = KnownPins {
        store: &store,
        planned: pins,
        recorded: Default::default(),
    };
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let active = profiles.members(&profile)?;
    let generation = profiles.current(&profile)?.map(|current| current.number);
    let mut preview = Preview {
        profile,
        unlinked: generation.is_some() && layout.vir().symlink_metadata().is_err(),
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
        let dependencies = known.of(&id)?;
        for pin in dependencies.into_iter().rev() {
            pending.push((pin, Some(id.clone())));
        }
    }
    check_preview(&store, &known, &active, ids, &preview)?;
    Ok(preview)
}

/// Every package's pins as a preview looks them up, each once (a preview walks the graph
/// three times).
struct KnownPins<'a> {
    store: &'a Store,
    /// A plan's packages, not installed yet.
    planned: &'a dyn Fn(&str) -> Option<Vec<String>>,
    /// Installed packages' pins, from their records.
    recorded: std::cell::RefCell<std::collections::HashMap<String, Vec<String>>>,
}

impl KnownPins<'_> {
    /// The pins of `id`: from the plan, else its install record (none if not installed).
    fn of(&self, id: &str) -> Result<Vec<String>> {
        if let Some(dependencies) = (self.planned)(id) {
            return Ok(dependencies);
        }
        if let Some(dependencies) = self.recorded.borrow().get(id) {
            return Ok(dependencies.clone());
        }
        let dependencies = self
            .store
            .record(id)?
            .map(|record| record.dependencies)
            .unwrap_or_default();
        self.recorded
            .borrow_mut()
            .insert(id.to_string(), dependencies.clone());
        Ok(dependencies)
    }
}

/// Refuses, before anything is asked or downloaded, a change the activation itself would
/// refuse, with the same error: two versions of one package, or a package left without the
/// exact version it pins. The members are put in the order activation puts them: what stays,
/// then what joins, dependencies first.
fn check_preview(
    store: &Store,
    known: &KnownPins<'_>,
    active: &[String],
    ids: &[String],
    preview: &Preview,
) -> Result<()> {
    let mut joining: Vec<String> = Vec::new();
    for id in ids {
        post_order(known, id, &mut Vec::new(), &mut joining)?;
    }
    for (index, id) in joining.iter().enumerate() {
        let name = pandora_core::id::name_of(id);
        if let Some(other) = joining[..index]
            .iter()
            .find(|other| pandora_core::id::name_of(other) == name)
        {
            return Err(crate::activation::ActivationError::TwoVersions {
                first: other.clone(),
                second: id.clone(),
            }
            .into());
        }
    }
    let mut members: Vec<Pinned> = Vec::new();
    let names: Vec<&str> = joining
        .iter()
        .map(|id| pandora_core::id::name_of(id))
        .collect();
    for id in active
        .iter()
        .filter(|id| !names.contains(&pandora_core::id::name_of(id)))
        .chain(&joining)
    {
        members.push(Pinned {
            id: id.clone(),
            name: pandora_core::id::name_of(id).to_string(),
            dependencies: known.of(id)?,
        });
    }
    check_pins(store, &members, &preview.profile, ids, &joining, &[])?;
    Ok(())
}

/// `id` after everything it pins (depth first, pins in sorted order), once each, as
/// activation collects a closure.
fn post_order(
    known: &KnownPins<'_>,
    id: &str,
    path: &mut Vec<String>,
    out: &mut Vec<String>,
) -> Result<()> {
    if out.iter().any(|seen| seen == id) || path.iter().any(|on| on == id) {
        return Ok(());
    }
    let mut dependencies = known.of(id)?;
    dependencies.sort();
    path.push(id.to_string());
    for pin in &dependencies {
        post_order(known, pin, path, out)?;
    }
    path.pop();
    out.push(id.to_string());
    Ok(())
}

/// Makes `ids` (installed `name@version`s, with their dependencies) part of the active profile,
/// if the trust policy accepts their signers (as it did, or would have, at install).
///
/// `agreed` is the preview the user was shown and agreed to: the change is made only if the
/// profile is still the one it was made against (same profile active, same generation), so a
/// concurrent change can never slip an unseen replacement into a yes.
pub fn activate(
    layout: &Layout,
    home: Option<&Path>,
    ids: &[String],
    placement: Placement,
    trust: &Policy,
    agreed: Option<&Preview>,
) -> Result<ProfileChange> {
    check_trust(layout, ids, trust)?;
    let profile = Profiles::new(layout).active()?;
    if let Some(agreed) = agreed.filter(|agreed| agreed.profile != profile) {
        return Err(Error::refused(
            format!(
                "the active profile changed from {} to {profile} while the plan was being agreed to; nothing was activated",
                agreed.profile
            ),
            "run the command again to see the new plan",
        ));
    }
    let change = Change::Activate {
        ids,
        namespace: placement.namespace,
    };
    let description = format!("activated {}", ids.join(", "));
    let accepted: Option<Vec<(String, String)>> = agreed.map(|agreed| {
        agreed
            .replaced
            .iter()
            .map(|replacement| (replacement.old.clone(), replacement.new.clone()))
            .collect()
    });
    let applied = apply_to(
        layout,
        &profile,
        change,
        placement.prefer,
        &description,
        accepted.as_deref(),
    )?;
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
