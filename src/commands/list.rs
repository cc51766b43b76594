//! `pandora list`: the active profile's packages, everything in the store (`--store`), or what
//! the registries offer (`--remote`).

use crate::cli::ListArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::query::{installed, remote};

/// One line per package on stdout.
pub fn run(args: &ListArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    if args.remote {
        let registries = remote(
            &context.settings.layout,
            crate::registry::client::Freshness::from_flags(args.offline, args.refresh),
        )?;
        for warning in registries.warnings() {
            context.printer.warn(warning);
        }
        for loaded in &registries.loaded {
            let registry = &loaded.index;
            for package in &registry.index.packages {
                let versions: Vec<&str> = package
                    .versions
                    .iter()
                    .map(|v| v.version.as_str())
                    .collect();
                context.printer.data(format!(
                    "{:<24} {:<12} {}",
                    package.name,
                    registry.name,
                    versions.join(" ")
                ));
            }
        }
        return Ok(ExitStatus::Success);
    }
    let listing = installed(&context.settings.layout, args.store)?;
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
    for (record, active) in &listing.packages {
        let marker = if args.store && *active {
            "  (active)"
        } else {
            ""
        };
        context.printer.data(format!(
            "{:<24} {:<12} {}{marker}",
            record.name,
            record.version,
            record.registry.as_deref().unwrap_or("local")
        ));
    }
    Ok(ExitStatus::Success)
}
