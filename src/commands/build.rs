//! `pandora build DIR`: a signed package from `manifest.acl` and `files/`.

use std::path::PathBuf;

use crate::build::{build, BuildOptions, Compression, Manifest};
use crate::cli::{BuildArgs, CompressionChoice};
use crate::commands::key::signing_key;
use crate::commands::Context;
use crate::exit::ExitStatus;

/// Builds, then prints the output path on stdout.
pub fn run(args: &BuildArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let key = signing_key(
        args.key.as_deref(),
        args.key_seed.as_deref(),
        &context.settings,
    )?;
    let output = match &args.output {
        Some(output) => output.clone(),
        None => {
            let manifest = Manifest::load(&args.directory.join("manifest.acl"))?;
            PathBuf::from(format!("{}-{}.psp", manifest.name, manifest.version))
        }
    };
    let launcher = match &args.launcher_bin {
        Some(path) => path.clone(),
        None => default_launcher(),
    };
    let options = BuildOptions {
        source: args.directory.clone(),
        output,
        compression: match args.compression {
            CompressionChoice::Zstd => Compression::Zstd,
            CompressionChoice::Gzip => Compression::Gzip,
            CompressionChoice::None => Compression::None,
        },
        level: args.level,
        key,
        launcher,
        allow_secrets: args.allow_secrets,
        timestamp: context.settings.source_date_epoch.unwrap_or(0),
    };
    let built = build(&options)?;
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
pub fn default_launcher() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .map(|directory| directory.join("pandora-launcher"))
        })
        .unwrap_or_else(|| PathBuf::from("pandora-launcher"))
}

/// `1.5 MiB`, `312 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
