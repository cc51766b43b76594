//! `pandora activate NAME@VERSION...` and `pandora deactivate NAME...`: a new generation of the
//! active profile, then `$HOME/bin` and friends linked into `vir` where the user has nothing
//! of their own.

use std::path::Path;

use crate::activation::{apply, Applied, Change};
use crate::cli::{ActivateArgs, DeactivateArgs, LayoutArgs, PreferChoice};
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::profile::{Prefer, Profiles};
use crate::store::{newest, Record, Store};

/// Activates installed packages in the active profile.
pub fn run(args: &ActivateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let records = Store::new(&context.settings.layout).records()?;
    let ids = args
        .packages
        .iter()
        .map(|text| installed_id(&records, text))
        .collect::<anyhow::Result<Vec<_>>>()?;
    activate(&ids, &args.layout, context)
}

/// Makes `ids` (installed `name@version`s) part of the active profile and reports it.
pub fn activate(
    ids: &[String],
    layout: &LayoutArgs,
    context: &Context,
) -> anyhow::Result<ExitStatus> {
    let profile = Profiles::new(&context.settings.layout).active()?;
    let change = Change::Activate {
        ids,
        namespace: layout.namespace,
    };
    let description = format!("activated {}", ids.join(", "));
    let applied = apply(
        &context.settings.layout,
        &profile,
        change,
        prefer(layout.prefer),
        &description,
    )?;
    report(context, &profile, &applied);
    link_user_dirs(context)?;
    Ok(ExitStatus::Success)
}

/// Takes packages out of the active profile.
pub fn deactivate(args: &DeactivateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let profile = Profiles::new(&context.settings.layout).active()?;
    let description = format!("deactivated {}", args.names.join(", "));
    let applied = apply(
        &context.settings.layout,
        &profile,
        Change::Deactivate(&args.names),
        Prefer::Neither,
        &description,
    )?;
    report(context, &profile, &applied);
    Ok(ExitStatus::Success)
}

/// `NAME@VERSION` as given, or for a bare `NAME` its newest installed version.
fn installed_id(records: &[Record], text: &str) -> anyhow::Result<String> {
    if text.contains('@') {
        return Ok(text.to_string());
    }
    match newest(records, |record| record.name == text) {
        Some(record) => Ok(record.id()),
        None => Err(UserError::new(format!("no version of {text} is installed"))
            .hint(format!("pandora install {text}"))
            .into()),
    }
}

/// The `--prefer` choice as the planner's rule.
pub fn prefer(choice: Option<PreferChoice>) -> Prefer {
    match choice {
        None => Prefer::Neither,
        Some(PreferChoice::New) => Prefer::New,
        Some(PreferChoice::Existing) => Prefer::Existing,
    }
}

/// One status line for what joined and what left.
pub fn report(context: &Context, profile: &str, applied: &Applied) {
    let mut parts = Vec::new();
    if !applied.added.is_empty() {
        parts.push(format!("+ {}", applied.added.join(", ")));
    }
    if !applied.removed.is_empty() {
        parts.push(format!("- {}", applied.removed.join(", ")));
    }
    if parts.is_empty() {
        parts.push("no package changed".into());
    }
    context.printer.status(
        "Profile",
        format!(
            "{profile} generation {}: {}",
            applied.generation,
            parts.join("; ")
        ),
    );
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
        context.printer.hint(
            "`pandora env` prints the lines that put them on your PATH: eval \"$(pandora env)\"",
        );
    }
}
