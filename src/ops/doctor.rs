//! `pandora doctor`: checks that read and report, never change anything. Each check ends in a
//! level, a one-line finding and, when something is off, what to do about it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::registries;
use super::Result;
use crate::layout::Layout;
use crate::profile::{Profiles, HOME_DIRECTORIES};
use crate::registry::client::Freshness;
use crate::store::Store;
use crate::trust::Policy;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// As it should be.
    Ok,
    /// Works, but something deserves attention.
    Warn,
    /// Broken: Pandora, or what it installs, will not work as expected.
    Fail,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How it came out.
    pub level: Level,
    /// What was checked, in a word or two.
    pub check: String,
    /// What was found.
    pub detail: String,
    /// What to do, when something is off.
    pub hint: Option<String>,
}

/// What the checks need from outside the home.
#[derive(Debug, Clone)]
pub struct Environment<'a> {
    /// The user's home, where `bin` and friends are linked.
    pub home: Option<&'a Path>,
    /// `$PATH`.
    pub path: Option<&'a OsStr>,
    /// Where the launcher keeps work environments.
    pub workenv_cache: &'a Path,
    /// Whether to leave the registries alone.
    pub offline: bool,
    /// The current time (Unix seconds).
    pub now: i64,
    /// The trust policy, with the key sources it did not believe.
    pub trust: &'a Policy,
}

fn finding(level: Level, check: &str, detail: impl Into<String>, hint: Option<String>) -> Finding {
    Finding {
        level,
        check: check.to_string(),
        detail: detail.into(),
        hint,
    }
}

/// Runs every check.
pub fn doctor(layout: &Layout, environment: &Environment<'_>) -> Result<Vec<Finding>> {
    let mut findings = vec![home_writable(layout)];
    findings.extend(profile(layout));
    findings.extend(home_links(layout, environment.home));
    findings.push(path(layout, environment));
    let records = records(layout);
    // Unreadable records make every store entry look like a leftover: one finding says why.
    findings.push(match records.level {
        Level::Fail => finding(
            Level::Warn,
            "leftovers",
            "not looked for: the install records could not be read (see `records`)",
            None,
        ),
        _ => leftovers(layout),
    });
    findings.push(records);
    findings.push(sizes(layout, environment.workenv_cache));
    findings.extend(registries(layout, environment)?);
    findings.extend(environment.trust.store().rejected.iter().map(|rejected| {
        finding(
            Level::Warn,
            "trusted keys",
            format!("not believed: {rejected}"),
            Some("fix its owner or mode, or remove it".into()),
        )
    }));
    findings.push(clock(layout, environment.now));
    Ok(findings)
}

fn home_writable(layout: &Layout) -> Finding {
    let root = layout.root();
    match nix::unistd::access(root, nix::unistd::AccessFlags::W_OK) {
        Ok(()) => finding(Level::Ok, "home", root.display().to_string(), None),
        Err(_) if !root.exists() => finding(
            Level::Warn,
            "home",
            format!("{} does not exist yet", root.display()),
            Some(
                "it is created by the first command that writes, such as `pandora install`".into(),
            ),
        ),
        Err(error) => finding(
            Level::Fail,
            "home",
            format!("{} is not writable: {error}", root.display()),
            Some("fix its permissions, or point PANDORA_HOME elsewhere".into()),
        ),
    }
}

fn profile(layout: &Layout) -> Vec<Finding> {
    let profiles = Profiles::new(layout);
    if layout.vir().symlink_metadata().is_err() {
        let made: Vec<(String, u64)> = profiles
            .list()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|name| {
                let current = profiles.current(&name).ok().flatten()?;
                Some((name, current.number))
            })
            .collect();
        if let Some((name, number)) = made.first() {
            return vec![finding(
                Level::Fail,
                "profile",
                format!(
                    "{} is missing, although profile {name} has generation {number} (a command was interrupted)",
                    layout.vir().display()
                ),
                Some(format!("`pandora profile switch {name}` links it again")),
            )];
        }
    }
    match profiles.check_active() {
        Ok((None, problems)) if problems.is_empty() => vec![finding(
            Level::Ok,
            "profile",
            "nothing is active yet",
            None,
        )],
        Ok((Some(generation), problems)) if problems.is_empty() => vec![finding(
            Level::Ok,
            "profile",
            format!(
                "{} generation {}, {} package(s), every link resolves",
                profiles.active().unwrap_or_default(),
                generation.number,
                generation.members.len()
            ),
            None,
        )],
        Ok((_, problems)) => problems
            .into_iter()
            .map(|problem| {
                finding(
                    Level::Fail,
                    "profile",
                    problem,
                    Some("`pandora rollback` returns to the previous generation; `pandora verify --all` re-hashes the store".into()),
                )
            })
            .collect(),
        Err(error) => vec![finding(
            Level::Fail,
            "profile",
            pandora_core::error::chain(&error),
            pandora_core::Hint::hint(&error),
        )],
    }
}

