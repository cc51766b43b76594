//! `pandora verify FILE...`: every check, one line each; exit 0 only if all pass.

use crate::cli::VerifyArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::format::package::{Outcome, Package, Scope};
use crate::trust::{describe, TrustStore};

/// Verifies each package fully (slot data included).
pub fn run(args: &VerifyArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let store = TrustStore::load(&context.settings.trusted_key_dirs());
    let mut failed = 0;
    for file in &args.files {
        context.printer.data(file.display());
        let package = match Package::open(file) {
            Ok(package) => package,
            Err(error) => {
                context
                    .printer
                    .data(format!("  FAIL  open                 {error}"));
                failed += 1;
                continue;
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
            let trusted = store.trusts(&verified.public_key).is_some();
            let status = match (trusted, context.settings.require_trusted) {
                (true, _) => "ok  ",
                (false, true) => "FAIL",
                (false, false) => "note",
            };
            passed &= status != "FAIL";
            context.printer.data(format!(
                "  {status}  {:<20} signed by {}",
                "trust",
                describe(&store, &verified.public_key)
            ));
        }
        if !passed {
            failed += 1;
        }
    }
    if failed > 0 {
        context.printer.warn(format!(
            "{failed} of {} package(s) failed verification",
            args.files.len()
        ));
        Ok(ExitStatus::Failure)
    } else {
        context
            .printer
            .status("Verified", format!("{} package(s)", args.files.len()));
        Ok(ExitStatus::Success)
    }
}
