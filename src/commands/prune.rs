//! `pandora prune`: deletes downloaded packages no installed package came from, store entries
//! without an install record, and leftovers of interrupted downloads and installs.

use crate::cli::PruneArgs;
use crate::commands::build::human_bytes;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::store::Store;

/// Lists (on stdout) and deletes what nothing uses.
pub fn run(args: &PruneArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let store = Store::new(&context.settings.layout);
    let mut bytes = 0;
    let unreferenced = store.unreferenced_blobs()?;
    for path in &unreferenced {
        bytes += std::fs::metadata(path)
            .map(|metadata| metadata.len())
            .unwrap_or(0);
        context.printer.data(path.display());
        if !args.dry_run {
            std::fs::remove_file(path)
                .map_err(|error| anyhow::anyhow!("cannot delete {}: {error}", path.display()))?;
        }
    }
    let orphans = store.orphans()?;
    for path in &orphans {
        bytes += walkdir::WalkDir::new(path)
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.metadata().ok())
            .filter(|metadata| metadata.is_file())
            .map(|metadata| metadata.len())
            .sum::<u64>();
        context.printer.data(path.display());
        if !args.dry_run {
            store.remove_orphan(path)?;
        }
    }
    let verb = if args.dry_run { "Would free" } else { "Freed" };
    context.printer.status(
        verb,
        format!(
            "{} in {} item(s)",
            human_bytes(bytes),
            unreferenced.len() + orphans.len()
        ),
    );
    Ok(ExitStatus::Success)
}
