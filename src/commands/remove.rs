//! `pandora remove NAME@VERSION...`: out of the store, unless something installed needs it.

use crate::activation::{apply, Change};
use crate::cli::RemoveArgs;
use crate::commands::activate::report;
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::profile::{Prefer, Profiles};
use crate::store::Store;

/// Removes after confirmation (or `--yes`); refuses while a dependent is installed unless `--force`.
pub fn run(args: &RemoveArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let store = Store::new(&context.settings.layout);
    let records = store.records()?;
    for id in &args.packages {
        if !records.iter().any(|record| &record.id() == id) {
            return Err(UserError::new(format!("{id} is not installed"))
                .hint("`pandora list` shows what is")
                .into());
        }
        let dependents: Vec<String> = records
            .iter()
            .filter(|record| {
                !args.packages.contains(&record.id()) && record.dependencies.contains(id)
            })
            .map(|record| record.id())
            .collect();
        if !dependents.is_empty() && !args.force {
            return Err(
                UserError::new(format!("{id} is needed by {}", dependents.join(", ")))
                    .hint(format!(
                        "remove them too (`pandora remove {} {id}`), or pass --force",
                        dependents.join(" ")
                    ))
                    .into(),
            );
        }
    }
    if !context
        .printer
        .confirm(&format!("Remove {}?", args.packages.join(", ")))?
    {
        return Ok(ExitStatus::NotConfirmed);
    }
    unlink_from_profiles(&args.packages, context)?;
    for id in &args.packages {
        store.remove(id)?;
        context.printer.status("Removed", id);
    }
    Ok(ExitStatus::Success)
}

/// Every profile whose current generation holds one of `ids` gets a new generation without
/// them, so no active link ever points at a store entry that is gone.
fn unlink_from_profiles(ids: &[String], context: &Context) -> anyhow::Result<()> {
    let layout = &context.settings.layout;
    let profiles = Profiles::new(layout);
    for profile in profiles.list()? {
        let holds = profiles
            .current(&profile)?
            .is_some_and(|generation| generation.members.iter().any(|id| ids.contains(id)));
        if !holds {
            continue;
        }
        let description = format!("removed {}", ids.join(", "));
        let applied = apply(
            layout,
            &profile,
            Change::Forget(ids),
            Prefer::Neither,
            &description,
        )?;
        report(context, &profile, &applied);
    }
    Ok(())
}
