//! `pandora publish FILE.psp... --registry NAME`.

use crate::cli::PublishArgs;
use crate::commands::render;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::publish;

/// Publishes the files and reports each.
pub fn run(args: &PublishArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let report = publish::publish(
        &context.settings.layout,
        &render::publisher(&args.target, context),
        &args.files,
    )?;
    for package in &report.packages {
        let (verb, how) = match (package.added, package.uploaded) {
            (true, true) => ("Published", "uploaded"),
            (true, false) => ("Published", "already stored"),
            (false, _) => ("Unchanged", "already published with these bytes"),
        };
        context.printer.status(
            verb,
            format!("{} ({how}; sha256 {})", package.id, package.sha256),
        );
        context
            .printer
            .data(format!("{}\t{}", package.id, package.blob));
    }
    render::render_index(&report, context);
    Ok(ExitStatus::Success)
}
