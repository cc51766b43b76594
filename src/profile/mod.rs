//! Profiles: named symlink forests over store entries, each change a new numbered generation.
//!
//! ```text
//! profiles/NAME/N/forest/          generation N's forest (links into store/)
//! profiles/NAME/N/generation.acl   its members, layout rules and what changed
//! profiles/NAME/N/profile.lock     its lockfile: every member's SHA-256 and registry
//! profiles/NAME/current -> N       the profile's generation, switched by one rename
//! vir -> profiles/NAME/current/forest
//! manifests/NAME.lock -> ../profiles/NAME/current/profile.lock
//! ```
//!
//! The lockfile lives inside its generation, so it can never disagree with the generation in
//! use: the rename that switches `current` switches both.
//!
//! A generation is built complete in `tmp/` and renamed into place, then `current` is replaced
//! by renaming a fresh symlink over it; switching profiles renames a fresh `vir` over the old.
//! Each visible change is therefore one `rename(2)`, and a crash at any step leaves the previous
//! state intact plus at most garbage in `tmp/`, swept by the next operation. Every operation
//! holds the store's lock, so a store entry cannot vanish while a forest links to it.

pub mod forest;
mod generation;
mod home;
pub mod lockfile;

pub use forest::{Conflict, Forest, Member, Prefer};
pub use generation::Generation;
pub use home::{link_user_dirs, HomeLinks, HOME_DIRECTORIES};
pub use lockfile::{Locked, Lockfile};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::fs::{sync_directory, FileLock};
use crate::layout::Layout;
use crate::store::Record;

/// The profile a fresh home starts with.
pub const DEFAULT_PROFILE: &str = "default";

/// What can go wrong with profiles. After any of them, every profile is as it was.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] pandora_core::IoError),
    /// Paths two packages both provide.
    #[error("{} path(s) are provided by two packages: {}", .0.len(), describe(.0))]
    Conflicts(Vec<Conflict>),
    /// No profile of that name.
    #[error("there is no profile named `{0}`")]
    Missing(String),
    /// Something other than a link where `vir` (the active profile) goes.
    #[error("{0} is not a link: Pandora keeps the active profile there as a link to it")]
    VirNotLink(PathBuf),
    /// A profile with generations none of which is current (its `current` link is gone).
    #[error("profile `{name}` has generations ({}) but none is current: its `current` link is gone", .numbers.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))]
    NoCurrent {
        /// The profile.
        name: String,
        /// Its generations' numbers.
        numbers: Vec<u64>,
        /// Its directory.
        dir: PathBuf,
    },
    /// A profile whose first generation never became current: a `profile create` cut short.
    #[error("profile `{0}` was never finished: its creation was cut short")]
    Unmade(String),
    /// A step after a change took effect did not finish (reported as a warning).
    #[error("{0}")]
    Unfinished(String),
    /// A profile of that name already exists.
    #[error("a profile named `{0}` already exists")]
    Exists(String),
    /// A name that cannot be a profile's directory.
    #[error(
        "`{0}` is not a valid profile name (letters, digits, `-`, `_`, `.`; not starting with `.`)"
    )]
    InvalidName(String),
    /// The active profile cannot be deleted.
    #[error("`{0}` is the active profile")]
    Active(String),
    /// Nothing to roll back to.
    #[error("profile `{0}` has no generation before the current one")]
    NoPrevious(String),
    /// Nothing to roll forward to.
    #[error("profile `{0}` has no generation after the current one")]
    NoNext(String),
    /// A generation number the profile does not have.
    #[error("profile `{profile}` has no generation {number} (it has {})", list_numbers(.existing))]
    NoGeneration {
        /// The profile.
        profile: String,
        /// The number asked for.
        number: u64,
        /// The numbers it has, oldest first.
        existing: Vec<u64>,
    },
    /// A generation to return to needs packages no longer in the store.
    #[error("generation {generation} holds {}, which has since been removed from the store", .ids.join(", "))]
    MemberGone {
        /// The generation.
        generation: u64,
        /// `name@version` of each package that is gone.
        ids: Vec<String>,
        /// What `pandora install` takes to bring each back: `name@version`, or the file it was
        /// installed from.
        reinstall: Vec<String>,
    },
    /// A generation manifest or lockfile that does not parse.
    #[error("{path} is damaged")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: acl_parser::Error,
    },
}

fn describe(conflicts: &[Conflict]) -> String {
    conflicts
        .iter()
        .map(|c| format!("{} ({} and {})", c.path, c.existing, c.new))
        .collect::<Vec<_>>()
        .join(", ")
}

impl pandora_core::Hint for ProfileError {
    fn hint(&self) -> Option<String> {
        match self {
            ProfileError::Conflicts(_) => Some(
                "choose a winner with `--prefer new` or `--prefer existing` (recorded in the profile), keep both with `--namespace`, or leave one out".into(),
            ),
            ProfileError::Missing(_) => Some("`pandora profile list` shows the profiles".into()),
            ProfileError::VirNotLink(path) => Some(format!(
                "move it aside (`mv {0} {0}.moved`), then `pandora profile switch NAME` makes the link again (`pandora profile list` shows the profiles)",
                path.display()
            )),
            ProfileError::NoCurrent { name, numbers, dir } => Some(format!(
                "`ln -s {0} {1}/current` makes generation {0} current again; `pandora profile delete {name}` removes the profile (files you saved into it are rescued)",
                numbers.last().copied().unwrap_or(1),
                dir.display(),
            )),
            ProfileError::Unmade(name) => Some(format!(
                "`pandora profile create {name}` makes it again; `pandora profile delete {name}` removes it"
            )),
            ProfileError::MemberGone {
                generation,
                reinstall,
                ..
            } => Some(restore_command(reinstall, Some(*generation))),
            ProfileError::NoNext(_) | ProfileError::NoPrevious(_) | ProfileError::NoGeneration { .. } => {
                Some("`pandora profile history` lists the generations".into())
            }
            ProfileError::Active(_) => {
                Some("switch to another profile first with `pandora profile switch NAME`".into())
            }
            _ => None,
        }
    }
}

fn list_numbers(numbers: &[u64]) -> String {
    if numbers.is_empty() {
        return "none".into();
    }
    numbers
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The command that puts packages back into the store without touching any profile, then makes
/// `generation` (which holds them), if any, current again: `reinstall` are `pandora install`
/// arguments (`name@version` or a file).
pub fn restore_command(reinstall: &[String], generation: Option<u64>) -> String {
    let arguments: Vec<String> = reinstall.iter().map(|text| shell_quote(text)).collect();
    let install = format!("pandora install --no-activate {}", arguments.join(" "));
    match generation {
        Some(generation) => format!("{install} && pandora rollback --to {generation}"),
        None => install,
    }
}

/// `text` as one shell word: as it is when it needs no quoting, else in single quotes.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// A generation [`Profiles::prune_generations`] deleted (or would delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedGeneration {
    /// The profile.
    pub profile: String,
    /// The generation.
    pub number: u64,
    /// The disk space it took.
    pub bytes: u64,
}

/// Which generation [`Profiles::move_checked`] makes current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The next older existing generation.
    Previous,
    /// The next newer existing generation.
    Next,
    /// This one.
    Number(u64),
}

/// What [`Profiles::move_checked`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// The generation that was current.
    pub from: u64,
    /// The generation current now (`from` again when it was already current).
    pub to: u64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ProfileError + '_ {
    move |source| {
        ProfileError::Io(pandora_core::IoError {
            action: "access",
            path: path.to_path_buf(),
            source,
        })
    }
}

