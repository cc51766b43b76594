//! `pandora search TERM`: names, descriptions and tags across registries, by priority.

use crate::cli::SearchArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::install::read_registries;

/// Prints matches as `NAME  VERSION  REGISTRY  DESCRIPTION` (deprecated ones marked).
pub fn run(args: &SearchArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let registries = read_registries(&context.settings.layout, args.offline)?;
    let term = args.term.to_lowercase();
    let mut found = 0;
    for (_, registry) in &registries {
        for package in &registry.index.packages {
            let haystack = format!(
                "{} {} {}",
                package.name,
                package.description.clone().unwrap_or_default(),
                package.tags.join(" ")
            )
            .to_lowercase();
            if !haystack.contains(&term) {
                continue;
            }
            found += 1;
            let deprecated = package
                .versions
                .iter()
                .find(|v| v.version == package.latest)
                .is_some_and(|v| v.deprecated);
            context.printer.data(format!(
                "{:<24} {:<12} {:<12} {}{}",
                package.name,
                package.latest,
                registry.name,
                package.description.clone().unwrap_or_default(),
                if deprecated { " (deprecated)" } else { "" }
            ));
        }
    }
    if found == 0 {
        context.printer.status(
            "Nothing",
            format!(
                "matches `{}` in {} registr{}",
                args.term,
                registries.len(),
                if registries.len() == 1 { "y" } else { "ies" }
            ),
        );
    }
    Ok(ExitStatus::Success)
}
