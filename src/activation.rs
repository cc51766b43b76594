//! What a profile holds, decided from install records: activating a package brings its exact
//! dependencies along, and no change may leave an active package without the version of a
//! dependency it pins. A refusal shows the minimal dependency graph with the offending package
//! marked, and the command that fixes it. The change itself is one new generation.

use std::collections::{BTreeMap, BTreeSet};

use crate::graph::explain;
use crate::layout::Layout;
use crate::profile::{Contents, Generation, Lockfile, Prefer, ProfileError, Profiles};
use crate::store::{newest, Record, Store, StoreError};

/// Why a profile was left as it was.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// A package (or a dependency of one) that is not in the store.
    #[error("{id} is not installed{}", explain(.paths))]
    NotInstalled {
        /// `name@version`.
        id: String,
        /// How it was reached, from the profile down, the last element marked.
        paths: Vec<Vec<String>>,
    },
    /// An active package would lose the version of a dependency it pins.
    #[error("{}", .0)]
    Broken(Box<Broken>),
    /// The profile changed between the plan the user agreed to and the change.
    #[error("profile {profile} changed while the plan was being agreed to: it would now replace {old} with {new}, which was not in the plan; nothing was activated")]
    Moved {
        /// The profile.
        profile: String,
        /// The active version that would be replaced.
        old: String,
        /// What would replace it.
        new: String,
    },
    /// One change would bring two versions of one package.
    #[error(
        "{first} and {second} cannot both be active: a profile holds one version of a package"
    )]
    TwoVersions {
        /// One `name@version`.
        first: String,
        /// The other.
        second: String,
    },
    /// `deactivate` of a package the profile does not hold.
    #[error("profile {profile} does not hold {name}")]
    NotActive {
        /// The profile.
        profile: String,
        /// The package name.
        name: String,
    },
    /// A profile that names a package the store no longer has.
    #[error("profile {profile} holds {id}, which is no longer in the store")]
    MemberGone {
        /// The profile.
        profile: String,
        /// `name@version`.
        id: String,
    },
    /// The profile refused.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A package left without the exact version of a dependency it pins.
#[derive(Debug, thiserror::Error)]
#[error("{dependent} needs {needs}, but profile {profile} would have {}{}", .found.as_deref().unwrap_or("no version of it"), explain(.paths))]
pub struct Broken {
    /// The profile.
    pub profile: String,
    /// `name@version` of the package that would break.
    pub dependent: String,
    /// The pin it has.
    pub needs: String,
    /// What the profile would hold instead.
    pub found: Option<String>,
    /// The paths to both, from the profile down.
    pub paths: Vec<Vec<String>>,
    /// The command that fixes it.
    pub fix: String,
}

impl pandora_core::Hint for ActivationError {
    fn hint(&self) -> Option<String> {
        match self {
            ActivationError::NotInstalled { id, .. } => Some(format!("pandora install {id}")),
            ActivationError::Broken(broken) => Some(broken.fix.clone()),
            ActivationError::Moved { .. } => Some(
                "another command changed the profile: run this one again to see the new plan"
                    .into(),
            ),
            ActivationError::TwoVersions { second, .. } => Some(format!(
                "activate one of them (`pandora activate {second}`); both can stay installed"
            )),
            ActivationError::NotActive { .. } => {
                Some("`pandora list --installed` shows what is active".into())
            }
            ActivationError::MemberGone { id, .. } => Some(format!("pandora install {id}")),
            ActivationError::Profile(error) => error.hint(),
            ActivationError::Store(error) => error.hint(),
        }
    }
}