/// What a new generation is to hold.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// The packages, in precedence order.
    pub members: Vec<Record>,
    /// Names of the packages to install as `TOP/NAME-VERSION/...`.
    pub namespaced: BTreeSet<String>,
    /// Recorded conflict winners: path -> package name.
    pub overrides: BTreeMap<String, String>,
    /// What changed, in words.
    pub description: String,
    /// Names of the members the user asked for (the rest came as dependencies).
    pub requested: BTreeSet<String>,
}

impl Contents {
    /// Whether a generation made from these contents would be `generation` again: the same
    /// members in the same order, laid out the same way.
    pub fn same_as(&self, generation: &Generation) -> bool {
        self.members.len() == generation.members.len()
            && self
                .members
                .iter()
                .zip(&generation.members)
                .all(|(record, id)| &record.id() == id)
            && self
                .namespaced
                .iter()
                .filter(|name| self.members.iter().any(|record| &&record.name == name))
                .eq(generation.namespaced.iter())
            && self.overrides == generation.overrides
            && self.kept_requested()
                == generation
                    .requested
                    .clone()
                    .unwrap_or_else(|| roots(&self.members))
    }

    /// The requested names that are members.
    fn kept_requested(&self) -> BTreeSet<String> {
        self.requested
            .iter()
            .filter(|name| self.members.iter().any(|record| &&record.name == name))
            .cloned()
            .collect()
    }

    /// The contents of `generation`, with `records` its members' install records.
    pub fn of(generation: &Generation, records: Vec<Record>) -> Contents {
        Contents {
            requested: generation
                .requested
                .clone()
                .unwrap_or_else(|| roots(&records)),
            members: records,
            namespaced: generation.namespaced.clone(),
            overrides: generation.overrides.clone(),
            description: String::new(),
        }
    }
}

/// Names of the members no other member pins: what a generation written before Pandora
/// tracked requests is taken to have been asked for.
pub fn roots(members: &[Record]) -> BTreeSet<String> {
    members
        .iter()
        .filter(|record| {
            let id = record.id();
            !members.iter().any(|other| other.dependencies.contains(&id))
        })
        .map(|record| record.name.clone())
        .collect()
}

/// The profiles of one Pandora home.
#[derive(Debug, Clone)]
pub struct Profiles {
    layout: Layout,
    /// What could not be finished after a change took effect (see [`Profiles::take_warnings`]).
    warnings: std::cell::RefCell<Vec<String>>,
}

impl Profiles {
    /// The profiles under `layout`.
    pub fn new(layout: &Layout) -> Profiles {
        Profiles {
            layout: layout.clone(),
            warnings: std::cell::RefCell::default(),
        }
    }

