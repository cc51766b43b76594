//! `pandora list`: the active profile's packages, everything in the store (`--store`), or what
//! the registries offer (`--remote`).

use crate::cli::ListArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::install::read_registries;
use crate::profile::Profiles;
use crate::store::Store;

/// One line per package on stdout.
pub fn run(args: &ListArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    if args.remote {
        for (_, registry) in read_registries(&context.settings.layout, args.offline)? {
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
    let layout = &context.settings.layout;
    let records = Store::new(layout).records()?;
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let active = profiles.members(&profile)?;
    let shown: Vec<_> = records
        .into_iter()
        .filter(|record| args.store || active.contains(&record.id()))
        .collect();
    if shown.is_empty() {
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
    for record in shown {
        let marker = if args.store && active.contains(&record.id()) {
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
