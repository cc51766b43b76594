//! `pandora list`: the active profile's packages, everything in the store (`--store`), or what
//! the registries offer (`--remote`).

use crate::cli::ListArgs;
use crate::commands::{render, Context};
use crate::exit::ExitStatus;
use crate::ops::query::{installed, remote};

/// One line per package on stdout, `name@version` first so it can be pasted into commands.
pub fn run(args: &ListArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    if args.remote {
        let registries = remote(
            &context.settings.layout,
            crate::registry::client::Freshness::from_flags(args.offline, args.refresh),
        )?;
        for warning in registries.warnings() {
            context.printer.warn(warning);
        }
        let mut rows = Vec::new();
        for loaded in &registries.loaded {
            let registry = &loaded.index;
            for package in registry.index.packages() {
                for version in package.versions.iter().rev() {
                    rows.push(render::offered(&registry.name, package, version));
                }
            }
        }
        render::table(&context.printer, &rows);
        return Ok(ExitStatus::Success);
    }
    let listing = installed(&context.settings.layout, args.store)?;
    for damaged in &listing.damaged {
        context
            .printer
            .warn(pandora_core::error::chain(damaged).replace('\n', "\n  "));
        if let Some(hint) = pandora_core::Hint::hint(damaged) {
            context.printer.hint(hint);
        }
    }
    let profile = &listing.profile;
    if listing.packages.is_empty() {
        if args.store {
            context.printer.status("Empty", "nothing is installed");
        } else {
            context
                .printer
                .status("Empty", format!("profile {profile} holds nothing"));
        }
        context
            .printer
            .hint("install something with `pandora install NAME`");
    }
    let rows: Vec<Vec<String>> = listing
        .packages
        .iter()
        .map(|(record, active)| {
            let mut row = vec![
                record.id(),
                record.registry.clone().unwrap_or_else(|| "local".into()),
            ];
            if args.store && *active {
                row.push("(active)".into());
            }
            row
        })
        .collect();
    render::table(&context.printer, &rows);
    Ok(ExitStatus::Success)
}