fn home_links(layout: &Layout, home: Option<&Path>) -> Vec<Finding> {
    let Some(home) = home else {
        return vec![finding(
            Level::Warn,
            "~/bin",
            "HOME is not set, so nothing is linked into it",
            None,
        )];
    };
    let vir = layout.vir();
    let mut findings = Vec::new();
    for name in HOME_DIRECTORIES {
        let link = home.join(name);
        let target = vir.join(name);
        if !target.is_dir() {
            continue;
        }
        let detail = match fs_err::read_link(&link) {
            Ok(points) if points == target => finding(
                Level::Ok,
                &format!("~/{name}"),
                format!("-> {}", target.display()),
                None,
            ),
            Ok(points) => finding(
                Level::Warn,
                &format!("~/{name}"),
                format!(
                    "{} is a link to {}, not to the profile",
                    link.display(),
                    points.display()
                ),
                Some(format!("the profile's files are in {}", target.display())),
            ),
            Err(_) if link.symlink_metadata().is_ok() => finding(
                Level::Warn,
                &format!("~/{name}"),
                format!("{} is yours, so Pandora leaves it alone", link.display()),
                Some(format!(
                    "the profile's files are in {}; `pandora env` puts them on your paths",
                    target.display()
                )),
            ),
            Err(_) => finding(
                Level::Warn,
                &format!("~/{name}"),
                format!("{} is missing", link.display()),
                Some("the next activation links it (`pandora activate NAME`)".into()),
            ),
        };
        findings.push(detail);
    }
    findings
}

fn path(layout: &Layout, environment: &Environment<'_>) -> Finding {
    let wanted: Vec<PathBuf> = environment
        .home
        .map(|home| home.join("bin"))
        .into_iter()
        .chain([layout.vir().join("bin")])
        .collect();
    let on_path = environment
        .path
        .map(|path| std::env::split_paths(path).any(|entry| wanted.contains(&entry)))
        .unwrap_or(false);
    if on_path {
        finding(Level::Ok, "PATH", "holds the profile's bin directory", None)
    } else {
        finding(
            Level::Warn,
            "PATH",
            format!(
                "holds neither {}",
                wanted
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" nor ")
            ),
            Some("add `eval \"$(pandora env)\"` to your shell's start-up file".into()),
        )
    }
}

/// The install records: each must read, and the directory must be one only this user can
/// change, or nothing Pandora says about what is installed can be believed.
fn records(layout: &Layout) -> Finding {
    match Store::new(layout).readable_records() {
        Ok((records, damaged)) => match damaged.first() {
            None => finding(
                Level::Ok,
                "records",
                format!("{} install record(s) read", records.len()),
                None,
            ),
            Some(first) => finding(
                Level::Fail,
                "records",
                damaged
                    .iter()
                    .map(|error| pandora_core::error::chain(error))
                    .collect::<Vec<_>>()
                    .join("; "),
                pandora_core::Hint::hint(first),
            ),
        },
        Err(error) => finding(
            Level::Fail,
            "records",
            pandora_core::error::chain(&error),
            pandora_core::Hint::hint(&error),
        ),
    }
}

