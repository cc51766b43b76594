//! `pandora search TERM`: names, descriptions and tags across registries, by priority.

use crate::cli::SearchArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::query::search;

/// Prints matches as `NAME  VERSION  REGISTRY  DESCRIPTION` (deprecated ones marked).
pub fn run(args: &SearchArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let found = search(
        &context.settings.layout,
        &args.term,
        crate::registry::client::Freshness::from_flags(args.offline, args.refresh),
    )?;
    for warning in &found.warnings {
        context.printer.warn(warning);
    }
    let searched = found.searched;
    for (registry, package) in &found.packages {
        let deprecated = package
            .versions
            .iter()
            .find(|v| v.version == package.latest)
            .is_some_and(|v| v.deprecated);
        context.printer.data(format!(
            "{:<24} {:<12} {:<12} {}{}",
            package.name,
            package.latest,
            registry,
            package.description.clone().unwrap_or_default(),
            if deprecated { " (deprecated)" } else { "" }
        ));
    }
    if found.packages.is_empty() {
        context.printer.status(
            "Nothing",
            format!(
                "matches `{}` in {} registr{}",
                args.term,
                searched,
                if searched == 1 { "y" } else { "ies" }
            ),
        );
    }
    Ok(ExitStatus::Success)
}
