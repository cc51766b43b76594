//! `pandora install PACKAGE...`: registries, resolution, downloads, verification, the store;
//! then, after asking (or with `--yes`), activation in the active profile.

use std::time::Instant;

use crate::cli::InstallArgs;
use crate::commands::{render, Context};
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::ops::activate::activate;
use crate::ops::install::{install, InstallOptions, Target};
use crate::ops::query::active_profile;
use crate::printer::human_bytes;

/// Installs, then prints each newly installed `name@version` on stdout and a summary on stderr,
/// then activates what was asked for in the active profile (after asking, or with `--yes`).
pub fn run(args: &InstallArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    if !args.no_activate && !context.settings.assume_yes && !context.settings.interactive {
        // Asked before anything is downloaded, so a script learns it at once.
        return Err(UserError::new(
            "install activates what it installs after asking, and standard input is not a terminal",
        )
        .hint("pass --yes to activate, or --no-activate to only install into the store")
        .status(ExitStatus::NotConfirmed)
        .into());
    }
    let targets = args
        .packages
        .iter()
        .map(|text| {
            Target::parse(text).map_err(|reason| {
                UserError::new(format!("invalid package {reason}"))
                    .hint("write NAME, NAME@VERSION, or a path to a .psp file")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = InstallOptions {
        targets,
        reinstall: args.reinstall,
        freshness: crate::registry::client::Freshness::from_flags(args.offline, args.refresh),
        now: pandora_core::time::now(),
        policy: context.settings.download,
        locked: Vec::new(),
        trust: context.trust_policy(),
    };
    let layout = &context.settings.layout;
    let report = install(layout, &options, &context.printer.download_progress())?;
    for id in &report.installed {
        context.printer.data(id);
    }
    for warning in &report.warnings {
        context.printer.warn(warning);
    }
    for package in &report.untrusted {
        context.printer.warn(format!(
            "{package} is signed by a key you do not trust (PANDORA_REQUIRE_TRUSTED=1 would refuse it)"
        ));
    }
    context.printer.status(
        "Installed",
        format!(
            "{} package(s), {} already present; {} downloaded ({}) in {:.2}s",
            report.installed.len(),
            report.already.len(),
            report.downloads,
            human_bytes(report.downloaded_bytes),
            started.elapsed().as_secs_f64()
        ),
    );
    if args.no_activate {
        return Ok(ExitStatus::Success);
    }
    let (profile, active) = active_profile(layout)?;
    if report.requested.iter().all(|id| active.contains(id)) && !args.layout.namespace {
        return Ok(ExitStatus::Success);
    }
    let question = format!(
        "Activate {} in profile {profile}?",
        report.requested.join(", ")
    );
    if !context.printer.confirm(&question)? {
        context.printer.hint(format!(
            "installed but not active; later: `pandora activate {}`",
            report.requested.join(" ")
        ));
        return Ok(ExitStatus::NotConfirmed);
    }
    let change = activate(
        layout,
        context.home(),
        &report.requested,
        args.layout.placement(),
        &context.trust_policy(),
    )?;
    render::profile_change(&context.printer, &change);
    Ok(ExitStatus::Success)
}
