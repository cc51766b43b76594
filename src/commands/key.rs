//! `pandora key generate | list | show | trust | untrust | import`.

use std::path::Path;

use crate::cli::{KeyCommand, KeyGenerateArgs, KeyImportArgs, KeyTrustArgs, KeyUntrustArgs};
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::keys::{self, KeyInfo};

/// Runs a `pandora key` subcommand.
pub fn run(command: &KeyCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        KeyCommand::Generate(args) => generate_run(args, context),
        KeyCommand::List => list_run(context),
        KeyCommand::Show(args) => show_run(&args.key, context),
        KeyCommand::Trust(args) => trust_run(args, context),
        KeyCommand::Untrust(args) => untrust_run(args, context),
        KeyCommand::Import(args) => import_run(args, context),
    }
}

/// Makes a key pair; prints the public key on stdout.
fn generate_run(args: &KeyGenerateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let generated = keys::generate(&context.settings.layout, &args.name, args.trust)?;
    context.printer.status(
        "Generated",
        format!("key `{}` in {}", args.name, generated.private.display()),
    );
    context.printer.data(generated.public_key);
    context.printer.detail(format!(
        "fingerprint {}",
        generated.public_key.fingerprint()
    ));
    Ok(ExitStatus::Success)
}

/// A path under `$PANDORA_HOME` as `keys/trusted/x.pub`, any other in full.
fn short(context: &Context, path: &Path) -> String {
    path.strip_prefix(context.settings.layout.root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn joined(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(",")
    }
}

/// One aligned table on stdout, a header then a row per key.
fn list_run(context: &Context) -> anyhow::Result<ExitStatus> {
    let found = keys::list(
        &context.settings.layout,
        &context.settings.trusted_key_dirs(),
    )?;
    for problem in &found.problems {
        context.printer.warn(problem);
    }
    if found.keys.is_empty() {
        context.printer.status("Empty", "no keys");
        context.printer.hint(
            "make one with `pandora key generate NAME`, or trust a publisher's with `pandora key trust FILE|ed25519:HEX`",
        );
        return Ok(ExitStatus::Success);
    }
    let header = [
        "NAME",
        "PUBLIC KEY",
        "FINGERPRINT",
        "PRIVATE",
        "TRUSTED BY",
        "REGISTRIES",
    ]
    .map(str::to_string);
    let rows: Vec<[String; 6]> = found
        .keys
        .iter()
        .map(|info| {
            [
                info.name.clone().unwrap_or_else(|| "-".into()),
                info.public_key.to_string(),
                info.public_key.fingerprint().to_string(),
                if info.private.is_some() { "yes" } else { "no" }.to_string(),
                joined(info.trusted_by.iter().map(|path| short(context, path))),
                joined(info.registries.iter().cloned()),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .chain([&header])
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in [&header].into_iter().chain(rows.iter()) {
        let last = row.len() - 1;
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                if column == last {
                    cell.clone()
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        context.printer.data(cells.join("  "));
    }
    Ok(ExitStatus::Success)
}

/// The key's fields, one `label value` line each, on stdout.
fn show_run(spec: &str, context: &Context) -> anyhow::Result<ExitStatus> {
    let info: KeyInfo = keys::show(
        &context.settings.layout,
        &context.settings.trusted_key_dirs(),
        spec,
    )?;
    let row = |label: &str, value: String| context.printer.data(format!("{label:<13}{value}"));
    row("name", info.name.clone().unwrap_or_else(|| "-".into()));
    row("public key", info.public_key.to_string());
    row("fingerprint", info.public_key.fingerprint().to_string());
    row(
        "private key",
        info.private
            .as_ref()
            .map_or("none".to_string(), |path| path.display().to_string()),
    );
    if let Some(path) = &info.public_file {
        row("public file", path.display().to_string());
    }
    row(
        "trusted by",
        if info.trusted_by.is_empty() {
            "none (not trusted)".to_string()
        } else {
            info.trusted_by
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    row("registries", joined(info.registries.iter().cloned()));
    Ok(ExitStatus::Success)
}

/// Trusts a key; prints the trusted public key on stdout.
fn trust_run(args: &KeyTrustArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let (public_key, suggested) = keys::resolve_key(&args.source)?;
    let name = args
        .name
        .clone()
        .or(suggested)
        .unwrap_or_else(|| format!("key-{}", &public_key.fingerprint().hex()[..16]));
    let trusted = keys::trust(&context.settings.layout, &public_key, &name)?;
    if trusted.already {
        context
            .printer
            .status("Trusted", format!("already, by {}", trusted.file.display()));
    } else {
        context.printer.status(
            "Trusted",
            format!(
                "{} (fingerprint {}) in {}",
                trusted.public_key,
                trusted.public_key.fingerprint(),
                trusted.file.display()
            ),
        );
    }
    context.printer.data(trusted.public_key);
    Ok(ExitStatus::Success)
}

/// Stops trusting a key, after asking.
fn untrust_run(args: &KeyUntrustArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let plan = keys::plan_untrust(layout, &context.settings.trusted_key_dirs(), &args.key)?;
    let what = plan
        .public_key
        .map_or_else(|| args.key.clone(), |key| key.to_string());
    let files: Vec<String> = plan
        .files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let question = format!("Stop trusting {what} (remove {})?", files.join(", "));
    if !context.printer.confirm(&question)? {
        context.printer.status("Kept", format!("trust in {what}"));
        return Ok(ExitStatus::NotConfirmed);
    }
    keys::untrust(layout, &plan)?;
    context.printer.status(
        "Untrusted",
        format!("{what} (removed {})", files.join(", ")),
    );
    for file in &plan.elsewhere {
        context.printer.warn(format!(
            "{} (FLAVOR_TRUSTED_KEYS_DIR) still trusts it; Pandora does not edit that directory",
            file.display()
        ));
    }
    if !plan.registries.is_empty() {
        context.printer.warn(format!(
            "registries.acl still lists it for {}: packages installed from there stay trusted",
            plan.registries.join(", ")
        ));
    }
    Ok(ExitStatus::Success)
}

/// Imports a private key; prints its public key on stdout.
fn import_run(args: &KeyImportArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let imported = keys::import(
        &context.settings.layout,
        &args.file,
        args.name.as_deref(),
        args.trust,
    )?;
    context.printer.status(
        "Imported",
        format!("{} as {}", args.file.display(), imported.private.display()),
    );
    context.printer.data(imported.public_key);
    context
        .printer
        .detail(format!("fingerprint {}", imported.public_key.fingerprint()));
    Ok(ExitStatus::Success)
}
