//! `pandora why`, `owner`, `outdated` and `autoremove`: what needs what.

use crate::cli::{OutdatedArgs, OwnerArgs, WhyArgs};
use crate::commands::{render, Context};
use crate::exit::ExitStatus;
use crate::ops::activate::installed_id;
use crate::ops::needs;

/// The chains from what the user asked for down to the package, one per line on stdout.
pub fn why(args: &WhyArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let id = installed_id(layout, &args.package)?;
    let why = needs::why(layout, &id)?;
    let printer = &context.printer;
    if !why.active {
        printer.status(
            "Inactive",
            format!("{id} is installed but not in profile {}", why.profile),
        );
    } else if why.requested {
        printer.status("Requested", format!("you asked for {id}"));
    }
    for chain in &why.chains {
        printer.data(chain.join(" -> "));
    }
    for dependent in &why.pinned_by_inactive {
        printer.status(
            "Pinned",
            format!("by {dependent} (installed, not in profile {})", why.profile),
        );
    }
    if why.active && why.chains.is_empty() {
        printer.status("Unneeded", format!("nothing you asked for needs {id}"));
        printer.hint("`pandora autoremove` takes such packages out of the profile");
    }
    Ok(ExitStatus::Success)
}

/// `name@version  FILE` on stdout.
pub fn owner(args: &OwnerArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let owner = needs::owner(&context.settings.layout, &args.path)?;
    render::table(
        &context.printer,
        &[vec![owner.id.clone(), owner.file.clone()]],
    );
    if !owner.active {
        context.printer.status(
            "Inactive",
            format!("{} is not in the active profile", owner.id),
        );
    }
    Ok(ExitStatus::Success)
}

/// `name@version  LATEST  REGISTRY` for each active package with a newer version.
pub fn outdated(args: &OutdatedArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let freshness = crate::registry::client::Freshness::from_flags(args.offline, args.refresh);
    let (outdated, registries) = needs::outdated(&context.settings.layout, freshness)?;
    for warning in registries.warnings() {
        context.printer.warn(warning);
    }
    if outdated.is_empty() {
        context
            .printer
            .status("Up to date", "no active package has a newer version");
        return Ok(ExitStatus::Success);
    }
    let rows: Vec<Vec<String>> = outdated
        .iter()
        .map(|found| {
            vec![
                found.id.clone(),
                found.latest.clone(),
                found.registry.clone(),
                if found.requested {
                    String::new()
                } else {
                    "(dependency)".into()
                },
            ]
        })
        .collect();
    render::table(&context.printer, &rows);
    context
        .printer
        .hint("`pandora upgrade` installs the newest versions of what you asked for");
    Ok(ExitStatus::Success)
}

/// Shows the active dependencies nothing asked for needs, asks, and takes them out.
pub fn autoremove(context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let (profile, unneeded) = needs::unneeded(layout)?;
    if unneeded.is_empty() {
        context.printer.status(
            "Nothing",
            format!("to remove: profile {profile} needs everything it holds"),
        );
        return Ok(ExitStatus::Success);
    }
    context.printer.status(
        "Unneeded",
        format!("{} (nothing you asked for needs them)", unneeded.join(", ")),
    );
    if !context.printer.confirm(&format!(
        "Take {} package(s) out of profile {profile}?",
        unneeded.len()
    ))? {
        context.printer.hint("the profile was not changed");
        return Ok(ExitStatus::NotConfirmed);
    }
    let change = needs::autoremove(layout, context.home(), &unneeded)?;
    render::profile_change(&context.printer, &change);
    context.printer.hint(
        "they stay in the store (and in older generations); `pandora prune --generations N` frees the space once no generation holds them",
    );
    Ok(ExitStatus::Success)
}
