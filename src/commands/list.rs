//! `pandora list`: installed packages, or with `--remote` what the registries offer.

use crate::cli::ListArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::install::load_registries;
use crate::registry::download::{DownloadPolicy, Downloader};
use crate::store::Store;

/// One line per package on stdout.
pub fn run(args: &ListArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    if args.remote {
        let downloader = Downloader::new(DownloadPolicy::default())?;
        for (_, registry) in load_registries(
            &context.settings.layout,
            &downloader,
            args.offline,
            crate::registry::publish::now(),
        )? {
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
    let records = Store::new(&context.settings.layout).records()?;
    if records.is_empty() {
        context.printer.status("Empty", "nothing is installed");
        context
            .printer
            .hint("install something with `pandora install NAME`");
    }
    for record in records {
        context.printer.data(format!(
            "{:<24} {:<12} {}",
            record.name,
            record.version,
            record.registry.unwrap_or_else(|| "local".into())
        ));
    }
    Ok(ExitStatus::Success)
}
