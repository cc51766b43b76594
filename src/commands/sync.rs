//! `pandora sync [--profile P] [--lockfile FILE]`: makes a profile hold exactly what a lockfile
//! lists, downloading and installing what the store lacks, byte for byte what was locked.

use std::sync::Arc;

use crate::activation::{apply, Change};
use crate::cli::SyncArgs;
use crate::commands::activate::{link_user_dirs, report};
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::format::metadata::encode_hex;
use crate::install::{install, InstallOptions, Progress, Silent, Target};
use crate::profile::{Lockfile, Prefer, Profiles};
use crate::registry::download::DownloadPolicy;
use crate::resolver::Request;
use crate::store::Store;

/// Installs what the lockfile needs, then makes the profile's new generation from it.
pub fn run(args: &SyncArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let profiles = Profiles::new(layout);
    let profile = match &args.profile {
        Some(profile) => profile.clone(),
        None => profiles.active()?,
    };
    let (lockfile, source) = match &args.lockfile {
        Some(path) => (Lockfile::load(path)?, path.display().to_string()),
        None => (
            profiles.lockfile(&profile).map_err(|error| {
                UserError::new(format!("profile {profile} has no lockfile yet ({error})"))
                    .hint("name one with `--lockfile FILE`")
            })?,
            profiles.lockfile_path(&profile).display().to_string(),
        ),
    };
    let store = Store::new(layout);
    let mut missing = Vec::new();
    for locked in &lockfile.packages {
        match store.record(&locked.id())? {
            Some(record) if record.blob == locked.sha256 => {}
            Some(record) => {
                return Err(UserError::new(format!(
                    "{} is installed from SHA-256 {}, but the lockfile pins SHA-256 {}",
                    locked.id(),
                    encode_hex(&record.blob),
                    encode_hex(&locked.sha256)
                ))
                .hint(format!(
                    "nothing changed. To follow the lockfile, remove the installed one first: `pandora remove {}`",
                    locked.id()
                ))
                .into())
            }
            None if locked.registry.is_none() => {
                return Err(UserError::new(format!(
                    "{} was installed from a file ({}), so no registry can supply it",
                    locked.id(),
                    locked.source
                ))
                .hint("install that file with `pandora install --no-activate FILE`, then sync again")
                .into())
            }
            None => missing.push(locked.clone()),
        }
    }
    if !missing.is_empty() {
        let options = InstallOptions {
            targets: missing
                .iter()
                .map(|locked| {
                    Target::Named(Request {
                        name: locked.name.clone(),
                        version: Some(locked.version.clone()),
                    })
                })
                .collect(),
            reinstall: false,
            offline: args.offline,
            now: crate::registry::publish::now(),
            policy: DownloadPolicy::default(),
            locked: lockfile.packages.clone(),
        };
        let progress: Arc<dyn Progress> = Arc::new(Silent);
        let installed = install(layout, &options, &progress)?;
        context.printer.status(
            "Installed",
            format!(
                "{} package(s) the lockfile needs",
                installed.installed.len()
            ),
        );
    }
    let description = format!("synced from {source}");
    let applied = apply(
        layout,
        &profile,
        Change::Lock(&lockfile),
        Prefer::Neither,
        &description,
    )?;
    report(context, &profile, &applied);
    if profiles.active()? == profile {
        link_user_dirs(context)?;
    }
    Ok(ExitStatus::Success)
}
