//! `pandora registry add | list | remove`: edits `registries.acl` under a lock, atomically.

use anyhow::Context as _;

use crate::cli::{RegistryAddArgs, RegistryCommand, RegistryIndexArgs, RegistryRemoveArgs};
use crate::commands::key::signing_key;
use crate::commands::Context;
use crate::config::{RegistriesFile, Registry};
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::fs::FileLock;
use crate::keys::PublicKey;
use crate::registry::publish::{index_directory, now, PublishOptions};

/// Runs a `registry` subcommand.
pub fn run(command: RegistryCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        RegistryCommand::Add(args) => add(&args, context),
        RegistryCommand::List => list(context),
        RegistryCommand::Remove(args) => remove(&args, context),
        RegistryCommand::Index(args) => index(&args, context),
    }
}

fn index(args: &RegistryIndexArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let key = signing_key(
        args.key.as_deref(),
        args.key_seed.as_deref(),
        &context.settings,
    )?;
    let published = index_directory(&PublishOptions {
        directory: args.directory.clone(),
        key,
        expires_in_days: args.expires_in,
        name: args.name.clone(),
        priority: args.priority,
        now: now(),
    })?;
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
            crate::build::rfc3339(u64::try_from(index.expires).unwrap_or(0))
        ),
    );
    context.printer.data(published.path.display());
    Ok(ExitStatus::Success)
}

fn lock(context: &Context) -> anyhow::Result<FileLock> {
    let path = context.settings.layout.registries_lock();
    FileLock::acquire(&path).with_context(|| format!("cannot lock {}", path.display()))
}

fn add(args: &RegistryAddArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let keys = args
        .keys
        .iter()
        .map(|key| key.parse::<PublicKey>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(crate::config::ConfigError::from)?;
    if args.require_signatures && keys.is_empty() {
        return Err(
            UserError::new("--require-signatures needs at least one --key")
                .hint("pass the registry's signing key with --key ed25519:HEX")
                .into(),
        );
    }
    let mut registry = Registry::new(
        &args.name,
        &args.url,
        args.priority,
        keys,
        args.require_signatures,
    )?;
    registry.cache_ttl = args.cache_ttl;
    let _lock = lock(context)?;
    let mut file = RegistriesFile::load(&context.settings.layout.registries_file())?;
    if let Some(same) = file
        .registries()
        .iter()
        .find(|existing| existing.url == registry.url)
    {
        context.printer.warn(format!(
            "registry `{}` already uses {}",
            same.name, registry.url
        ));
    }
    let url = registry.url.clone();
    file.add(registry)?;
    file.save()?;
    context.printer.status(
        "Added",
        format!(
            "registry `{}` ({url}) to {}",
            args.name,
            file.path().display()
        ),
    );
    Ok(ExitStatus::Success)
}

fn list(context: &Context) -> anyhow::Result<ExitStatus> {
    let file = RegistriesFile::load(&context.settings.layout.registries_file())?;
    let registries = file.by_priority();
    if registries.is_empty() {
        context.printer.status(
            "Empty",
            format!("no registries in {}", file.path().display()),
        );
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
    let _lock = lock(context)?;
    let mut file = RegistriesFile::load(&context.settings.layout.registries_file())?;
    let registry = file.find(&args.name)?;
    let question = format!("Remove registry `{}` ({})?", registry.name, registry.url);
    if !context.printer.confirm(&question)? {
        context
            .printer
            .status("Kept", format!("registry `{}`", args.name));
        return Ok(ExitStatus::NotConfirmed);
    }
    let removed = file.remove(&args.name)?;
    file.save()?;
    context.printer.status(
        "Removed",
        format!("registry `{}` ({})", removed.name, removed.url),
    );
    Ok(ExitStatus::Success)
}
