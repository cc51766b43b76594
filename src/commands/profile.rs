//! `pandora profile ...` and `pandora rollback`.

use crate::cli::ProfileCommand;
use crate::commands::activate::link_user_dirs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::profile::Profiles;

/// Runs a `pandora profile` subcommand.
pub fn run(command: ProfileCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    let profiles = Profiles::new(&context.settings.layout);
    match command {
        ProfileCommand::List => {
            let active = profiles.active()?;
            for name in profiles.list()? {
                let marker = if name == active { "*" } else { " " };
                let generation = profiles
                    .current(&name)?
                    .map(|g| format!("generation {}, {} package(s)", g.number, g.members.len()))
                    .unwrap_or_default();
                context
                    .printer
                    .data(format!("{marker} {name:<20} {generation}"));
            }
        }
        ProfileCommand::Create { name, from } => {
            profiles.create(&name, from.as_deref())?;
            context.printer.status("Created", format!("profile {name}"));
        }
        ProfileCommand::Switch { name } => {
            profiles.switch(&name)?;
            context
                .printer
                .status("Switched", format!("to profile {name}"));
            link_user_dirs(context)?;
        }
        ProfileCommand::Delete { name } => {
            if !context
                .printer
                .confirm(&format!("Delete profile {name} and all its generations?"))?
            {
                return Ok(ExitStatus::NotConfirmed);
            }
            profiles.delete(&name)?;
            context.printer.status("Deleted", format!("profile {name}"));
        }
        ProfileCommand::History { name } => {
            let name = match name {
                Some(name) => name,
                None => profiles.active()?,
            };
            let current = profiles.current(&name)?.map(|g| g.number);
            for generation in profiles.generations(&name)? {
                let marker = if Some(generation.number) == current {
                    "*"
                } else {
                    " "
                };
                context.printer.data(format!(
                    "{marker} {:>4}  {}  {}",
                    generation.number,
                    crate::build::rfc3339(u64::try_from(generation.created_at).unwrap_or(0)),
                    generation.description
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// `pandora rollback`: the active profile's previous generation becomes current.
pub fn rollback(context: &Context) -> anyhow::Result<ExitStatus> {
    let profiles = Profiles::new(&context.settings.layout);
    let name = profiles.active()?;
    let number = profiles.rollback(&name)?;
    context.printer.status(
        "Rolled back",
        format!("profile {name} to generation {number}"),
    );
    link_user_dirs(context)?;
    Ok(ExitStatus::Success)
}
