//! `pandora registry add | list | remove | index`.

use crate::cli::{RegistryAddArgs, RegistryCommand, RegistryIndexArgs, RegistryRemoveArgs};
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::registry::{self, IndexRequest, NewRegistry};

/// Runs a `pandora registry` subcommand.
pub fn run(command: RegistryCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        RegistryCommand::Add(args) => add(&args, context),
        RegistryCommand::List => list(context),
        RegistryCommand::Remove(args) => remove(&args, context),
        RegistryCommand::Index(args) => index(&args, context),
    }
}

fn index(args: &RegistryIndexArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let published = registry::index(
        &context.settings.layout,
        IndexRequest {
            directory: args.directory.clone(),
            key: args.key_source(),
            expires_in_days: args.expires_in,
            name: args.name.clone(),
            priority: args.priority,
        },
    )?;
    let index = &published.index;
    let versions: usize = index
        .packages
        .iter()
        .map(|package| package.versions.len())
        .sum();
    context.printer.status(
        "Indexed",
        format!(
            "registry `{}`: {} package(s), {versions} version(s), serial {}, expires {}",
            index.name,
            index.packages.len(),
            index.serial,
            pandora_core::time::rfc3339(u64::try_from(index.expires).unwrap_or(0))
        ),
    );
    context.printer.data(published.path.display());
    Ok(ExitStatus::Success)
}

fn add(args: &RegistryAddArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let added = registry::add(
        &context.settings.layout,
        &NewRegistry {
            name: args.name.clone(),
            url: args.url.clone(),
            priority: args.priority,
            keys: args.keys.clone(),
            require_signatures: args.require_signatures,
            cache_ttl: args.cache_ttl,
        },
    )?;
    // A notice, not a failure: like other status output, `-q` leaves it out.
    if added.registry.keys.is_empty() && !context.settings.quiet {
        context.printer.warn(format!(
            "registry `{}` has no key: nothing from it is authenticated (its index and packages could be anyone's)",
            added.registry.name
        ));
        context.printer.hint(format!(
            "ask its operator for the key and add it: `pandora registry remove {0}` then `pandora registry add {0} {1} --key ed25519:HEX`",
            added.registry.name, added.registry.url
        ));
    }
    if let Some(same) = &added.same_url {
        context.printer.warn(format!(
            "registry `{same}` already uses {}",
            added.registry.url
        ));
    }
    context.printer.status(
        "Added",
        format!(
            "registry `{}` ({}) to {}",
            args.name,
            added.registry.url,
            added.file.display()
        ),
    );
    Ok(ExitStatus::Success)
}

fn list(context: &Context) -> anyhow::Result<ExitStatus> {
    let (registries, file) = registry::list(&context.settings.layout)?;
    if registries.is_empty() {
        context
            .printer
            .status("Empty", format!("no registries in {}", file.display()));
        context
            .printer
            .hint("add one with `pandora registry add NAME URL`");
        return Ok(ExitStatus::Success);
    }
    let rows: Vec<[String; 5]> = registries
        .iter()
        .map(|registry| {
            [
                registry.name.clone(),
                registry.priority.to_string(),
                if registry.require_signatures {
                    "required"
                } else {
                    "optional"
                }
                .to_string(),
                registry.keys.len().to_string(),
                registry.url.to_string(),
            ]
        })
        .collect();
    let header = ["NAME", "PRIORITY", "SIGNATURES", "KEYS", "URL"].map(str::to_string);
    let widths: Vec<usize> = (0..5)
        .map(|column| {
            rows.iter()
                .chain([&header])
                .map(|row| row[column].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in [&header].into_iter().chain(rows.iter()) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                if column == 4 {
                    cell.clone()
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        context.printer.data(line.join("  "));
    }
    if context.settings.verbose > 0 {
        for registry in &registries {
            for key in &registry.keys {
                context
                    .printer
                    .detail(format!("{} trusts {key}", registry.name));
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn remove(args: &RegistryRemoveArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let found = registry::find(layout, &args.name)?;
    let question = format!("Remove registry `{}` ({})?", found.name, found.url);
    if !context.printer.confirm(&question)? {
        context
            .printer
            .status("Kept", format!("registry `{}`", args.name));
        return Ok(ExitStatus::NotConfirmed);
    }
    let removed = registry::remove(layout, &args.name)?;
    context.printer.status(
        "Removed",
        format!("registry `{}` ({})", removed.name, removed.url),
    );
    Ok(ExitStatus::Success)
}
