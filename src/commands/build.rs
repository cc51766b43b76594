//! `pandora build DIR`: a signed package from `manifest.acl` and `files/`.

use std::path::PathBuf;

use crate::build::Compression;
use crate::cli::{BuildArgs, CompressionChoice};
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::build::{build, BuildRequest};
use crate::printer::human_bytes;

/// Builds; the package's path goes to stdout.
pub fn run(args: &BuildArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let request = BuildRequest {
        source: args.directory.clone(),
        output: args.output.clone(),
        compression: match args.compression {
            CompressionChoice::Zstd => Compression::Zstd,
            CompressionChoice::Gzip => Compression::Gzip,
            CompressionChoice::None => Compression::None,
        },
        level: args.level,
        key: args.key_source(),
        launcher: args.launcher_bin.clone().unwrap_or_else(default_launcher),
        allow_secrets: args.allow_secrets,
        timestamp: context.settings.source_date_epoch.unwrap_or(0),
    };
    let built = build(&context.settings.layout, request)?;
    context.printer.status(
        "Built",
        format!(
            "{} {}: {} slot{} ({}), {} entries, {} -> {}",
            built.manifest.name,
            built.manifest.version,
            built.slots.len(),
            if built.slots.len() == 1 { "" } else { "s" },
            built.slots.join(", "),
            built.entries,
            human_bytes(built.content_bytes),
            human_bytes(built.size),
        ),
    );
    context.printer.data(built.output.display());
    Ok(ExitStatus::Success)
}

/// `pandora-launcher` beside the running `pandora`.
fn default_launcher() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .map(|directory| directory.join("pandora-launcher"))
        })
        .unwrap_or_else(|| PathBuf::from("pandora-launcher"))
}
