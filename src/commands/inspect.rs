//! `pandora inspect FILE`: what a package is, who signed it, what it holds.

use crate::cli::InspectArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::inspect::inspect;
use crate::printer::human_bytes;

/// Prints the package's description on stdout (the signed JSON with `--metadata`).
pub fn run(args: &InspectArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let inspected = inspect(&args.file, &context.settings.trusted_key_dirs())?;
    let (package, verified) = (&inspected.package, &inspected.verified);
    if args.metadata {
        context.printer.data_bytes(&verified.metadata_json);
        context.printer.data_bytes(b"\n");
        return Ok(ExitStatus::Success);
    }
    let metadata = &verified.metadata;
    let printer = &context.printer;
    let row = |label: &str, value: String| printer.data(format!("{label:<13}{value}"));
    row("name", metadata.package.name.clone());
    row("version", metadata.package.version.clone());
    if let Some(description) = &metadata.package.description {
        row("description", description.clone());
    }
    if let Some(build) = &metadata.build {
        row(
            "builder",
            format!(
                "{} {} ({})",
                build.tool,
                build.tool_version,
                build.timestamp.clone().unwrap_or_default()
            ),
        );
    }
    row(
        "launcher",
        format!(
            "{} ({})",
            metadata
                .launcher
                .as_ref()
                .map(|l| l.tool.clone())
                .unwrap_or_default(),
            human_bytes(package.index().launcher_size)
        ),
    );
    row("size", human_bytes(package.size()));
    row("signed by", verified.public_key.to_string());
    row("fingerprint", verified.key_fingerprint.to_string());
    row(
        "trusted",
        match &inspected.trusted_by {
            Some(path) => format!("yes ({})", path.display()),
            None => "no (not trusted)".to_string(),
        },
    );
    row("signature", "valid (Ed25519 over the metadata)".to_string());
    if let Some(execution) = &metadata.execution {
        row("command", execution.command.clone());
    }
    if let Some(pandora) = &metadata.pandora {
        if !pandora.dependencies.is_empty() {
            row("dependencies", pandora.dependencies.join(", "));
        }
        if let Some(license) = &pandora.license {
            row("license", license.clone());
        }
    }
    printer.data("slots");
    printer.data(format!(
        "  {:<3}{:<16}{:<11}{:>12}{:>12}  SHA-256",
        "#", "ID", "OPERATIONS", "STORED", "ORIGINAL"
    ));
    for slot in &verified.slots {
        printer.data(format!(
            "  {:<3}{:<16}{:<11}{:>12}{:>12}  {}",
            slot.index,
            slot.id,
            slot.operations.to_string(),
            slot.descriptor.size,
            slot.descriptor.original_size,
            pandora_core::hex::encode(slot.sha256)
        ));
    }
    printer.detail("slot contents were not hashed; `pandora verify` does that");
    if inspected.trusted_by.is_none() {
        printer.hint(format!(
            "to trust its signer: `pandora key trust {}`",
            verified.public_key
        ));
    }
    Ok(ExitStatus::Success)
}
