//! Verifying packages: every check on `.psp` files, installed packages re-hashed against their
//! install records, and (with `all`) the active profile's links.

use std::path::{Path, PathBuf};

use super::{Error, Result};
use crate::format::package::{Outcome, Package, Scope};
use crate::layout::Layout;
use crate::profile::Profiles;
use crate::store::Store;
use crate::trust::{describe, TrustStore};

/// What to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Files and installed `name@version`s.
    pub targets: Vec<String>,
    /// Every installed package and the active profile too.
    pub all: bool,
    /// Directories of trusted keys.
    pub trusted_key_dirs: Vec<PathBuf>,
    /// An untrusted signer fails the file.
    pub require_trusted: bool,
    /// Check files' attestation and provenance too (`--provenance`).
    pub provenance: bool,
}

/// One check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Ok,
    /// Failed.
    Fail,
    /// Not run (an earlier check failed).
    Skip,
    /// Worth knowing, not a failure (an untrusted signer without `require_trusted`).
    Note,
}

/// One line of a subject's verification: a status, the check's name and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The outcome.
    pub status: Status,
    /// The check's name (empty for the store and profile checks, which have one each).
    pub name: String,
    /// What was found.
    pub detail: String,
}

/// Everything checked about one file, installed package or profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// What: a path, `name@version (N entries)`, or `profile P (...)`.
    pub title: String,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl Subject {
    /// Whether nothing failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.status != Status::Fail)
    }
}

/// The verification of everything asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Package files and installed packages, in the order given.
    pub packages: Vec<Subject>,
    /// The active profile, with `all`.
    pub profile: Option<Subject>,
}

impl Verification {
    /// How many subjects failed.
    pub fn failed(&self) -> usize {
        self.packages
            .iter()
            .chain(&self.profile)
            .filter(|subject| !subject.passed())
            .count()
    }
}

/// Verifies every target; a target that is neither a file nor an installed package is an
/// error before anything is checked.
pub fn verify(layout: &Layout, options: &VerifyOptions) -> Result<Verification> {
    let store = Store::new(layout);
    let installed: Vec<String> = if options.all {
        store.records()?.iter().map(|record| record.id()).collect()
    } else {
        Vec::new()
    };
    let trust = TrustStore::load(&options.trusted_key_dirs);
    let mut report = Verification::default();
    for target in options.targets.iter().chain(&installed) {
        let subject = if Path::new(target).is_file() {
            let mut subject = verify_file(Path::new(target), &trust, options.require_trusted);
            if options.provenance && subject.passed() {
                subject
                    .checks
                    .extend(super::provenance::check(layout, Path::new(target))?);
            }
            subject
        } else {
            verify_installed(&store, &super::activate::installed_id(layout, target)?)?
        };
        report.packages.push(subject);
    }
    if options.all {
        report.profile = verify_active_profile(layout)?;
    }
    Ok(report)
}

fn one(status: Status, detail: impl Into<String>) -> Check {
    Check {
        status,
        name: String::new(),
        detail: detail.into(),
    }
}

fn verify_active_profile(layout: &Layout) -> Result<Option<Subject>> {
    let profiles = Profiles::new(layout);
    let (generation, problems) = profiles.check_active()?;
    let mut checks: Vec<Check> = problems
        .iter()
        .map(|problem| one(Status::Fail, problem.clone()))
        .collect();
    let Some(generation) = generation else {
        return Ok((!checks.is_empty()).then(|| Subject {
            title: String::new(),
            checks,
        }));
    };
    if checks.is_empty() {
        checks.push(one(Status::Ok, "every link leads into one of its packages"));
    }
    Ok(Some(Subject {
        title: format!(
            "profile {} (generation {}, {} package(s))",
            profiles.active()?,
            generation.number,
            generation.members.len()
        ),
        checks,
    }))
}

fn verify_installed(store: &Store, id: &str) -> Result<Subject> {
    let record = store.record(id)?.ok_or_else(|| {
        Error::refused(
            format!("{id} is not installed"),
            "`pandora list` shows what is",
        )
    })?;
    let differences = store.verify(&record)?;
    let mut checks: Vec<Check> = differences
        .iter()
        .map(|difference| one(Status::Fail, difference.clone()))
        .collect();
    if checks.is_empty() {
        checks.push(one(Status::Ok, "every file matches its install record"));
    }
    Ok(Subject {
        title: format!("{id} ({} entries)", record.entries.len()),
        checks,
    })
}

fn verify_file(file: &Path, trust: &TrustStore, require_trusted: bool) -> Subject {
    let title = file.display().to_string();
    let package = match Package::open(file) {
        Ok(package) => package,
        Err(error) => {
            return Subject {
                title,
                checks: vec![Check {
                    status: Status::Fail,
                    name: "open".into(),
                    detail: error.to_string(),
                }],
            }
        }
    };
    let (report, verified) = package.verify(Scope::Full);
    let mut checks: Vec<Check> = report
        .checks
        .iter()
        .map(|check| {
            let (status, detail) = match &check.outcome {
                Outcome::Pass(detail) => (Status::Ok, detail.clone()),
                Outcome::Fail(reason) => (Status::Fail, reason.clone()),
                Outcome::Skip => (Status::Skip, "an earlier check failed".into()),
            };
            Check {
                status,
                name: check.name.to_string(),
                detail,
            }
        })
        .collect();
    if let Some(verified) = verified {
        let status = match (
            trust.trusts(&verified.public_key).is_some(),
            require_trusted,
        ) {
            (true, _) => Status::Ok,
            (false, true) => Status::Fail,
            (false, false) => Status::Note,
        };
        checks.push(Check {
            status,
            name: "trust".into(),
            detail: format!("signed by {}", describe(trust, &verified.public_key)),
        });
    }
    Subject { title, checks }
}