/// A change to a profile.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// Make these `name@version`s (and their dependencies) part of it, replacing other versions
    /// of the same names; `namespace` installs them as `TOP/NAME-VERSION/...`.
    Activate {
        /// The packages.
        ids: &'a [String],
        /// Whether to namespace them.
        namespace: bool,
    },
    /// Take these package names out of it.
    Deactivate(&'a [String]),
    /// Take these `name@version`s out because they are leaving the store; dependents that
    /// pinned them are left (`remove --force` was asked for).
    Forget(&'a [String]),
    /// Hold exactly what a lockfile lists, laid out as it says.
    Lock(&'a Lockfile),
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The profile's new generation.
    pub generation: u64,
    /// `name@version`s that joined.
    pub added: Vec<String>,
    /// `name@version`s that left.
    pub removed: Vec<String>,
    /// Whether the generation is a new one (the same members count as a change when one of
    /// them was reinstalled from other bytes).
    pub new_generation: bool,
    /// What could not be finished after the generation became current (it stands).
    pub warnings: Vec<String>,
}

/// Applies `change` to `profile` as one new generation (under the profile lock, so a concurrent
/// change is neither lost nor interleaved).
pub fn apply(
    layout: &Layout,
    profile: &str,
    change: Change<'_>,
    prefer: Prefer,
    description: &str,
) -> Result<Applied, ActivationError> {
    apply_to(layout, profile, change, prefer, description, None)
}

/// [`apply`], refused if, with the lock held, the change would replace an active version
/// (`old`, `new` `name@version`s) that is not among `accepted`: what the user agreed to was
/// worked out before, and another command may have changed the profile since.
pub fn apply_to(
    layout: &Layout,
    profile: &str,
    change: Change<'_>,
    prefer: Prefer,
    description: &str,
    accepted: Option<&[(String, String)]>,
) -> Result<Applied, ActivationError> {
    let store = Store::new(layout);
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut previous = None;
    let profiles = Profiles::new(layout);
    // What is being forgotten is not needed: a member whose record is damaged can go.
    let forgetting: Vec<String> = match &change {
        Change::Forget(ids) => ids.to_vec(),
        _ => Vec::new(),
    };
    let generation = profiles.update(profile, prefer, |current| {
        previous = current.map(|generation| generation.number);
        let mut contents = match current {
            Some(generation) => Contents::of(
                generation,
                members_but(&store, profile, generation, &forgetting)?,
            ),
            None => Contents::default(),
        };
        before = current.map_or_else(Vec::new, |generation| generation.members.clone());
        change_contents(&store, profile, change, &mut contents)?;
        contents.description = description.to_string();
        after = contents.members.iter().map(Record::id).collect();
        if let Some(accepted) = accepted {
            for new in after.iter().filter(|id| !before.contains(id)) {
                let name = pandora_core::id::name_of(new);
                let Some(old) = before
                    .iter()
                    .find(|id| pandora_core::id::name_of(id) == name)
                else {
                    continue;
                };
                if !accepted.iter().any(|(a, b)| a == old && b == new) {
                    return Err(ActivationError::Moved {
                        profile: profile.to_string(),
                        old: old.clone(),
                        new: new.clone(),
                    });
                }
            }
        }
        Ok::<_, ActivationError>(contents)
    })?;
    let added: Vec<String> = after
        .iter()
        .filter(|id| !before.contains(id))
        .cloned()
        .collect();
    let removed: Vec<String> = before
        .iter()
        .filter(|id| !after.contains(id))
        .cloned()
        .collect();
    pandora_core::events::Event::new("activate")
        .with("profile", profile)
        .with("generation", generation)
        .with("added", added.join(","))
        .with("removed", removed.join(","))
        .emit();
    Ok(Applied {
        generation,
        new_generation: previous != Some(generation),
        added: after
            .iter()
            .filter(|id| !before.contains(id))
            .cloned()
            .collect(),
        removed: before
            .iter()
            .filter(|id| !after.contains(id))
            .cloned()
            .collect(),
        warnings: profiles.take_warnings(),
    })
}

/// The install records of `generation`'s members, in precedence order.
pub fn members(
    store: &Store,
    profile: &str,
    generation: &Generation,
) -> Result<Vec<Record>, ActivationError> {
    members_but(store, profile, generation, &[])
}

/// [`members`], leaving out those of `forgetting` whose records are damaged.
fn members_but(
    store: &Store,
    profile: &str,
    generation: &Generation,
    forgetting: &[String],
) -> Result<Vec<Record>, ActivationError> {
    let mut records = Vec::with_capacity(generation.members.len());
    for id in &generation.members {
        match store.record(id) {
            Ok(Some(record)) => records.push(record),
            Ok(None) => {
                return Err(ActivationError::MemberGone {
                    profile: profile.to_string(),
                    id: id.clone(),
                })
            }
            Err(StoreError::Record { .. }) if forgetting.contains(id) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(records)
}

fn change_contents(
    store: &Store,
    profile: &str,
    change: Change<'_>,
    contents: &mut Contents,
) -> Result<(), ActivationError> {
    let root = format!("profile {profile}");
    match change {
        Change::Activate { ids, namespace } => {
            let mut closure = Vec::new();
            let mut seen = BTreeSet::new();
            for id in ids {
                collect(store, id, &mut vec![root.clone()], &mut seen, &mut closure)?;
            }
            // A profile holds one version of a name: two in one change is refused, whatever
            // asked for them (two files, a pin, a name given twice).
            for (index, record) in closure.iter().enumerate() {
                if let Some(other) = closure[..index].iter().find(|o| o.name == record.name) {
                    return Err(ActivationError::TwoVersions {
                        first: other.id(),
                        second: record.id(),
                    });
                }
            }
            let names: BTreeSet<&str> = closure.iter().map(|r| r.name.as_str()).collect();
            contents
                .members
                .retain(|m| !names.contains(m.name.as_str()));
            for id in ids {
                let name = pandora_core::id::name_of(id).to_string();
                if namespace {
                    contents.namespaced.insert(name);
                } else {
                    contents.namespaced.remove(&name);
                }
            }
            let incoming: Vec<String> = closure.iter().map(Record::id).collect();
            contents.members.extend(closure);
            contents.requested.extend(
                ids.iter()
                    .map(|id| pandora_core::id::name_of(id).to_string()),
            );
            let pinned: Vec<Pinned> = contents.members.iter().map(Pinned::from).collect();
            check_pins(store, &pinned, profile, ids, &incoming, &[])
        }
        Change::Deactivate(names) => {
            for name in names {
                if !contents.members.iter().any(|m| &m.name == name) {
                    return Err(ActivationError::NotActive {
                        profile: profile.to_string(),
                        name: name.clone(),
                    });
                }
            }
            contents.members.retain(|m| !names.contains(&m.name));
            contents.requested.retain(|name| !names.contains(name));
            check(store, &contents.members, profile, &[], names)
        }
        Change::Forget(ids) => {
            contents.members.retain(|m| !ids.contains(&m.id()));
            Ok(())
        }
        Change::Lock(lockfile) => {
            contents.members = lockfile
                .packages
                .iter()
                .map(|locked| {
                    store
                        .record(&locked.id())?
                        .ok_or_else(|| ActivationError::NotInstalled {
                            id: locked.id(),
                            paths: vec![vec![
                                root.clone(),
                                format!("{} ✗ not installed", locked.id()),
                            ]],
                        })
                })
                .collect::<Result<_, _>>()?;
            contents.namespaced = lockfile.namespaced.clone();
            contents.overrides = lockfile.overrides.clone();
            contents.requested = crate::profile::roots(&contents.members);
            check(store, &contents.members, profile, &[], &[])
        }
    }
}

/// Adds `id` and, before it, everything it pins (depth first, pins in sorted order), once each.
fn collect(
    store: &Store,
    id: &str,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
    closure: &mut Vec<Record>,
) -> Result<(), ActivationError> {
    if !seen.insert(id.to_string()) {
        return Ok(());
    }
    let Some(record) = store.record(id)? else {
        let mut shown = path.clone();
        shown.push(format!("{id} ✗ not installed"));
        return Err(ActivationError::NotInstalled {
            id: id.to_string(),
            paths: vec![shown],
        });
    };
    let mut pins = record.dependencies.clone();
    pins.sort();
    path.push(id.to_string());
    for pin in &pins {
        // A dependency cycle ends here: the package is already on the way down.
        if !path.contains(pin) {
            collect(store, pin, path, seen, closure)?;
        }
    }
    path.pop();
    closure.push(record);
    Ok(())
}

/// What the pin check needs of a package: its `name@version`, name and pins (from an install
/// record, or from an install's plan before anything is downloaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// `name@version`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its exact pins.
    pub dependencies: Vec<String>,
}

impl From<&Record> for Pinned {
    fn from(record: &Record) -> Pinned {
        Pinned {
            id: record.id(),
            name: record.name.clone(),
            dependencies: record.dependencies.clone(),
        }
    }
}

fn check(
    store: &Store,
    members: &[Record],
    profile: &str,
    requested: &[String],
    leaving: &[String],
) -> Result<(), ActivationError> {
    let pinned: Vec<Pinned> = members.iter().map(Pinned::from).collect();
    check_pins(store, &pinned, profile, requested, requested, leaving)
}

/// Every member's pins must be members at exactly that version. `requested` are the ids being
/// activated, `incoming` everything joining with them, and `leaving` the names being
/// deactivated, for the graph and the fix command.
pub fn check_pins(
    store: &Store,
    members: &[Pinned],
    profile: &str,
    requested: &[String],
    incoming: &[String],
    leaving: &[String],
) -> Result<(), ActivationError> {
    let by_name: BTreeMap<&str, &Pinned> = members.iter().map(|m| (m.name.as_str(), m)).collect();
    let root = format!("profile {profile}");
    for member in members {
        for pin in &member.dependencies {
            let name = pandora_core::id::name_of(pin);
            let found = by_name.get(name).map(|m| m.id.clone());
            if found.as_deref() == Some(pin.as_str()) {
                continue;
            }
            let note = match &found {
                Some(other) => format!("{pin} ✗ the profile would have {other}"),
                None => format!("{pin} ✗ not in the profile"),
            };
            let mut paths = vec![vec![root.clone(), member.id.clone(), note]];
            if let Some(other) = &found {
                let why = if requested.contains(other) || incoming.contains(other) {
                    "activating"
                } else {
                    "active"
                };
                paths.push(vec![root, format!("{other} ({why})")]);
            }
            let fix = match &found {
                None if leaving.iter().any(|n| n == name) => {
                    format!("pandora deactivate {} {}", leaving.join(" "), member.name)
                }
                None => format!("pandora activate {pin}"),
                Some(other) => match compatible_version(store, &member.name, other)? {
                    Some(id) => format!("pandora activate {} {id}", requested.join(" ")),
                    None if requested.is_empty() => format!("pandora activate {pin}"),
                    None => format!(
                        "pandora deactivate {} && pandora activate {}",
                        member.name,
                        requested.join(" ")
                    ),
                },
            };
            return Err(ActivationError::Broken(Box::new(Broken {
                profile: profile.to_string(),
                dependent: member.id.clone(),
                needs: pin.clone(),
                found,
                paths,
                fix,
            })));
        }
    }
    Ok(())
}

/// The newest installed version of `member`'s package that pins `dependency` exactly.
fn compatible_version(
    store: &Store,
    name: &str,
    dependency: &str,
) -> Result<Option<String>, StoreError> {
    let records = store.records()?;
    Ok(newest(&records, |r| {
        r.name == name && r.dependencies.iter().any(|d| d == dependency)
    })
    .map(Record::id))
}
