//! `pandora profile list | create | switch | delete | history` and `pandora rollback`.

use crate::cli::{ProfileCommand, RollbackArgs};
use crate::commands::{render, Context};
use crate::exit::ExitStatus;
use crate::ops::profile;

/// Runs a `pandora profile` subcommand.
pub fn run(command: ProfileCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    match command {
        ProfileCommand::List => {
            let (active, profiles) = profile::list(layout)?;
            for (name, current) in profiles {
                let marker = if name == active { "*" } else { " " };
                let generation = current
                    .map(|g| format!("generation {}, {} package(s)", g.number, g.members.len()))
                    .unwrap_or_else(|| match profile::never_finished(layout, &name) {
                        Ok(()) => {
                            format!("never finished: `pandora profile create {name}` makes it")
                        }
                        Err(error) => format!(
                            "no current generation: {}",
                            pandora_core::error::chain(&error)
                        ),
                    });
                context
                    .printer
                    .data(format!("{marker} {name:<20} {generation}"));
            }
        }
        ProfileCommand::Create { name, from } => {
            profile::create(layout, &name, from.as_deref())?;
            context.printer.status("Created", format!("profile {name}"));
        }
        ProfileCommand::Switch { name } => {
            let switched = profile::switch(layout, context.home(), &name, &context.trust_policy())?;
            if switched.already_active {
                context
                    .printer
                    .status("Unchanged", format!("profile {name} was already active"));
            } else {
                context
                    .printer
                    .status("Switched", format!("to profile {name}"));
            }
            render::home_links(&context.printer, &switched.links);
            render::unfinished(&context.printer, &switched.warnings);
        }
        ProfileCommand::Delete { name } => {
            if !context
                .printer
                .confirm(&format!("Delete profile {name} and all its generations?"))?
            {
                return Ok(ExitStatus::NotConfirmed);
            }
            profile::delete(layout, &name)?;
            context.printer.status("Deleted", format!("profile {name}"));
        }
        ProfileCommand::History { name } => {
            let (_, entries) = profile::history(layout, name.as_deref())?;
            for entry in entries {
                context.printer.data(history_line(&entry));
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// One generation as `profile history` shows it: a `*` for the current one, its number, when
/// it was made, what it changed, and the command's own words.
fn history_line(entry: &profile::HistoryEntry) -> String {
    let generation = &entry.generation;
    let marker = if entry.current { "*" } else { " " };
    // Changes are measured from the generation this one was made from; after a rollback that
    // is not the one listed above it, so say which.
    let from = match entry.base {
        Some(base) if base + 1 != generation.number => format!(" (from generation {base})"),
        _ => String::new(),
    };
    let changes = match (&entry.changes, entry.base) {
        (Some(changes), _) if changes.is_empty() => format!("no package changed{from}"),
        (Some(changes), _) => format!(
            "{}{from}",
            changes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (None, Some(base)) => format!("made from generation {base} (pruned since)"),
        (None, None) => String::new(),
    };
    format!(
        "{marker} {:>4}  {}  {changes}  ({})",
        generation.number,
        pandora_core::time::rfc3339(u64::try_from(generation.created_at).unwrap_or(0)),
        generation.description
    )
}

/// `pandora rollback [--to N | --forward]`: another generation of the active profile becomes
/// current.
pub fn rollback(args: &RollbackArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let rolled = profile::rollback(
        &context.settings.layout,
        context.home(),
        &context.trust_policy(),
        args.target(),
    )?;
    if rolled.from == rolled.generation {
        context.printer.status(
            "Unchanged",
            format!(
                "profile {} is at generation {} already",
                rolled.profile, rolled.generation
            ),
        );
        return Ok(ExitStatus::Success);
    }
    let verb = if rolled.generation < rolled.from {
        "Rolled back"
    } else {
        "Rolled forward"
    };
    context.printer.status(
        verb,
        format!(
            "profile {} from generation {} to generation {}",
            rolled.profile, rolled.from, rolled.generation
        ),
    );
    render::home_links(&context.printer, &rolled.home);
    render::unfinished(&context.printer, &rolled.warnings);
    Ok(ExitStatus::Success)
}
