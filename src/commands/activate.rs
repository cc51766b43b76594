//! `pandora activate NAME@VERSION...`: a new generation of the active profile holding these
//! versions (and no other version of the same packages), then `$HOME/bin` and friends linked
//! into `vir` where the user has nothing of their own.

use std::path::Path;

use crate::cli::{ActivateArgs, PreferChoice};
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::profile::{Prefer, Profiles};
use crate::store::{Record, Store};

/// Activates installed packages in the active profile.
pub fn run(args: &ActivateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let store = Store::new(layout);
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let mut members = current_members(&profiles, &store, &profile)?;
    let mut activated = Vec::new();
    for id in &args.packages {
        let record = store.record(id)?.ok_or_else(|| {
            UserError::new(format!("{id} is not installed"))
                .hint(format!("install it first: `pandora install {id}`"))
        })?;
        members.retain(|member| member.name != record.name);
        activated.push(record.id());
        members.push(record);
    }
    let prefer = match args.prefer {
        None => Prefer::Neither,
        Some(PreferChoice::New) => Prefer::New,
        Some(PreferChoice::Existing) => Prefer::Existing,
    };
    let description = format!("activated {}", activated.join(", "));
    let number = profiles.commit(&profile, &members, prefer, &description)?;
    context.printer.status(
        "Activated",
        format!(
            "{} in profile {profile} (generation {number})",
            activated.join(", ")
        ),
    );
    link_user_dirs(context)?;
    Ok(ExitStatus::Success)
}

/// The records of what `profile`'s current generation holds, in precedence order.
pub fn current_members(
    profiles: &Profiles,
    store: &Store,
    profile: &str,
) -> anyhow::Result<Vec<Record>> {
    let Some(generation) = profiles.current(profile)? else {
        return Ok(Vec::new());
    };
    generation
        .members
        .iter()
        .map(|id| {
            store.record(id)?.ok_or_else(|| {
                UserError::new(format!(
                    "profile {profile} holds {id}, which is no longer in the store"
                ))
                .hint(format!("reinstall it with `pandora install {id}`"))
                .into()
            })
        })
        .collect()
}

/// Links `$HOME/NAME -> $PANDORA_HOME/vir/NAME` for each top-level directory of the active
/// forest where `$HOME/NAME` does not exist. A user's own file or directory is never touched.
pub fn link_user_dirs(context: &Context) -> anyhow::Result<()> {
    let Some(home) = &context.settings.user_home else {
        return Ok(());
    };
    let vir = context.settings.layout.vir();
    let Ok(entries) = std::fs::read_dir(&vir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let link = home.join(&name);
        let target = vir.join(&name);
        match std::fs::read_link(&link) {
            Ok(existing) if existing == target => continue,
            Err(_) if link.symlink_metadata().is_err() => {
                std::os::unix::fs::symlink(&target, &link).map_err(|source| {
                    anyhow::Error::new(source).context(format!("cannot create {}", link.display()))
                })?;
                context.printer.status(
                    "Linked",
                    format!("{} -> {}", link.display(), target.display()),
                );
            }
            _ => explain_user_owned(context, &link, &target),
        }
    }
    Ok(())
}

fn explain_user_owned(context: &Context, link: &Path, target: &Path) {
    context.printer.warn(format!(
        "{} is yours, so Pandora leaves it alone; its packages' files are in {}",
        link.display(),
        target.display()
    ));
    if link.file_name().is_some_and(|name| name == "bin") {
        context.printer.hint(format!(
            "add it to your PATH: export PATH=\"{}:$PATH\"",
            target.display()
        ));
    }
}