    /// Steps that failed after a change had already taken effect (a directory fsync after the
    /// rename that committed it, the lockfile link, `vir` for a first activation). The change
    /// stands, so they are warnings for the caller to report, never errors.
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings.take()
    }

    /// Runs a step that follows the commit: a failure becomes a warning.
    fn after_commit(&self, step: Result<(), ProfileError>) {
        if let Err(error) = step {
            self.warnings.borrow_mut().push(format!(
                "the change took effect, but {}",
                pandora_core::error::chain(&error)
            ));
        }
    }

    /// Moves what the user saved into `name`'s current forest (through `$HOME/bin`, say) and
    /// no package provides to `rescue/`, before a new generation leaves it behind: a forest
    /// holds only directories and links into the store, so anything else is the user's.
    /// Reported as a warning; a file that cannot be moved stops the change instead.
    fn rescue(&self, name: &str) -> Result<(), ProfileError> {
        let Some(target) = self.current_link(name)? else {
            return Ok(());
        };
        // The number is all rescue needs; a `current` that names no number is loaded whole,
        // which reports it.
        match target.to_str().and_then(|number| number.parse().ok()) {
            Some(number) => self.rescue_generation(name, number, Look::Changed),
            None => match self.current(name)? {
                Some(current) => self.rescue_generation(name, current.number, Look::Changed),
                None => Ok(()),
            },
        }
    }

    /// [`Profiles::rescue`] for any generation of `name` (before it is deleted, say).
    fn rescue_generation(&self, name: &str, number: u64, look: Look) -> Result<(), ProfileError> {
        let forest = self.dir(name).join(number.to_string()).join("forest");
        if !forest.is_dir() {
            return Ok(());
        }
        let Found { strays, mark } = strays(&forest, look)?;
        if strays.is_empty() {
            if let Some(mark) = mark {
                date_manifest(&forest.with_file_name("generation.acl"), mark);
            }
            return Ok(());
        }
        // The forest is sealed read-only; only a privileged user could have written here.
        let stem = format!("{name}-{number}-{}", pandora_core::time::now());
        let moved = crate::fs::rescue(&forest, &strays, &self.layout.rescue_dir(), &stem)?;
        for (relative, to) in strays.iter().zip(moved) {
            self.warnings.borrow_mut().push(format!(
                "{} (saved into generation {number} of profile {name}) belongs to no package; moved it to {} (a generation holds only links to packages)",
                relative.display(),
                to.display()
            ));
        }
        Ok(())
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.layout.profiles_dir().join(name)
    }

    /// For a profile without a current generation: `Ok` when it has no generation at all (a
    /// create cut short), else [`ProfileError::NoCurrent`]: generations are never thrown
    /// away for want of a link.
    pub fn never_finished(&self, name: &str) -> Result<(), ProfileError> {
        let dir = self.dir(name);
        if !dir.is_dir() {
            return Ok(());
        }
        let mut numbers = generation_numbers(&dir)?;
        numbers.retain(|number| is_generation(&dir, *number));
        if numbers.is_empty() {
            return Ok(());
        }
        numbers.sort_unstable();
        Err(ProfileError::NoCurrent {
            name: name.to_string(),
            numbers,
            dir,
        })
    }

    /// Takes the store's lock and sweeps what crashed operations left in `tmp/`.
    fn lock(&self) -> Result<FileLock, ProfileError> {
        let lock = self.lock_unswept()?;
        let tmp = self.layout.tmp_dir();
        crate::fs::clear_directory(&tmp).map_err(io(&tmp))?;
        fs_err::create_dir_all(&tmp).map_err(io(&tmp))?;
        Ok(lock)
    }

    /// The store's lock alone, for a change that stages nothing but one link in `tmp/`
    /// (a switch): the next command that stages more sweeps.
    fn lock_unswept(&self) -> Result<FileLock, ProfileError> {
        let path = self.layout.store_lock();
        FileLock::acquire(&path).map_err(io(&path))
    }

    /// Every profile's name, sorted.
    pub fn list(&self) -> Result<Vec<String>, ProfileError> {
        let dir = self.layout.profiles_dir();
        let mut names = Vec::new();
        match fs_err::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(io(&dir))?;
                    if entry.path().is_dir() {
                        names.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&dir)(e)),
        }
        names.sort();
        Ok(names)
    }

    /// The profile `vir` points at ([`DEFAULT_PROFILE`] before anything was activated).
    pub fn active(&self) -> Result<String, ProfileError> {
        let vir = self.layout.vir();
        match fs_err::read_link(&vir) {
            Ok(target) => Ok(target
                .components()
                .nth(1)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_else(|| DEFAULT_PROFILE.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DEFAULT_PROFILE.to_string()),
            Err(_)
                if vir
                    .symlink_metadata()
                    .is_ok_and(|metadata| !metadata.is_symlink()) =>
            {
                Err(ProfileError::VirNotLink(vir))
            }
            Err(e) => Err(io(&vir)(e)),
        }
    }

    /// Creates an empty profile, or one starting from `from`'s current members.
    pub fn create(&self, name: &str, from: Option<&str>) -> Result<(), ProfileError> {
        validate_name(name)?;
        let _locked = self.lock()?;
        let dir = self.dir(name);
        if dir.exists() {
            if dir.join("current").symlink_metadata().is_ok() {
                return Err(ProfileError::Exists(name.to_string()));
            }
            self.never_finished(name)?;
            // A create killed before its first generation was made left this; it was never
            // active, so nothing of the user's is in it.
            remove_tree(&dir)?;
        }
        let source = match from {
            Some(other) => {
                let current = self
                    .current(other)?
                    .ok_or_else(|| ProfileError::Missing(other.to_string()))?;
                Some((other, current))
            }
            None => None,
        };
        let description = match &source {
            Some((other, current)) => {
                format!("created from profile {other} generation {}", current.number)
            }
            None => "created".to_string(),
        };
        // Links are relative and every generation sits at the same depth, so a copy of the
        // source forest is valid as it is; its store entries stay referenced by the source.
        let (generation, lock, copy_from) = match source {
            Some((other, current)) => {
                let dir = self.dir(other).join(current.number.to_string());
                let lock = Lockfile::load(&dir.join(LOCKFILE))?;
                (current, lock, Some(dir.join("forest")))
            }
            None => (Generation::default(), Lockfile::default(), None),
        };
        let staged = Staged {
            description,
            members: generation.members,
            namespaced: generation.namespaced,
            overrides: generation.overrides,
            requested: generation.requested,
            lock,
        };
        self.stage_generation(name, staged, |forest| match &copy_from {
            Some(from) => copy_links(from, forest),
            None => Ok(()),
        })?;
        Ok(())
    }

    /// Points `vir` at `name`'s current generation.
    pub fn switch(&self, name: &str) -> Result<(), ProfileError> {
        self.switch_checked(name, |_| Ok::<(), ProfileError>(()))
    }

    /// [`Profiles::switch`], if `accept` (run under the lock) accepts `name`'s current
    /// generation. What the user saved into the forest being left is rescued first.
    pub fn switch_checked<E: From<ProfileError>>(
        &self,
        name: &str,
        accept: impl FnOnce(&Generation) -> Result<(), E>,
    ) -> Result<(), E> {
        let _locked = self.lock_unswept()?;
        let Some(target) = self.current(name)? else {
            return Err(match self.dir(name).is_dir() {
                true => match self.never_finished(name) {
                    Ok(()) => ProfileError::Unmade(name.to_string()),
                    Err(error) => error,
                },
                false => ProfileError::Missing(name.to_string()),
            }
            .into());
        };
        accept(&target)?;
        if let Ok(active) = self.active() {
            self.rescue(&active)?;
        }
        Ok(self.point_vir(name)?)
    }

    /// Deletes a profile that is not the active one.
    pub fn delete(&self, name: &str) -> Result<(), ProfileError> {
        let _locked = self.lock()?;
        let dir = self.dir(name);
        if !dir.is_dir() {
            return Err(ProfileError::Missing(name.to_string()));
        }
        if self.active()? == name {
            return Err(ProfileError::Active(name.to_string()));
        }
        // A switch does not wait for `vir` to reach the disk (see `point_vir`); it must before
        // the profile it left goes, or a crash could bring `vir` back pointing at nothing.
        let home = self.layout.vir();
        let home = home.parent().unwrap_or(Path::new("."));
        sync_directory(home).map_err(io(home))?;
        for generation in generation_numbers(&dir)? {
            self.rescue_generation(name, generation, Look::Everything)?;
        }
        let trash = self
            .layout
            .tmp_dir()
            .join(format!("deleted-profile-{name}"));
        fs_err::rename(&dir, &trash).map_err(io(&dir))?;
        sync_directory(&self.layout.profiles_dir()).map_err(io(&self.layout.profiles_dir()))?;
        let lockfile = self.lockfile_path(name);
        match fs_err::remove_file(&lockfile) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&lockfile)(e)),
            _ => {}
        }
        remove_tree(&trash)
    }

    /// Every generation of `name`, oldest first.
    pub fn generations(&self, name: &str) -> Result<Vec<Generation>, ProfileError> {
        let dir = self.dir(name);
        if !dir.is_dir() {
            return Err(ProfileError::Missing(name.to_string()));
        }
        let mut numbers = generation_numbers(&dir)?;
        numbers.retain(|number| is_generation(&dir, *number));
        numbers.sort_unstable();
        numbers
            .into_iter()
            .map(|n| Generation::load(&dir.join(n.to_string())))
            .collect()
    }

    /// The generation `name` currently uses, if it has one.
    pub fn current(&self, name: &str) -> Result<Option<Generation>, ProfileError> {
        match self.current_link(name)? {
            Some(target) => Generation::load(&self.dir(name).join(target)).map(Some),
            None => Ok(None),
        }
    }

    /// Where `name`'s `current` link leads (a generation's number), if it has one. A profile
    /// that has generations but lost the link is [`ProfileError::NoCurrent`], not one without
    /// generations: a change made to it as if it were empty would drop all it holds.
    fn current_link(&self, name: &str) -> Result<Option<PathBuf>, ProfileError> {
        let current = self.dir(name).join("current");
        match fs_err::read_link(&current) {
            Ok(target) => Ok(Some(target)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.never_finished(name).is_ok() {
                    return Ok(None);
                }
                // Generations but no link: the state between a profile's first generation
                // being renamed in and `current` made, if another process is making it. Once
                // the lock is free (never waited for by the process holding it), it is settled.
                let lock = self.layout.store_lock();
                let _settled = match FileLock::held_here(&lock) {
                    true => None,
                    false => match FileLock::acquire(&lock) {
                        Ok(held) => Some(held),
                        // A home this process cannot lock is one it cannot mend either.
                        Err(_) => return self.never_finished(name).map(|()| None),
                    },
                };
                if let Ok(target) = fs_err::read_link(&current) {
                    return Ok(Some(target));
                }
                match self.never_finished(name) {
                    Ok(()) => Ok(None),
                    // With the lock held nobody is making it: a command killed between renaming
                    // a profile's first generation in and linking `current` left exactly one
                    // generation, the only one `current` can name. Finish that step. With
                    // more, a link was lost, not a step: the user chooses.
                    // Where the link cannot be made (a read-only home), the user is told how.
                    Err(error @ ProfileError::NoCurrent { .. }) => match &error {
                        ProfileError::NoCurrent { numbers, .. } if numbers.len() == 1 => {
                            match self.point_current(name, numbers[0]) {
                                Ok(()) => Ok(Some(PathBuf::from(numbers[0].to_string()))),
                                Err(_) => Err(error),
                            }
                        }
                        _ => Err(error),
                    },
                    Err(error) => Err(error),
                }
            }
            Err(e) => Err(io(&current)(e)),
        }
    }

    /// The `name@version`s `name`'s current generation holds (none before its first).
    pub fn members(&self, name: &str) -> Result<Vec<String>, ProfileError> {
        Ok(self.current(name)?.map(|g| g.members).unwrap_or_default())
    }

    /// Makes a new generation of `name` from what `change` decides, given the current one
    /// (`None` for a new profile), and makes it the profile's current generation; `vir` follows
    /// if `name` is active or nothing was ever active. `change` runs under the lock, so two
    /// concurrent updates serialize and neither is lost. Conflicts that no recorded override
    /// settles are settled by `prefer`, and the winners are recorded. Returns the new number;
    /// a change that leaves the profile as it is makes no generation and returns the current one.
    pub fn update<E: From<ProfileError>>(
        &self,
        name: &str,
        prefer: Prefer,
        change: impl FnOnce(Option<&Generation>) -> Result<Contents, E>,
    ) -> Result<u64, E> {
        validate_name(name)?;
        let _locked = self.lock()?;
        let current = self.current(name)?;
        let contents = change(current.as_ref())?;
        if let Some(current) = current.filter(|current| {
            contents.same_as(current) && self.locks_same_bytes(name, current, &contents)
        }) {
            // Nothing to change, but a command killed after its generation became current
            // may have left `vir` or the lockfile link unmade: finish that.
            if self.layout.vir().symlink_metadata().is_err() {
                self.after_commit(self.point_vir(name));
            }
            self.after_commit(self.link_lockfile(name));
            return Ok(current.number);
        }
        Ok(self.commit_locked(name, &contents, prefer)?)
    }

    /// Whether `generation`'s lockfile pins the bytes `contents`' members are installed from: a
    /// member reinstalled from other bytes of the same version needs a new generation, or the
    /// lockfile would pin bytes no longer there. One that cannot be read is no proof.
    fn locks_same_bytes(&self, name: &str, generation: &Generation, contents: &Contents) -> bool {
        let path = self
            .dir(name)
            .join(generation.number.to_string())
            .join(LOCKFILE);
        Lockfile::load(&path).is_ok_and(|lock| {
            contents.members.iter().all(|record| {
                lock.packages
                    .iter()
                    .any(|locked| locked.name == record.name && locked.sha256 == record.blob)
            })
        })
    }

    fn commit_locked(
        &self,
        name: &str,
        contents: &Contents,
        prefer: Prefer,
    ) -> Result<u64, ProfileError> {
        let planned: Vec<Member<'_>> = contents
            .members
            .iter()
            .map(|r| Member {
                id: r.id(),
                entries: &r.entries,
                entry_points: &r.entry_points,
                namespace: contents
                    .namespaced
                    .contains(&r.name)
                    .then(|| format!("{}-{}", r.name, r.version)),
            })
            .collect();
        let rules = forest::Rules {
            prefer,
            overrides: &contents.overrides,
        };
        let plan = forest::plan(&planned, rules).map_err(ProfileError::Conflicts)?;
        let names: BTreeSet<&String> = contents.members.iter().map(|r| &r.name).collect();
        let mut namespaced = contents.namespaced.clone();
        namespaced.retain(|n| names.contains(n));
        let lock = Lockfile::of(&contents.members, &namespaced, &plan.settled);
        let staged = Staged {
            description: contents.description.clone(),
            members: planned.iter().map(|m| m.id.clone()).collect(),
            namespaced,
            overrides: plan.settled,
            requested: Some(contents.kept_requested()),
            lock,
        };
        // profiles/NAME/N/forest is four levels below the home.
        self.stage_generation(name, staged, |dir| {
            plan.forest.write(dir, 4).map_err(|(path, source)| {
                ProfileError::Io(pandora_core::IoError {
                    action: "access",
                    path,
                    source,
                })
            })
        })
    }

    /// Makes the generation before the current one current again. Returns its number.
    pub fn rollback(&self, name: &str) -> Result<u64, ProfileError> {
        self.rollback_checked(name, |_| Ok::<(), ProfileError>(()))
    }

    /// [`Profiles::rollback`], if `accept` (run under the lock) accepts the generation it would
    /// make current. What the user saved into the forest being left is rescued first.
    pub fn rollback_checked<E: From<ProfileError>>(
        &self,
        name: &str,
        accept: impl FnOnce(&Generation) -> Result<(), E>,
    ) -> Result<u64, E> {
        Ok(self.move_checked(name, Target::Previous, accept)?.to)
    }

    /// Makes another existing generation of `name` current: the next older one, the next newer
    /// one, or one by number. Generations are kept in one line by number, as Nix keeps them:
    /// moving changes only which one is current, so after rolling back from 5 to 4, 5 is still
    /// there to move forward to; a change made after a rollback becomes the newest number.
    /// `accept` (run under the lock) may refuse the generation; what the user saved into the
    /// forest being left is rescued first; the switch is one rename of `current`.
    pub fn move_checked<E: From<ProfileError>>(
        &self,
        name: &str,
        target: Target,
        accept: impl FnOnce(&Generation) -> Result<(), E>,
    ) -> Result<Moved, E> {
        let _locked = self.lock()?;
        let current = self
            .current(name)?
            .ok_or_else(|| ProfileError::Missing(name.to_string()))?;
        let mut numbers = generation_numbers(&self.dir(name))?;
        numbers.sort_unstable();
        let chosen = match target {
            Target::Previous => numbers
                .iter()
                .rev()
                .find(|n| **n < current.number)
                .copied()
                .ok_or_else(|| ProfileError::NoPrevious(name.to_string()))?,
            Target::Next => numbers
                .iter()
                .find(|n| **n > current.number)
                .copied()
                .ok_or_else(|| ProfileError::NoNext(name.to_string()))?,
            Target::Number(number) if numbers.contains(&number) => number,
            Target::Number(number) => {
                return Err(ProfileError::NoGeneration {
                    profile: name.to_string(),
                    number,
                    existing: numbers,
                }
                .into())
            }
        };
        if chosen == current.number {
            return Ok(Moved {
                from: current.number,
                to: chosen,
            });
        }
        let generation_dir = self.dir(name).join(chosen.to_string());
        let generation = Generation::load(&generation_dir)?;
        let store = self.layout.store_dir();
        let gone: Vec<&String> = generation
            .members
            .iter()
            .filter(|id| !store.join(id).is_dir())
            .collect();
        if !gone.is_empty() {
            // The generation's own lockfile says where each came from: a registry (installed
            // again by name) or a file (installed again from that file).
            let lock = Lockfile::load(&generation_dir.join(LOCKFILE)).unwrap_or_default();
            let reinstall = gone
                .iter()
                .map(|id| {
                    lock.packages
                        .iter()
                        .find(|locked| &&locked.id() == id)
                        .filter(|locked| locked.registry.is_none() && !locked.source.is_empty())
                        .map_or_else(|| (*id).clone(), |locked| locked.source.clone())
                })
                .collect();
            return Err(ProfileError::MemberGone {
                generation: chosen,
                ids: gone.into_iter().cloned().collect(),
                reinstall,
            }
            .into());
        }
        accept(&generation)?;
        self.rescue(name)?;
        self.point_current(name, chosen)?;
        Ok(Moved {
            from: current.number,
            to: chosen,
        })
    }

    /// Builds generation N+1 of `name` in `tmp/` with `fill`, renames it into place, makes it
    /// current, and moves `vir` to it if `name` is active (or nothing is yet).
    fn stage_generation(
        &self,
        name: &str,
        staged: Staged,
        fill: impl FnOnce(&Path) -> Result<(), ProfileError>,
    ) -> Result<u64, ProfileError> {
        let dir = self.dir(name);
        fs_err::create_dir_all(&dir).map_err(io(&dir))?;
        let number = generation_numbers(&dir)?.into_iter().max().unwrap_or(0) + 1;
        let parent = self.current(name)?.map(|current| current.number);
        self.rescue(name)?;

        let staging = self
            .layout
            .tmp_dir()
            .join(format!("generation-{name}-{number}"));
        let staged_forest = staging.join("forest");
        fs_err::create_dir_all(&staged_forest).map_err(io(&staged_forest))?;
        fill(&staged_forest)?;
        seal(&staged_forest)?;
        let generation = Generation {
            number,
            created_at: pandora_core::time::now(),
            description: staged.description,
            members: staged.members,
            namespaced: staged.namespaced,
            overrides: staged.overrides,
            requested: staged.requested,
            parent,
        };
        let manifest = staging.join("generation.acl");
        fs_err::write(&manifest, generation.to_acl()).map_err(io(&manifest))?;
        let lock = staging.join(LOCKFILE);
        fs_err::write(&lock, staged.lock.to_acl()).map_err(io(&lock))?;
        // One syncfs makes the whole forest durable before it becomes visible.
        sync_filesystem(&staging)?;

        let target = dir.join(number.to_string());
        fs_err::rename(&staging, &target).map_err(io(&target))?;
        sync_directory(&dir).map_err(io(&dir))?;
        self.point_current(name, number)?;
        // The generation is current now: what follows cannot undo that, only fail to finish.
        self.after_commit(self.link_lockfile(name));
        let vir_exists = self.layout.vir().symlink_metadata().is_ok();
        if !vir_exists || self.active().is_ok_and(|active| active == name) {
            self.after_commit(self.point_vir(name).map_err(|error| {
                ProfileError::Unfinished(format!(
                    "{}; `pandora profile switch {name}` finishes it",
                    pandora_core::error::chain(&error)
                ))
            }));
        }
        Ok(number)
    }

    /// `manifests/NAME.lock`, pointing into the current generation (made once, never changed).
    fn link_lockfile(&self, name: &str) -> Result<(), ProfileError> {
        let link = self.lockfile_path(name);
        if link.symlink_metadata().is_ok() {
            return Ok(());
        }
        let manifests = self.layout.manifests_dir();
        fs_err::create_dir_all(&manifests).map_err(io(&manifests))?;
        let target = Path::new("../profiles")
            .join(name)
            .join("current")
            .join(LOCKFILE);
        self.replace_symlink(&link, &target)
    }

    /// Where `name`'s lockfile is published.
    pub fn lockfile_path(&self, name: &str) -> PathBuf {
        self.layout.manifests_dir().join(format!("{name}.lock"))
    }

    /// The lockfile of `name`'s current generation.
    pub fn lockfile(&self, name: &str) -> Result<Lockfile, ProfileError> {
        let current = self.dir(name).join("current");
        if current.symlink_metadata().is_err() {
            return Err(ProfileError::Missing(name.to_string()));
        }
        Lockfile::load(&current.join(LOCKFILE))
    }

    /// Deletes every generation of every profile except the current one and the `keep` newest.
    /// Returns each one deleted (or that would be, with `dry_run`) with the disk space it took
    /// (see [`crate::fs::disk_usage`]), measured the same way for a dry run.
    pub fn prune_generations(
        &self,
        keep: usize,
        dry_run: bool,
    ) -> Result<Vec<PrunedGeneration>, ProfileError> {
        let _locked = self.lock()?;
        let mut deleted = Vec::new();
        for name in self.list()? {
            let dir = self.dir(name.as_str());
            let current = match self.current(&name) {
                // Which of its generations is wanted is for the user to say first.
                Err(ProfileError::NoCurrent { .. }) => continue,
                current => current?.map(|g| g.number),
            };
            let mut numbers = generation_numbers(&dir)?;
            numbers.sort_unstable_by(|a, b| b.cmp(a));
            for number in numbers.into_iter().skip(keep) {
                if Some(number) == current {
                    continue;
                }
                let path = dir.join(number.to_string());
                let bytes = crate::fs::disk_usage(&path).map_err(io(&path))?;
                if !dry_run {
                    self.rescue_generation(&name, number, Look::Everything)?;
                    let trash = self
                        .layout
                        .tmp_dir()
                        .join(format!("pruned-{name}-{number}"));
                    fs_err::rename(&path, &trash).map_err(io(&path))?;
                    sync_directory(&dir).map_err(io(&dir))?;
                    remove_tree(&trash)?;
                }
                deleted.push(PrunedGeneration {
                    profile: name.clone(),
                    number,
                    bytes,
                });
            }
        }
        Ok(deleted)
    }

    /// Every `name@version` any generation of any profile (but those in `excluding`) holds:
    /// the roots that keep store entries alive. The caller holds the store's lock, so no
    /// generation appears meanwhile.
    pub fn roots(&self, excluding: &[PrunedGeneration]) -> Result<BTreeSet<String>, ProfileError> {
        let mut roots = BTreeSet::new();
        for name in self.list()? {
            for generation in self.generations(&name)? {
                let excluded = excluding
                    .iter()
                    .any(|pruned| pruned.profile == name && pruned.number == generation.number);
                if !excluded {
                    roots.extend(generation.members);
                }
            }
        }
        Ok(roots)
    }

    /// Checks what `vir` shows: it leads to a complete generation whose every link resolves
    /// to an entry of a member's store tree. Returns the generation checked (if any) and one
    /// line per problem.
    pub fn check_active(&self) -> Result<(Option<Generation>, Vec<String>), ProfileError> {
        let vir = self.layout.vir();
        if vir.symlink_metadata().is_err() {
            return Ok((None, Vec::new()));
        }
        let mut problems = Vec::new();
        let name = self.active()?;
        let Some(generation) = self.current(&name)? else {
            problems.push(format!(
                "{} leads to profile {name}, which has no generation",
                vir.display()
            ));
            return Ok((None, problems));
        };
        let store = self.layout.store_dir();
        // A link's target may name the store (or entries) by any of these: `store/` may be a
        // link itself (to another disk), and so may a directory above the home.
        let spellings = |directory: PathBuf| {
            let mut names = vec![directory.clone()];
            names.extend(directory.canonicalize());
            names.extend(
                directory
                    .parent()
                    .zip(directory.file_name())
                    .and_then(|(parent, name)| Some(parent.canonicalize().ok()?.join(name))),
            );
            names.dedup();
            names
        };
        let homes: Vec<PathBuf> = spellings(store.clone())
            .into_iter()
            .chain(spellings(self.layout.entries_dir()))
            .collect();
        for id in &generation.members {
            if !store.join(id).is_dir() {
                problems.push(format!("member {id} is not in the store"));
            }
        }
        for item in walkdir::WalkDir::new(&vir)
            .follow_root_links(true)
            .min_depth(1)
        {
            let item = match item {
                Ok(item) => item,
                Err(error) => {
                    problems.push(error.to_string());
                    continue;
                }
            };
            if !item.path_is_symlink() {
                continue;
            }
            let relative = item.path().strip_prefix(&vir).unwrap_or(item.path());
            match item.path().canonicalize() {
                Ok(target) => {
                    // Where the forest's own link leads (a package's links inside its store
                    // entry may lead on, to its writable directories, say).
                    let target = item
                        .path()
                        .parent()
                        .and_then(|parent| parent.canonicalize().ok())
                        .zip(fs_err::read_link(item.path()).ok())
                        .map(|(parent, link)| normalize(&parent.join(link)))
                        .unwrap_or(target);
                    let owner = homes
                        .iter()
                        .find_map(|home| target.strip_prefix(home).ok())
                        .and_then(|inside| inside.components().next())
                        .map(|c| c.as_os_str().to_string_lossy().into_owned());
                    if !owner.is_some_and(|owner| generation.members.contains(&owner)) {
                        problems.push(format!(
                            "{} leads to {}, outside the generation's packages",
                            relative.display(),
                            target.display()
                        ));
                    }
                }
                Err(error) => problems.push(format!(
                    "{} is a dangling link ({error})",
                    relative.display()
                )),
            }
        }
        Ok((Some(generation), problems))
    }

    fn point_current(&self, name: &str, number: u64) -> Result<(), ProfileError> {
        let dir = self.dir(name);
        self.replace_symlink(&dir.join("current"), Path::new(&number.to_string()))
    }

    /// Points `vir` at `name`. Unlike every other state change, this one is not fsynced: a
    /// crash right after a switch may find the previous profile active, which is whole and
    /// still there (deleting a profile first makes `vir` durable), so `vir` never points at
    /// nothing; and a switch costs no wait for the disk, as with Nix's profile links.
    fn point_vir(&self, name: &str) -> Result<(), ProfileError> {
        let target = Path::new("profiles")
            .join(name)
            .join("current")
            .join("forest");
        let vir = self.layout.vir();
        // Only a link is replaced: what the user keeps there (a directory, a file) stays.
        if vir
            .symlink_metadata()
            .is_ok_and(|metadata| !metadata.is_symlink())
        {
            return Err(ProfileError::VirNotLink(vir));
        }
        self.rename_symlink_over(&vir, &target)
    }

    /// Atomically makes `link` a symlink to `target`, durably. The rename is the change;
    /// making it durable afterwards can only warn.
    fn replace_symlink(&self, link: &Path, target: &Path) -> Result<(), ProfileError> {
        self.rename_symlink_over(link, target)?;
        let parent = link.parent().unwrap_or(Path::new("."));
        self.after_commit(sync_directory(parent).map_err(io(parent)));
        Ok(())
    }

    /// A new link made in `tmp/` and renamed over `link`.
    fn rename_symlink_over(&self, link: &Path, target: &Path) -> Result<(), ProfileError> {
        let tmp = self.layout.tmp_dir();
        let staged = tmp.join(format!(
            "link-{}-{}",
            std::process::id(),
            link.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let _ = fs_err::remove_file(&staged);
        if let Err(error) = std::os::unix::fs::symlink(target, &staged) {
            if error.kind() != std::io::ErrorKind::NotFound {
                return Err(io(&staged)(error));
            }
            fs_err::create_dir_all(&tmp).map_err(io(&tmp))?;
            std::os::unix::fs::symlink(target, &staged).map_err(io(&staged))?;
        }
        fs_err::rename(&staged, link).map_err(io(link))?;
        Ok(())
    }
}

/// The lockfile's name inside a generation.
const LOCKFILE: &str = "profile.lock";

/// A generation as it is about to be written.
struct Staged {
    description: String,
    members: Vec<String>,
    namespaced: BTreeSet<String>,
    overrides: BTreeMap<String, String>,
    requested: Option<BTreeSet<String>>,
    lock: Lockfile,
}

/// A directory walk's failure, naming the path it happened on.
fn walk_error(root: &Path) -> impl Fn(walkdir::Error) -> ProfileError + '_ {
    move |error| {
        let path = error.path().unwrap_or(root).to_path_buf();
        ProfileError::Io(pandora_core::IoError {
            action: "read",
            path,
            source: error.into(),
        })
    }
}

