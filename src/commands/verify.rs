//! `pandora verify FILE.psp... | NAME@VERSION... | --all`: every check on package files, one
//! line each; installed packages re-hashed against their install records. Exit 0 only if all pass.

use crate::cli::VerifyArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::verify::{verify, Status, Subject, VerifyOptions};

/// Verifies, printing every check on stdout.
pub fn run(args: &VerifyArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let options = VerifyOptions {
        targets: args.targets.clone(),
        all: args.all,
        trusted_key_dirs: context.settings.trusted_key_dirs(),
        require_trusted: context.settings.require_trusted,
        provenance: args.provenance,
    };
    let report = verify(&context.settings.layout, &options)?;
    if args.all && report.packages.len() == args.targets.len() {
        context.printer.status("Empty", "nothing is installed");
    }
    for subject in report.packages.iter().chain(&report.profile) {
        show(context, subject);
    }
    let failed = report.failed();
    let count = report.packages.len();
    if failed > 0 {
        context
            .printer
            .warn(format!("{failed} of {count} failed verification"));
        Ok(ExitStatus::Failure)
    } else {
        context
            .printer
            .status("Verified", format!("{count} package(s)"));
        Ok(ExitStatus::Success)
    }
}

fn show(context: &Context, subject: &Subject) {
    if !subject.title.is_empty() {
        context.printer.data(&subject.title);
    }
    for check in &subject.checks {
        let status = match check.status {
            Status::Ok => "ok  ",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
            Status::Note => "note",
        };
        if check.name.is_empty() {
            context
                .printer
                .data(format!("  {status}  {}", check.detail));
        } else {
            context
                .printer
                .data(format!("  {status}  {:<20} {}", check.name, check.detail));
        }
    }
}
