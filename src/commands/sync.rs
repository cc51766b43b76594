//! `pandora sync [--profile P] [--lockfile FILE]`: makes a profile hold exactly what a lockfile
//! lists, downloading and installing what the store lacks, byte for byte what was locked.

use crate::cli::SyncArgs;
use crate::commands::{render, Context};
use crate::exit::ExitStatus;
use crate::ops::sync::{sync, SyncOptions};

/// Installs what the lockfile needs, then makes the profile's new generation from it.
pub fn run(args: &SyncArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let options = SyncOptions {
        profile: args.profile.clone(),
        lockfile: args.lockfile.clone(),
        freshness: crate::registry::client::Freshness::from_flags(args.offline, args.refresh),
        trust: context.trust_policy(),
        download: context.settings.download,
        run_hooks: !args.no_hooks,
    };
    let synced = sync(
        &context.settings.layout,
        context.home(),
        &options,
        &render::showing_hooks(&context.printer, context.printer.download_progress()),
    )?;
    for (id, message) in &synced.installed.hook_messages {
        context.printer.warn(format!("{id}: {message}"));
    }
    if synced.installed.downloads > 0 || !synced.installed.installed.is_empty() {
        context.printer.status(
            "Installed",
            format!(
                "{} package(s) the lockfile needs",
                synced.installed.installed.len()
            ),
        );
    }
    // The lockfile decides, not the publisher: a deprecated (or yanked) version it pins is
    // activated, with the warning install and activate give.
    for id in crate::ops::query::deprecated(&context.settings.layout, &synced.change.applied.added)?
    {
        context.printer.warn(format!(
            "{id}; the lockfile pins it, so it is activated all the same"
        ));
    }
    render::profile_change(&context.printer, &synced.change);
    Ok(ExitStatus::Success)
}
