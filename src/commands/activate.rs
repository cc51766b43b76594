//! `pandora activate NAME[@VERSION]...` and `pandora deactivate NAME...`.

use crate::cli::{ActivateArgs, DeactivateArgs};
use crate::commands::{plan, render, Context};
use crate::exit::ExitStatus;
use crate::ops::activate::{activate, deactivate, installed_id, preview};
use crate::ops::query::deprecated;

/// Activates installed packages in the active profile. Replacing the active version of a
/// package nobody named is asked about first (the rule `install` follows too).
pub fn run(args: &ActivateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let ids = args
        .packages
        .iter()
        .map(|text| installed_id(layout, text))
        .collect::<Result<Vec<_>, _>>()?;
    let preview = preview(layout, &ids, &|_| None)?;
    if !preview.unasked().is_empty() {
        plan::show_activation(context, &preview);
        if !plan::confirm_replacements(context, &preview)? {
            context.printer.hint("the profile was not changed");
            return Ok(ExitStatus::NotConfirmed);
        }
    }
    for id in deprecated(layout, &preview.joining)? {
        context
            .printer
            .warn(format!("{id}; it is activated all the same"));
    }
    let change = activate(
        layout,
        context.home(),
        &ids,
        args.layout.placement(),
        &context.trust_policy(),
        // Without --yes, the change must be the one previewed (and asked about, if it had to be).
        (!context.settings.assume_yes).then_some(&preview),
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