/// How closely [`strays`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    /// Only at directories changed since the manifest's mtime: a switch, which leaves the
    /// forest in place, so what a wrong clock hides is found by a later look.
    Changed,
    /// At everything, whatever the times say: before a forest is deleted.
    Everything,
}

/// What [`strays`] found.
#[derive(Debug)]
struct Found {
    /// Paths (relative to the forest) of what is neither a directory nor one of the forest's
    /// own links into the store, sorted.
    strays: Vec<PathBuf>,
    /// When something was looked at closely: the mtime for the manifest if nothing is found
    /// ([`clean_mark`]).
    mark: Option<std::time::SystemTime>,
}

/// What in `forest` is neither a directory nor one of the forest's own links into the store,
/// looking as closely as `look` says.
fn strays(forest: &Path, look: Look) -> Result<Found, ProfileError> {
    // A sealed forest's directories were all last changed before its `generation.acl` was
    // written; adding, removing or replacing an entry changes its directory's ctime, and so
    // does moving or copying a directory in. Only the entries of directories changed since
    // are looked at closely (one readlink each), so a profile switch does not read every link
    // of the forest it leaves. The ctime, not the mtime: `mv`, `cp -a`, `tar` and `touch -d`
    // set mtimes back, nothing sets a ctime back. `>=`: a tie is looked at.
    use std::os::unix::fs::MetadataExt;
    // A seal time in the future (a clock set back since) proves nothing: everything is looked
    // at.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or((0, 0), |now| {
            (
                i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
                i64::from(now.subsec_nanos()),
            )
        });
    let sealed_at = fs_err::metadata(forest.with_file_name("generation.acl"))
        .ok()
        .map(|metadata| (metadata.mtime(), metadata.mtime_nsec()))
        .filter(|sealed| *sealed <= now)
        .filter(|_| look == Look::Changed);
    let started = Timestamp::coarse_now();
    let (mut latest, mut looked, mut every_ctime) = (Timestamp::MIN, false, true);
    let mut strays = Vec::new();
    // Each directory with whether one above it changed: a directory moved in keeps the old
    // ctimes of the directories inside it, so below a changed directory everything is looked
    // at.
    let mut pending = vec![(forest.to_path_buf(), false)];
    while let Some((directory, inside_changed)) = pending.pop() {
        let metadata = fs_err::metadata(&directory).ok();
        match &metadata {
            Some(metadata) => {
                latest = latest.max(Timestamp::new(metadata.ctime(), metadata.ctime_nsec()));
            }
            None => every_ctime = false,
        }
        let changed = inside_changed
            || sealed_at.is_none_or(|sealed| {
                metadata
                    .as_ref()
                    .is_none_or(|metadata| (metadata.ctime(), metadata.ctime_nsec()) >= sealed)
            });
        // An unchanged directory with two links (itself and `.`) has no subdirectory to
        // descend into, so it is not listed at all. Filesystems that do not count a
        // directory's subdirectories say 1, and are listed.
        let leaf = metadata.is_some_and(|metadata| metadata.nlink() == 2);
        if !changed && leaf {
            continue;
        }
        looked |= changed;
        for entry in fs_err::read_dir(&directory).map_err(io(&directory))? {
            let entry = entry.map_err(io(&directory))?;
            let file_type = entry.file_type().map_err(io(&entry.path()))?;
            if file_type.is_dir() {
                pending.push((entry.path(), changed));
                continue;
            }
            if !changed {
                continue;
            }
            let ours = file_type.is_symlink()
                && fs_err::read_link(entry.path()).is_ok_and(|target| is_forest_link(&target));
            if !ours {
                let path = entry.path();
                let relative = path.strip_prefix(forest).unwrap_or(&path);
                strays.push(relative.to_path_buf());
            }
        }
    }
    strays.sort();
    let mark = started
        .filter(|_| looked && every_ctime)
        .and_then(|started| clean_mark(latest, started));
    Ok(Found { strays, mark })
}

