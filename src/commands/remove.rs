//! `pandora remove NAME@VERSION...`: out of every profile, then out of the store, unless
//! something installed needs it.

use crate::cli::RemoveArgs;
use crate::commands::{render, Context};
use crate::exit::ExitStatus;
use crate::ops::activate::installed_id;
use crate::ops::remove::{check, holding_profiles, remove};

/// Removes after confirmation (or `--yes`); refuses while a dependent is installed unless `--force`.
pub fn run(args: &RemoveArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let ids = args
        .packages
        .iter()
        .map(|text| installed_id(layout, text))
        .collect::<Result<Vec<_>, _>>()?;
    check(layout, &ids, args.force)?;
    let holding = holding_profiles(layout, &ids)?;
    let question = if holding.is_empty() {
        format!("Remove {}?", ids.join(", "))
    } else {
        format!(
            "Remove {} (taking it out of profile {})?",
            ids.join(", "),
            holding.join(", ")
        )
    };
    if !context.printer.confirm(&question)? {
        return Ok(ExitStatus::NotConfirmed);
    }
    let removed = remove(layout, &ids, !args.no_hooks)?;
    for (id, message) in &removed.hook_messages {
        context.printer.warn(format!("{id}: {message}"));
    }
    for (profile, applied) in &removed.profiles {
        render::applied(&context.printer, profile, applied);
        render::unfinished(&context.printer, &applied.warnings);
    }
    for id in &removed.removed {
        context.printer.status("Removed", id);
    }
    for rescued in &removed.rescued {
        context.printer.warn(rescued);
    }
    if let Some(restore) = &removed.restore {
        context
            .printer
            .hint(format!("to undo this: `{}`", restore.command()));
        // Other profiles lost them too: each gets its own way back (after the reinstall).
        for (profile, generation) in &restore.elsewhere {
            context.printer.hint(format!(
                "profile {profile} held them at generation {generation}: `pandora profile switch {profile} && pandora rollback --to {generation}`, then switch back"
            ));
        }
    }
    Ok(ExitStatus::Success)
}
