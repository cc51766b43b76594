//! `pandora build DIR`: a signed package from `manifest.acl` and `files/`.

use std::path::PathBuf;

use crate::build::Compression;
use crate::cli::{BuildArgs, CompressionChoice};
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::build::{build, BuildRequest};
use crate::ops::source_build::SourceOptions;
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
        recipe: SourceOptions {
            sandboxed: !args.no_sandbox,
            use_cache: !args.no_cache,
            source_date_epoch: context.settings.source_date_epoch.unwrap_or(0),
            policy: context.settings.download,
        },
        verify_reproducible: args.verify_reproducible,
        cache_import: args.cache_import.clone(),
        cache_export: args.cache_export.clone(),
    };
    let report = build(&context.settings.layout, &request)?;
    if report.imported > 0 {
        context.printer.status(
            "Imported",
            format!("{} build-cache entries", report.imported),
        );
    }
    if let Some(source) = &report.source {
        let how = match (&source.sandbox, source.cached, source.sandboxed) {
            (_, true, _) => "from the build cache".to_string(),
            (Some(sandbox), _, _) => format!(
                "in the sandbox (namespaces: {}; seccomp: {}; landlock: {}; /proc: {})",
                sandbox.namespaces.join(", "),
                if sandbox.seccomp { "on" } else { "off" },
                sandbox.landlock,
                if sandbox.proc { "own" } else { "none" },
            ),
            (None, _, false) => "WITHOUT a sandbox (--no-sandbox)".to_string(),
            (None, _, true) => "in the sandbox".to_string(),
        };
        context.printer.status(
            "Compiled",
            format!("{} {how}", source.key.get(..12).unwrap_or(&source.key)),
        );
    }
    if let Some(digest) = &report.reproducible {
        context.printer.status(
            "Reproducible",
            format!("two builds from scratch gave sha256:{digest}"),
        );
    }
    let built = report.built;
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