/// `path` with `.` and `..` taken out lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal
}

fn set_mode(path: &Path, mode: u32) -> Result<(), ProfileError> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))
}

/// Makes every directory of a written forest read-only (0555), as store trees are: nothing is
/// saved into a generation by accident, and what a privileged user saves anyway is rescued.
fn seal(forest: &Path) -> Result<(), ProfileError> {
    let mut directories = Vec::new();
    for item in walkdir::WalkDir::new(forest) {
        let item = item.map_err(walk_error(forest))?;
        if item.file_type().is_dir() {
            directories.push(item.into_path());
        }
    }
    for directory in directories {
        set_mode(&directory, 0o555)?;
    }
    Ok(())
}

/// A file timestamp, in nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timestamp(i128);

impl Timestamp {
    const MIN: Timestamp = Timestamp(i128::MIN);

    fn new(seconds: i64, nanoseconds: i64) -> Timestamp {
        Timestamp(i128::from(seconds) * 1_000_000_000 + i128::from(nanoseconds))
    }

    /// The clock file timestamps are taken from (when none was asked for since the file last
    /// changed): the kernel's coarse one, a tick of a few milliseconds.
    fn coarse_now() -> Option<Timestamp> {
        use nix::time::{clock_gettime, ClockId};
        let now = clock_gettime(ClockId::CLOCK_REALTIME_COARSE).ok()?;
        Some(Timestamp::new(now.tv_sec(), now.tv_nsec()))
    }
}

