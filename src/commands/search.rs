//! `pandora search TERM`: names, descriptions and tags across registries, by priority.

use crate::cli::SearchArgs;
use crate::commands::{render, Context};
use crate::exit::ExitStatus;
use crate::ops::query::search;

/// Prints each match's latest version as `list --remote` prints versions:
/// `NAME@VERSION  REGISTRY  DESCRIPTION` (deprecated ones marked).
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
    let rows: Vec<Vec<String>> = found
        .packages
        .iter()
        .filter_map(|(registry, package)| {
            let latest = package
                .versions
                .iter()
                .find(|version| version.version == package.latest)?;
            Some(render::offered(registry, package, latest))
        })
        .collect();
    render::table(&context.printer, &rows);
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
