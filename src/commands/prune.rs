//! `pandora prune`: deletes what nothing uses. With `--generations N`, old generations first,
//! then every store entry no remaining generation of any profile holds (the GC roots); always
//! downloaded packages no installed package came from, store entries without an install
//! record, and leftovers of interrupted downloads and installs.

use std::path::Path;

use crate::cli::PruneArgs;
use crate::commands::build::human_bytes;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::profile::Profiles;
use crate::store::Store;

/// Lists (on stdout) and deletes what nothing uses.
pub fn run(args: &PruneArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let store = Store::new(layout);
    let mut bytes = 0;
    let mut items = 0;
    if let Some(keep) = args.generations {
        let profiles = Profiles::new(layout);
        let pruned = profiles.prune_generations(keep, args.dry_run)?;
        for (profile, number) in &pruned {
            context
                .printer
                .data(format!("profile {profile} generation {number}"));
        }
        items += pruned.len();
        // A dry run's generations are still there: leave them out as a real run would have.
        let roots = || -> anyhow::Result<_> { Ok(profiles.roots(&pruned)?) };
        store.collect(roots, args.dry_run, |id, entry| {
            bytes += tree_size(entry);
            context.printer.data(id);
            items += 1;
        })?;
    }
    for path in store.unreferenced_blobs()? {
        bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        context.printer.data(path.display());
        items += 1;
        if !args.dry_run {
            std::fs::remove_file(&path)
                .map_err(|error| anyhow::anyhow!("cannot delete {}: {error}", path.display()))?;
        }
    }
    for path in store.orphans()? {
        bytes += tree_size(&path);
        context.printer.data(path.display());
        items += 1;
        if !args.dry_run {
            store.remove_orphan(&path)?;
        }
    }
    let verb = if args.dry_run { "Would free" } else { "Freed" };
    context
        .printer
        .status(verb, format!("{} in {items} item(s)", human_bytes(bytes)));
    Ok(ExitStatus::Success)
}

fn tree_size(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.metadata().ok())
        .filter(|metadata| metadata.is_file())
        .map(|metadata| metadata.len())
        .sum()
}
