//! `pandora activate NAME[@VERSION]...` and `pandora deactivate NAME...`.

use crate::cli::{ActivateArgs, DeactivateArgs};
use crate::commands::{render, Context};
use crate::exit::ExitStatus;
use crate::ops::activate::{activate, deactivate, installed_id};

/// Activates installed packages in the active profile.
pub fn run(args: &ActivateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let ids = args
        .packages
        .iter()
        .map(|text| installed_id(layout, text))
        .collect::<Result<Vec<_>, _>>()?;
    let change = activate(
        layout,
        context.home(),
        &ids,
        args.layout.placement(),
        &context.trust_policy(),
    )?;
    render::profile_change(&context.printer, &change);
    Ok(ExitStatus::Success)
}

/// Takes packages out of the active profile.
pub fn deactivate_run(args: &DeactivateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let change = deactivate(&context.settings.layout, context.home(), &args.names)?;
    render::profile_change(&context.printer, &change);
    Ok(ExitStatus::Success)
}
