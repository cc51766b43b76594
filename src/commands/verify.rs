//! `pandora verify FILE.psp... | NAME@VERSION... | --all`: every check on package files, one
//! line each; installed packages re-hashed against their install records. Exit 0 only if all pass.

use std::path::Path;

use crate::cli::VerifyArgs;
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::format::package::{Outcome, Package, Scope};
use crate::profile::Profiles;
use crate::store::Store;
use crate::trust::{describe, TrustStore};

/// Verifies each target; returns failure if any check failed.
pub fn run(args: &VerifyArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let store = Store::new(&context.settings.layout);
    let installed: Vec<String> = if args.all {
        let records = store.records()?;
        if records.is_empty() {
            context.printer.status("Empty", "nothing is installed");
        }
        records.iter().map(|record| record.id()).collect()
    } else {
        Vec::new()
    };
    let targets: Vec<&str> = args
        .targets
        .iter()
        .map(String::as_str)
        .chain(installed.iter().map(String::as_str))
        .collect();
    let trust = TrustStore::load(&context.settings.trusted_key_dirs());
    let mut failed = 0;
    for target in &targets {
        let passed = if Path::new(target).is_file() {
            verify_file(Path::new(target), &trust, context)
        } else if target.contains('@') {
            verify_installed(&store, target, context)?
        } else {
            return Err(UserError::new(format!(
                "`{target}` is neither a file nor an installed NAME@VERSION"
            ))
            .hint("`pandora list` shows what is installed")
            .into());
        };
        if !passed {
            failed += 1;
        }
    }
    if args.all && !verify_active_profile(context)? {
        failed += 1;
    }
    if failed > 0 {
        context
            .printer
            .warn(format!("{failed} of {} failed verification", targets.len()));
        Ok(ExitStatus::Failure)
    } else {
        context
            .printer
            .status("Verified", format!("{} package(s)", targets.len()));
        Ok(ExitStatus::Success)
    }
}

/// `--all` also checks what `vir` shows: a complete generation linking only into the store.
fn verify_active_profile(context: &Context) -> anyhow::Result<bool> {
    let profiles = Profiles::new(&context.settings.layout);
    let (generation, problems) = profiles.check_active()?;
    if let Some(generation) = &generation {
        context.printer.data(format!(
            "profile {} (generation {}, {} package(s))",
            profiles.active()?,
            generation.number,
            generation.members.len()
        ));
        if problems.is_empty() {
            context
                .printer
                .data("  ok    every link leads into one of its packages");
        }
    }
    for problem in &problems {
        context.printer.data(format!("  FAIL  {problem}"));
    }
    Ok(problems.is_empty())
}

fn verify_installed(store: &Store, id: &str, context: &Context) -> anyhow::Result<bool> {
    let record = store.record(id)?.ok_or_else(|| {
        UserError::new(format!("{id} is not installed")).hint("`pandora list` shows what is")
    })?;
    let differences = store.verify(&record)?;
    context
        .printer
        .data(format!("{id} ({} entries)", record.entries.len()));
    if differences.is_empty() {
        context
            .printer
            .data("  ok    every file matches its install record");
    }
    for difference in &differences {
        context.printer.data(format!("  FAIL  {difference}"));
    }
    Ok(differences.is_empty())
}

fn verify_file(file: &Path, trust: &TrustStore, context: &Context) -> bool {
    context.printer.data(file.display());
    let package = match Package::open(file) {
        Ok(package) => package,
        Err(error) => {
            context
                .printer
                .data(format!("  FAIL  {:<20} {error}", "open"));
            return false;
        }
    };
    let (report, verified) = package.verify(Scope::Full);
    for check in &report.checks {
        let (status, detail) = match &check.outcome {
            Outcome::Pass(detail) => ("ok  ", detail.as_str()),
            Outcome::Fail(reason) => ("FAIL", reason.as_str()),
            Outcome::Skip => ("skip", "an earlier check failed"),
        };
        context
            .printer
            .data(format!("  {status}  {:<20} {detail}", check.name));
    }
    let mut passed = report.passed();
    if let Some(verified) = verified {
        let trusted = trust.trusts(&verified.public_key).is_some();
        let status = match (trusted, context.settings.require_trusted) {
            (true, _) => "ok  ",
            (false, true) => "FAIL",
            (false, false) => "note",
        };
        passed &= status != "FAIL";
        context.printer.data(format!(
            "  {status}  {:<20} signed by {}",
            "trust",
            describe(trust, &verified.public_key)
        ));
    }
    passed
}
