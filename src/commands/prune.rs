//! `pandora prune [--generations N] [--dry-run]`: lists (on stdout) and deletes what nothing
//! uses.

use crate::cli::PruneArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::prune::{prune, Pruned};
use crate::printer::human_bytes;

/// Prunes, one line per item on stdout, then the total on stderr.
pub fn run(args: &PruneArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let pruned = prune(&context.settings.layout, args.generations, args.dry_run)?;
    for item in &pruned {
        match item {
            Pruned::Generation { profile, number } => context
                .printer
                .data(format!("profile {profile} generation {number}")),
            Pruned::Package { id, .. } => context.printer.data(id),
            Pruned::Path { path, .. } => context.printer.data(path.display()),
        }
    }
    let bytes: u64 = pruned.iter().map(Pruned::bytes).sum();
    let verb = if args.dry_run { "Would free" } else { "Freed" };
    context.printer.status(
        verb,
        format!("{} in {} item(s)", human_bytes(bytes), pruned.len()),
    );
    Ok(ExitStatus::Success)
}