fn leftovers(layout: &Layout) -> Finding {
    let orphans = Store::new(layout).orphans().map_err(super::Error::from);
    let split = orphans
        .and_then(|orphans| super::prune::held_apart(layout, &Profiles::new(layout), &[], orphans));
    match split {
        // Kept by prune, and no leftover: what is missing is the record.
        Ok((held, _)) if !held.is_empty() => {
            let held: Vec<String> = held.into_iter().collect();
            finding(
                Level::Fail,
                "leftovers",
                format!(
                    "{} in the store and held by a generation, but without an install record",
                    held.join(", ")
                ),
                Some(format!(
                    "`pandora install --reinstall {}` writes the record again",
                    held.join(" ")
                )),
            )
        }
        Ok((_, orphans)) if orphans.is_empty() => {
            finding(Level::Ok, "leftovers", "no interrupted installs", None)
        }
        Ok((_, orphans)) => finding(
            Level::Warn,
            "leftovers",
            format!(
                "{} left by interrupted runs (such as {})",
                orphans.len(),
                orphans[0].display()
            ),
            Some("`pandora prune` removes them".into()),
        ),
        Err(error) => finding(
            Level::Fail,
            "leftovers",
            pandora_core::error::chain(&error),
            pandora_core::Hint::hint(&error),
        ),
    }
}

/// Bytes under `root`, links not followed.
fn size_of(root: &Path) -> u64 {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter_map(|entry| entry.metadata().ok())
        .filter(|metadata| metadata.is_file())
        .map(|metadata| metadata.len())
        .sum()
}

fn sizes(layout: &Layout, workenv_cache: &Path) -> Finding {
    let show = |bytes: u64| {
        let mut value = bytes as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit < 3 {
            value /= 1024.0;
            unit += 1;
        }
        format!("{value:.1} {}", ["B", "KiB", "MiB", "GiB"][unit])
    };
    finding(
        Level::Ok,
        "disk",
        format!(
            "store {}, downloads {}, index cache {}, launcher work environments {}",
            show(size_of(&layout.store_dir())),
            show(size_of(&layout.blobs_dir())),
            show(size_of(&layout.cache_dir())),
            show(size_of(workenv_cache)),
        ),
        None,
    )
}

fn registries(layout: &Layout, environment: &Environment<'_>) -> Result<Vec<Finding>> {
    // Reachable now, not as cached: the network unless told to stay off it.
    let freshness = if environment.offline {
        Freshness::Offline
    } else {
        Freshness::Refresh
    };
    let loaded = registries::read(layout, freshness)?;
    let mut findings: Vec<Finding> = loaded
        .loaded
        .iter()
        .map(|registry| {
            finding(
                Level::Ok,
                &format!("registry {}", registry.configured.name),
                format!(
                    "{} package(s), {}",
                    registry.index.index.package_count(),
                    registry
                        .index
                        .index
                        .serial
                        .map_or("no serial".to_string(), |serial| format!("serial {serial}"))
                ),
                None,
            )
        })
        .collect();
    findings.extend(loaded.failed.iter().map(|failed| {
        finding(
            Level::Warn,
            &format!("registry {}", failed.name),
            failed.describe(),
            pandora_core::Hint::hint(&failed.error),
        )
    }));
    if findings.is_empty() {
        findings.push(finding(
            Level::Warn,
            "registries",
            "none configured",
            Some("`pandora registry add NAME URL`".into()),
        ));
    }
    Ok(findings)
}

fn clock(layout: &Layout, now: i64) -> Finding {
    // 2025-01-01: nothing Pandora reads can have been made before it.
    const EARLIEST: i64 = 1_735_689_600;
    if now < EARLIEST {
        return finding(
            Level::Fail,
            "clock",
            format!("the time is {}, before 2025", pandora_core::time::rfc3339(now.max(0).unsigned_abs())),
            Some("set the clock: signed indexes expire, and a wrong time refuses or accepts them wrongly".into()),
        );
    }
    let profiles = Profiles::new(layout);
    let newest = profiles
        .list()
        .unwrap_or_default()
        .iter()
        .filter_map(|name| profiles.current(name).ok().flatten())
        .map(|generation| generation.created_at)
        .max();
    match newest {
        Some(newest) if newest > now + 300 => finding(
            Level::Warn,
            "clock",
            format!(
                "a generation was made at {}, after now ({})",
                pandora_core::time::rfc3339(newest.max(0).unsigned_abs()),
                pandora_core::time::rfc3339(now.max(0).unsigned_abs())
            ),
            Some("the clock went backwards: check it".into()),
        ),
        _ => finding(
            Level::Ok,
            "clock",
            pandora_core::time::rfc3339(now.max(0).unsigned_abs()),
            None,
        ),
    }
}