/// The mtime that dates a forest's manifest after a look found it clean: one nanosecond after
/// the latest ctime of its directories, when that is sound.
///
/// [`strays`] looks closely at every directory whose ctime is not older than the manifest's
/// mtime. The manifest is written in the same tick of the coarse clock as the forest is
/// sealed, so every directory ties with it, and every switch read every link of the forest
/// it left. When the look started at least 1 ms after the latest ctime, any change made since
/// it started has a later ctime, so one nanosecond after the latest tells the directories a
/// clean look covered from those changed since. Not when timestamps look coarser than 1 ms
/// (whole milliseconds: a later change could be rounded down to the same value) or when the
/// clock had not moved on far enough.
fn clean_mark(latest: Timestamp, started: Timestamp) -> Option<std::time::SystemTime> {
    let whole_milliseconds = latest.0.rem_euclid(1_000_000) == 0;
    if whole_milliseconds || latest < Timestamp(0) || started.0 < latest.0 + 1_000_000 {
        return None;
    }
    let mark = u64::try_from(latest.0 + 1).ok()?;
    Some(
        std::time::UNIX_EPOCH
            + std::time::Duration::new(mark / 1_000_000_000, (mark % 1_000_000_000) as u32),
    )
}

/// Dates `manifest` with the mark of a clean look ([`clean_mark`]). Best effort: a manifest
/// left as it was only costs the next switch another look.
fn date_manifest(manifest: &Path, mark: std::time::SystemTime) {
    if let Ok(file) = fs_err::OpenOptions::new().write(true).open(manifest) {
        let _ = file
            .file()
            .set_times(std::fs::FileTimes::new().set_modified(mark));
    }
}

