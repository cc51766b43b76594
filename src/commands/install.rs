//! `pandora install PACKAGE...`: the plan first (registries read, versions resolved, nothing
//! downloaded), shown and asked about on a terminal; then downloads, verification, the store,
//! and activation in the active profile.

use std::time::Instant;

use crate::cli::{InstallArgs, LayoutArgs, UpgradeArgs};
use crate::commands::{plan, render, Context};
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::ops::activate::{activate, preview};
use crate::ops::install::{execute, plan as plan_install, InstallOptions, Plan, Target};
use crate::ops::needs::outdated;
use crate::printer::human_bytes;
use crate::registry::client::Freshness;
use crate::resolver::Request;

/// Installs, then prints each newly installed `name@version` on stdout and a summary on stderr,
/// then activates what was asked for in the active profile (after asking, or with `--yes`).
pub fn run(args: &InstallArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let targets = args
        .packages
        .iter()
        .map(|text| {
            Target::parse(text).map_err(|reason| {
                UserError::new(format!("invalid package `{text}`: {reason}"))
                    .hint("write NAME, NAME@VERSION, or a path to a .psp file")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    install_targets(targets, args, context)
}

/// Installs the newest versions of active packages (the ones named, else every one the user
/// asked for) with their pins, as one install: the plan shown, asked, then activated.
pub fn upgrade(args: &UpgradeArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let freshness = Freshness::from_flags(args.offline, args.refresh);
    let (outdated, registries) = outdated(layout, freshness)?;
    let active = crate::ops::query::installed(layout, false)?;
    for name in &args.packages {
        if !active
            .packages
            .iter()
            .any(|(record, _)| &record.name == name)
        {
            return Err(UserError::new(format!(
                "{name} is not in profile {}",
                active.profile
            ))
            .hint("`pandora list` shows what is active; `pandora install NAME` adds a package")
            .into());
        }
    }
    let chosen: Vec<_> = outdated
        .iter()
        .filter(|found| {
            let name = pandora_core::id::name_of(&found.id);
            if args.packages.is_empty() {
                found.requested
            } else {
                args.packages.iter().any(|wanted| wanted == name)
            }
        })
        .collect();
    if chosen.is_empty() {
        for warning in registries.warnings() {
            context.printer.warn(warning);
        }
        context.printer.status("Up to date", "nothing to upgrade");
        return Ok(ExitStatus::Success);
    }
    let targets = chosen
        .iter()
        .map(|found| {
            Target::Named(Request {
                name: pandora_core::id::name_of(&found.id).to_string(),
                version: Some(found.latest.clone()),
            })
        })
        .collect();
    let install = InstallArgs {
        packages: Vec::new(),
        reinstall: false,
        offline: args.offline,
        refresh: args.refresh,
        no_activate: false,
        no_hooks: args.no_hooks,
        layout: LayoutArgs {
            prefer: None,
            namespace: false,
        },
    };
    install_targets(targets, &install, context)
}

/// Plans, asks, installs and activates `targets`.
fn install_targets(
    targets: Vec<Target>,
    args: &InstallArgs,
    context: &Context,
) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let options = InstallOptions {
        targets,
        reinstall: args.reinstall,
        freshness: Freshness::from_flags(args.offline, args.refresh),
        now: pandora_core::time::now(),
        policy: context.settings.download,
        locked: Vec::new(),
        trust: context.trust_policy(),
        run_hooks: !args.no_hooks,
    };
    let layout = &context.settings.layout;
    let plan = plan_install(layout, &options)?;
    if !args.no_activate && !context.settings.assume_yes && !context.settings.interactive {
        // Refused after the plan (so what cannot be installed at all says so first) and before
        // anything is downloaded.
        return Err(UserError::new(
            "install activates what it installs after asking, and standard input is not a terminal",
        )
        .hint("pass --yes to activate, or --no-activate to only install into the store")
        .status(ExitStatus::NotConfirmed)
        .into());
    }
    for warning in plan.warnings() {
        context.printer.warn(warning);
    }
    for id in &plan.deprecated {
        context
            .printer
            .warn(format!("{id}; it is installed all the same"));
    }
    let preview = if args.no_activate {
        None
    } else {
        Some(preview(layout, &plan.requested, &|id| plan.pins(id))?)
    };
    // (A reinstall rebuilds every profile that holds what it replaced, the active one too.)
    let activating = preview
        .as_ref()
        .is_some_and(|preview| !preview.changes_nothing() || args.layout.namespace);
    if let Some(preview) = &preview {
        if context.settings.interactive && !context.settings.assume_yes {
            if plan.installs_nothing() && !activating {
                return Ok(nothing_to_do(&plan, context));
            }
            show(&plan, context);
            plan::show_activation(context, preview);
            if !context.printer.confirm("Proceed?")? {
                context
                    .printer
                    .hint("nothing was downloaded, installed or activated");
                return Ok(ExitStatus::NotConfirmed);
            }
        } else if activating {
            for replaced in &preview.replaced {
                context
                    .printer
                    .status("Replace", plan::replacement(replaced));
            }
        }
    }
    for file in &plan.files {
        if !file.hooks.is_empty() {
            let what = if args.no_hooks { "Skipping" } else { "Hooks" };
            context.printer.status(
                what,
                format!(
                    "{}: {}{}",
                    file.id,
                    render::hooks(&file.hooks),
                    if args.no_hooks {
                        " (not run: --no-hooks)"
                    } else {
                        " (run in the sandbox)"
                    }
                ),
            );
        }
    }
    let requested = plan.requested.clone();
    let progress = render::showing_hooks(&context.printer, context.printer.download_progress());
    let report = execute(layout, plan, &options, &progress)?;
    for (id, message) in &report.hook_messages {
        context.printer.warn(format!("{id}: {message}"));
    }
    for rescued in &report.rescued {
        context.printer.warn(rescued);
    }
    for (profile, applied) in &report.rebuilt {
        render::applied(&context.printer, profile, applied);
    }
    for id in &report.installed {
        context.printer.data(id);
    }
    for package in &report.untrusted {
        context.printer.warn(format!(
            "{package} (PANDORA_REQUIRE_TRUSTED=1 would refuse it)"
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
    if !activating {
        return Ok(ExitStatus::Success);
    }
    let change = activate(
        layout,
        context.home(),
        &requested,
        args.layout.placement(),
        &context.trust_policy(),
        // Without --yes, the change must be the one shown and agreed to.
        preview.as_ref().filter(|_| !context.settings.assume_yes),
    )
    .map_err(|error| {
        // What is installed stays installed: say so, and how to activate it, unless the
        // failure carries its own advice.
        let error = anyhow::Error::from(error);
        if crate::error::find_hint(&error).is_some() {
            return error;
        }
        error.context(
            UserError::new(format!(
                "{} installed, but activating failed",
                requested.join(", ")
            ))
            .hint(format!(
                "once the cause is fixed, `pandora activate {}` activates what was installed; `pandora list` shows what is active",
                requested.join(" ")
            )),
        )
    })?;
    render::profile_change(&context.printer, &change);
    Ok(ExitStatus::Success)
}

/// Everything asked for is installed and active already.
fn nothing_to_do(plan: &Plan, context: &Context) -> ExitStatus {
    context.printer.status(
        "Unchanged",
        format!("{} installed and active already", plan.requested.join(", ")),
    );
    ExitStatus::Success
}

/// What will be installed and downloaded.
fn show(plan: &Plan, context: &Context) {
    let mut installing: Vec<String> = plan.needed.iter().map(|resolved| resolved.id()).collect();
    installing.extend(plan.files.iter().map(|file| file.id.clone()));
    if installing.is_empty() {
        return;
    }
    let bytes: u64 = plan.downloads.iter().map(|(_, size)| size).sum();
    let download = if plan.downloads.is_empty() {
        String::new()
    } else {
        format!(" ({} to download)", human_bytes(bytes))
    };
    context
        .printer
        .status("Install", format!("{}{download}", installing.join(", ")));
}
