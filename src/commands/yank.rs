//! `pandora yank NAME@VERSION --registry NAME [--undo]`.

use crate::cli::YankArgs;
use crate::commands::render;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::publish;

/// Yanks (or un-yanks) a version.
pub fn run(args: &YankArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let report = publish::yank(
        &context.settings.layout,
        &render::publisher(&args.target, context),
        &args.id,
        args.undo,
    )?;
    let state = if args.undo {
        "no longer yanked"
    } else {
        "yanked"
    };
    let already = if report.changed {
        ""
    } else {
        " (it already was)"
    };
    context.printer.status(
        if args.undo { "Unyanked" } else { "Yanked" },
        format!(
            "{} in registry `{}`: {state}{already}",
            args.id, report.registry
        ),
    );
    render::render_index(&report, context);
    Ok(ExitStatus::Success)
}