/// Recreates the directories and links of the forest `from` under `to`.
fn copy_links(from: &Path, to: &Path) -> Result<(), ProfileError> {
    for item in walkdir::WalkDir::new(from).min_depth(1) {
        let item = item.map_err(walk_error(from))?;
        let relative = item.path().strip_prefix(from).unwrap_or(item.path());
        let destination = to.join(relative);
        if item.file_type().is_dir() {
            fs_err::create_dir(&destination).map_err(io(&destination))?;
        } else if item.path_is_symlink() {
            let target = fs_err::read_link(item.path()).map_err(io(item.path()))?;
            // Only the forest's own links: what the user saved there stays theirs, in the
            // source (its next generation rescues it), and is not copied.
            if is_forest_link(&target) {
                std::os::unix::fs::symlink(target, &destination).map_err(io(&destination))?;
            }
        }
    }
    Ok(())
}

/// Whether a link in a forest is one of the forest's own: relative, into the store or the
/// entry points.
fn is_forest_link(target: &Path) -> bool {
    target.starts_with("..")
        && target
            .components()
            .any(|part| part.as_os_str() == "store" || part.as_os_str() == "entries")
}

/// A generation is made whole in tmp/ and renamed in: a numbered directory without its manifest
/// is no generation (and not for `history` or `prune` to fail on). A manifest that is there but
/// damaged, even a link, makes one: it is reported when read, never taken for nothing.
fn is_generation(profile: &Path, number: u64) -> bool {
    profile
        .join(number.to_string())
        .join("generation.acl")
        .symlink_metadata()
        .is_ok()
}

fn generation_numbers(dir: &Path) -> Result<Vec<u64>, ProfileError> {
    let mut numbers = Vec::new();
    for entry in fs_err::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if let Some(n) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            numbers.push(n);
        }
    }
    Ok(numbers)
}

fn validate_name(name: &str) -> Result<(), ProfileError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(ProfileError::InvalidName(name.to_string()))
    }
}

fn remove_tree(path: &Path) -> Result<(), ProfileError> {
    crate::fs::remove_tree(path).map_err(io(path))
}

