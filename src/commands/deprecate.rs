//! `pandora deprecate NAME[@VERSION] --registry NAME --message MSG [--undo]`.

use crate::cli::DeprecateArgs;
use crate::commands::render;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::publish;

/// Deprecates (or un-deprecates) a package or a version.
pub fn run(args: &DeprecateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let message = if args.undo {
        None
    } else {
        args.message.as_deref()
    };
    let report = publish::deprecate(
        &context.settings.layout,
        &render::publisher(&args.target, context),
        &args.id,
        message,
    )?;
    let already = if report.changed {
        ""
    } else {
        " (it already was)"
    };
    let what = match message {
        Some(message) => format!("deprecated: {message}"),
        None => "no longer deprecated".to_string(),
    };
    context.printer.status(
        if args.undo {
            "Undeprecated"
        } else {
            "Deprecated"
        },
        format!(
            "{} in registry `{}`: {what}{already}",
            args.id, report.registry
        ),
    );
    render::render_index(&report, context);
    Ok(ExitStatus::Success)
}
