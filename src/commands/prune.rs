//! `pandora prune [--generations N] [--dry-run]`: lists (on stdout) and deletes what nothing
//! uses. Deleting generations asks first (they are what `rollback` returns to); caches
//! (launcher work environments unused for `--workenv-days`, rebuilt by the next start) and
//! leftovers alone do not.

use crate::cli::PruneArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::launcher::LaunchSettings;
use crate::ops::prune::{prune, Pruned, Workenvs};
use crate::printer::human_bytes;

/// Prunes, one line per item on stdout, then the total on stderr. With `--generations` (and
/// not `--dry-run`) what would go is measured first and the user asked (or `--yes`).
pub fn run(args: &PruneArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let launcher = LaunchSettings::from_environment(|name| std::env::var(name).ok());
    let workenvs = Workenvs {
        cache: &launcher.cache_root,
        unused_for: std::time::Duration::from_secs(args.workenv_days * 24 * 3600),
    };
    if args.generations.is_some() && !args.dry_run {
        let planned = prune(layout, args.generations, workenvs, true)?;
        let generations = planned
            .iter()
            .filter(|item| matches!(item, Pruned::Generation { .. }))
            .count();
        let packages = planned
            .iter()
            .filter(|item| matches!(item, Pruned::Package { .. }))
            .count();
        if generations + packages > 0 {
            let question = format!(
                "Delete {generations} generation(s) and {packages} package(s) no remaining generation holds ({} in {} item(s) with unused downloads and leftovers)?",
                human_bytes(total(&planned)),
                planned.len()
            );
            if !context.printer.confirm(&question)? {
                context
                    .printer
                    .status("Kept", "every generation and package");
                return Ok(ExitStatus::NotConfirmed);
            }
        }
    }
    let pruned = prune(layout, args.generations, workenvs, args.dry_run)?;
    for item in &pruned {
        match item {
            Pruned::Generation {
                profile, number, ..
            } => context
                .printer
                .data(format!("profile {profile} generation {number}")),
            Pruned::Package { id, .. } => context.printer.data(id),
            Pruned::Path { path, .. } | Pruned::Workenv { path, .. } => {
                context.printer.data(path.display());
            }
        }
        context
            .printer
            .detail(format!("{}: {}", item.label(), human_bytes(item.bytes())));
    }
    let verb = if args.dry_run { "Would free" } else { "Freed" };
    context.printer.status(
        verb,
        format!(
            "{} in {} item(s) (disk space allocated)",
            human_bytes(total(&pruned)),
            pruned.len()
        ),
    );
    Ok(ExitStatus::Success)
}

fn total(pruned: &[Pruned]) -> u64 {
    pruned.iter().map(Pruned::bytes).sum()
}