fn sync_filesystem(path: &Path) -> Result<(), ProfileError> {
    crate::fs::syncfs(path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordedEntry;

    fn package(home: &Path, name: &str, files: &[&str]) -> Record {
        let mut entries = Vec::new();
        let root = home.join("store").join(format!("{name}@1.0.0"));
        for file in files {
            let path = root.join(file);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(&path, format!("{name}:{file}")).unwrap();
            let parent = Path::new(file).parent().unwrap().to_str().unwrap();
            if !parent.is_empty() && !entries.iter().any(|e: &RecordedEntry| e.path() == parent) {
                entries.push(RecordedEntry::Directory {
                    path: parent.into(),
                });
            }
            entries.push(RecordedEntry::File {
                path: (*file).into(),
                sha256: [0; 32].into(),
                mode: 0o444,
            });
        }
        entries.sort_by(|a, b| a.path().cmp(b.path()));
        Record {
            name: name.into(),
            version: "1.0.0".into(),
            blob: [0; 32].into(),
            registry: None,
            source: String::new(),
            public_key: crate::format::signing::SigningKey::from_seed("profile").public_key(),
            installed_at: 0,
            dependencies: Vec::new(),
            entries: entries.into(),
            entry_points: Vec::new(),
        }
    }

    fn commit(
        profiles: &Profiles,
        name: &str,
        members: &[Record],
        prefer: Prefer,
        description: &str,
    ) -> Result<u64, ProfileError> {
        profiles.update(name, prefer, |_| {
            Ok::<_, ProfileError>(Contents {
                members: members.to_vec(),
                description: description.into(),
                ..Contents::default()
            })
        })
    }

    fn read(home: &Path, path: &str) -> String {
        fs_err::read_to_string(home.join("vir").join(path)).unwrap()
    }

    #[test]
    fn each_change_is_a_generation_and_vir_follows_the_active_profile() {
        let home = tempfile::tempdir().unwrap();
        let profiles = Profiles::new(&Layout::new(home.path()));
        let a = package(home.path(), "a", &["bin/a"]);
        let b = package(home.path(), "b", &["bin/b", "share/b/doc"]);
        assert_eq!(
            commit(
                &profiles,
                "default",
                std::slice::from_ref(&a),
                Prefer::Neither,
                "add a"
            )
            .unwrap(),
            1
        );
        assert_eq!(read(home.path(), "bin/a"), "a:bin/a");
        assert_eq!(
            commit(&profiles, "default", &[a, b], Prefer::Neither, "add b").unwrap(),
            2
        );
        assert_eq!(read(home.path(), "bin/b"), "b:bin/b");
        assert_eq!(read(home.path(), "share/b/doc"), "b:share/b/doc");

        assert_eq!(profiles.rollback("default").unwrap(), 1);
        assert!(!home.path().join("vir/bin/b").exists());
        let history: Vec<_> = profiles
            .generations("default")
            .unwrap()
            .into_iter()
            .map(|g| (g.number, g.description))
            .collect();
        assert_eq!(
            history,
            [(1, "add a".to_string()), (2, "add b".to_string())]
        );
        assert_eq!(
            profiles.rollback("default").unwrap_err().to_string(),
            "profile `default` has no generation before the current one"
        );
    }

    #[test]
    fn profiles_are_created_switched_and_deleted() {
        let home = tempfile::tempdir().unwrap();
        let profiles = Profiles::new(&Layout::new(home.path()));
        let a = package(home.path(), "a", &["bin/a"]);
        commit(&profiles, "default", &[a], Prefer::Neither, "add a").unwrap();
        profiles.create("work", Some("default")).unwrap();
        profiles.create("empty", None).unwrap();
        assert_eq!(profiles.list().unwrap(), ["default", "empty", "work"]);
        assert_eq!(profiles.active().unwrap(), "default");

        profiles.switch("empty").unwrap();
        assert_eq!(profiles.active().unwrap(), "empty");
        assert!(!home.path().join("vir/bin/a").exists());
        profiles.switch("work").unwrap();
        assert_eq!(read(home.path(), "bin/a"), "a:bin/a");

        assert!(matches!(
            profiles.delete("work"),
            Err(ProfileError::Active(_))
        ));
        profiles.delete("default").unwrap();
        assert_eq!(profiles.list().unwrap(), ["empty", "work"]);
        assert!(matches!(
            profiles.switch("default"),
            Err(ProfileError::Missing(_))
        ));
        assert!(matches!(
            profiles.create("work", None),
            Err(ProfileError::Exists(_))
        ));
        assert!(matches!(
            profiles.create("../x", None),
            Err(ProfileError::InvalidName(_))
        ));
    }

    #[test]
    fn a_conflict_changes_nothing() {
        let home = tempfile::tempdir().unwrap();
        let profiles = Profiles::new(&Layout::new(home.path()));
        let a = package(home.path(), "a", &["bin/tool"]);
        let b = package(home.path(), "b", &["bin/tool"]);
        commit(
            &profiles,
            "default",
            std::slice::from_ref(&a),
            Prefer::Neither,
            "add a",
        )
        .unwrap();
        let error = commit(
            &profiles,
            "default",
            &[a.clone(), b.clone()],
            Prefer::Neither,
            "add b",
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 path(s) are provided by two packages: bin/tool (a@1.0.0 and b@1.0.0)"
        );
        assert_eq!(profiles.current("default").unwrap().unwrap().number, 1);
        assert_eq!(read(home.path(), "bin/tool"), "a:bin/tool");
        commit(&profiles, "default", &[a, b], Prefer::New, "add b").unwrap();
        assert_eq!(read(home.path(), "bin/tool"), "b:bin/tool");
    }

    #[test]
    fn concurrent_updates_serialize_and_neither_is_lost() {
        let home = tempfile::tempdir().unwrap();
        let layout = Layout::new(home.path());
        let packages = [
            package(home.path(), "a", &["bin/a"]),
            package(home.path(), "b", &["bin/b"]),
        ];
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (layout, packages) = (layout.clone(), packages.clone());
                std::thread::spawn(move || {
                    Profiles::new(&layout)
                        .update("default", Prefer::Neither, |current| {
                            // Read, pause so the other writer would interleave, then add.
                            let mut members: Vec<Record> = packages
                                .iter()
                                .filter(|p| current.is_some_and(|g| g.members.contains(&p.id())))
                                .cloned()
                                .collect();
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            members.push(packages[i].clone());
                            Ok::<_, ProfileError>(Contents {
                                members,
                                ..Contents::default()
                            })
                        })
                        .unwrap()
                })
            })
            .collect();
        let mut numbers: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, [1, 2]);
        let last = Profiles::new(&layout).current("default").unwrap().unwrap();
        assert_eq!(last.members.len(), 2, "{:?}", last.members);
        assert_eq!(read(home.path(), "bin/a"), "a:bin/a");
        assert_eq!(read(home.path(), "bin/b"), "b:bin/b");
    }

    /// Sets a directory's modification time to `seconds` ago.
    fn age(path: &Path, seconds: u64) {
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(seconds);
        fs_err::File::open(path)
            .unwrap()
            .file()
            .set_modified(then)
            .unwrap();
    }

    /// A directory unchanged since the generation was sealed is not listed when it has no
    /// subdirectory; what the user adds anywhere, at any depth, is still found.
    #[test]
    fn strays_are_found_below_directories_left_unlisted() {
        let dir = tempfile::tempdir().unwrap();
        let forest = dir.path().join("forest");
        for sub in ["bin", "share/a/deep", "share/b"] {
            fs_err::create_dir_all(forest.join(sub)).unwrap();
        }
        std::os::unix::fs::symlink("../../store/x@1/bin/x", forest.join("bin/x")).unwrap();
        std::os::unix::fs::symlink("../../../store/x@1/share/b/f", forest.join("share/b/f"))
            .unwrap();
        for sub in ["", "bin", "share", "share/a", "share/a/deep", "share/b"] {
            age(&forest.join(sub), 3600);
        }
        fs_err::write(dir.path().join("generation.acl"), "").unwrap();
        fs_err::File::open(dir.path().join("generation.acl"))
            .unwrap()
            .file()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
            .unwrap();
        assert!(strays(&forest, Look::Changed).unwrap().strays.is_empty());
        fs_err::write(forest.join("share/a/deep/mine"), "mine").unwrap();
        fs_err::write(forest.join("share/b/also-mine"), "mine").unwrap();
        fs_err::create_dir(forest.join("bin/sub")).unwrap();
        fs_err::write(forest.join("bin/sub/nested"), "mine").unwrap();
        assert_eq!(
            strays(&forest, Look::Changed).unwrap().strays,
            [
                PathBuf::from("bin/sub/nested"),
                PathBuf::from("share/a/deep/mine"),
                PathBuf::from("share/b/also-mine"),
            ]
        );
    }

    /// The manifest ties with every directory of a forest sealed in the same clock tick, so
    /// every switch read every link of the forest it left. A clean look dates it: the next look
    /// reads nothing, and a directory changed since is looked at again.
    #[test]
    fn a_forest_found_clean_is_not_looked_at_again_until_it_changes() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let forest = dir.path().join("forest");
        fs_err::create_dir_all(forest.join("bin")).unwrap();
        fs_err::create_dir_all(forest.join("share/a")).unwrap();
        std::os::unix::fs::symlink("../../store/x@1/bin/x", forest.join("bin/x")).unwrap();
        std::os::unix::fs::symlink("../../../store/x@1/share/a/f", forest.join("share/a/f"))
            .unwrap();
        seal(&forest).unwrap();
        let latest = ["", "bin", "share", "share/a"]
            .iter()
            .map(|sub| fs_err::metadata(forest.join(sub)).unwrap())
            .map(|metadata| Timestamp::new(metadata.ctime(), metadata.ctime_nsec()))
            .max()
            .unwrap();
        let manifest = dir.path().join("generation.acl");
        fs_err::write(&manifest, "").unwrap();
        let tie = std::time::UNIX_EPOCH
            + std::time::Duration::from_nanos(u64::try_from(latest.0).unwrap());
        date_manifest(&manifest, tie);
        std::thread::sleep(std::time::Duration::from_millis(20));

        let first = strays(&forest, Look::Changed).unwrap();
        assert!(first.strays.is_empty());
        date_manifest(
            &manifest,
            first.mark.expect("a tie is looked at, then marked"),
        );
        let dated = fs_err::metadata(&manifest).unwrap();
        assert_eq!(
            Timestamp::new(dated.mtime(), dated.mtime_nsec()),
            Timestamp(latest.0 + 1)
        );
        let second = strays(&forest, Look::Changed).unwrap();
        assert!(second.strays.is_empty());
        assert_eq!(second.mark, None, "nothing was looked at");

        set_mode(&forest.join("bin"), 0o755).unwrap();
        fs_err::write(forest.join("bin/mine"), "mine").unwrap();
        assert_eq!(
            strays(&forest, Look::Changed).unwrap().strays,
            [PathBuf::from("bin/mine")]
        );
    }

    #[test]
    fn a_clean_look_dates_the_manifest_only_when_later_changes_show() {
        let latest = Timestamp::new(1_000, 123_456_789);
        let ms = |n: i128| Timestamp(latest.0 + n * 1_000_000);
        let mark = clean_mark(latest, ms(1)).unwrap();
        assert_eq!(
            mark.duration_since(std::time::UNIX_EPOCH).unwrap(),
            std::time::Duration::new(1_000, 123_456_790)
        );
        // The look started less than 1 ms on: a change made during it could get the same
        // timestamp as the latest.
        assert_eq!(clean_mark(latest, Timestamp(ms(1).0 - 1)), None);
        // Whole milliseconds: timestamps that coarse could round a later change down to it.
        assert_eq!(clean_mark(Timestamp::new(1_000, 5_000_000), ms(10)), None);
        assert_eq!(clean_mark(Timestamp::new(1_000, 0), ms(2_000)), None);
        assert_eq!(clean_mark(Timestamp::new(-1, 5), ms(10)), None);
    }
}
