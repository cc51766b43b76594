//! `pandora profile list | create | switch | delete | history` and `pandora rollback`.

use crate::cli::ProfileCommand;
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
                    .unwrap_or_default();
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
            let (links, warnings) =
                profile::switch(layout, context.home(), &name, &context.trust_policy())?;
            context
                .printer
                .status("Switched", format!("to profile {name}"));
            render::home_links(&context.printer, &links);
            render::unfinished(&context.printer, &warnings);
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
            let (current, generations) = profile::history(layout, name.as_deref())?;
            for generation in generations {
                let marker = if Some(generation.number) == current {
                    "*"
                } else {
                    " "
                };
                context.printer.data(format!(
                    "{marker} {:>4}  {}  {}",
                    generation.number,
                    pandora_core::time::rfc3339(u64::try_from(generation.created_at).unwrap_or(0)),
                    generation.description
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// `pandora rollback`: the active profile's previous generation becomes current.
pub fn rollback(context: &Context) -> anyhow::Result<ExitStatus> {
    let rolled = profile::rollback(
        &context.settings.layout,
        context.home(),
        &context.trust_policy(),
    )?;
    context.printer.status(
        "Rolled back",
        format!(
            "profile {} to generation {}",
            rolled.profile, rolled.generation
        ),
    );
    render::home_links(&context.printer, &rolled.home);
    render::unfinished(&context.printer, &rolled.warnings);
    Ok(ExitStatus::Success)
}
