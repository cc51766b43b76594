//! `pandora info NAME[@VERSION]`: what the registries say, and what is installed.

use crate::cli::InfoArgs;
use crate::commands::{render, Context};
use crate::exit::ExitStatus;
use crate::ops::query::info;
use crate::printer::human_bytes;

/// One `label value` line per fact on stdout.
pub fn run(args: &InfoArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    if args.sbom {
        let sbom = crate::ops::query::sbom(&context.settings.layout, &args.package)?;
        context.printer.data(sbom);
        return Ok(ExitStatus::Success);
    }
    let info = info(
        &context.settings.layout,
        &args.package,
        crate::registry::client::Freshness::from_flags(args.offline, args.refresh),
    )?;
    for warning in &info.warnings {
        context.printer.warn(warning);
    }
    let row = |label: &str, value: String| context.printer.data(format!("{label:<13}{value}"));
    if let Some(offered) = &info.offered {
        let (package, version) = (&offered.package, &offered.version);
        row("name", package.name.clone());
        row(
            "version",
            format!("{}{}", version.version, render::version_marks(version)),
        );
        row(
            "versions",
            package
                .versions
                .iter()
                .map(|v| {
                    let mark = if v.yanked { " (yanked)" } else { "" };
                    format!("{}{mark}", v.version)
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
        if let Some(message) = &version.deprecation {
            row("deprecated", message.clone());
        }
        if let Some(description) = &package.description {
            row("description", description.clone());
        }
        row("registry", offered.registry.clone());
        row("url", offered.url.clone());
        if let Ok(file) = version.file_for(&crate::format::platform::Platform::current()) {
            row("sha256", pandora_core::hex::encode(file.sha256));
            row(
                "size",
                file.size.map_or_else(
                    || {
                        format!(
                            "not given by the index (downloads stop at {})",
                            human_bytes(crate::registry::index::UNSIZED_PACKAGE_LIMIT)
                        )
                    },
                    human_bytes,
                ),
            );
        }
        if !version.files.is_empty() {
            let mut platforms: Vec<&str> = version
                .files
                .iter()
                .map(|file| file.platform.as_str())
                .collect();
            if !version.pkg_url.is_empty() {
                platforms.push("any other");
            }
            row("platforms", platforms.join(", "));
        }
        if let Some(manifest) = &offered.manifest {
            row("manifest", manifest.clone());
        }
        if let Some(license) = &version.license {
            row("license", license.clone());
        }
        row(
            "dependencies",
            if version.dependencies.is_empty() {
                "none".into()
            } else {
                version.dependencies.join(", ")
            },
        );
    }
    for (record, details) in info.installed.iter().zip(&info.details) {
        row(
            "installed",
            format!(
                "{} from {} ({})",
                record.id(),
                record
                    .registry
                    .clone()
                    .unwrap_or_else(|| "a local file".into()),
                record.source
            ),
        );
        // The bytes installed, and whether they are the ones the registry offers for that
        // version (a reinstall from a file, or a registry that changed what it serves).
        let offered_sha = info
            .offered
            .as_ref()
            .filter(|offered| offered.version.version == record.version)
            .and_then(|offered| {
                offered
                    .version
                    .file_for(&crate::format::platform::Platform::current())
                    .ok()
                    .map(|file| file.sha256)
            });
        let installed_sha = pandora_core::hex::encode(record.blob);
        row(
            "its sha256",
            match offered_sha {
                Some(offered) if offered != record.blob => {
                    format!("{installed_sha} (not the bytes the registry offers for this version)")
                }
                _ => installed_sha,
            },
        );
        let Some(details) = details else { continue };
        if !details.hooks.is_empty() {
            row("hooks", render::hooks(&details.hooks));
        }
        if let Some(provenance) = &details.provenance {
            for line in render::provenance(provenance) {
                row("provenance", line);
            }
        }
    }
    if info.installed.is_empty() {
        row("installed", "no".into());
    }
    Ok(ExitStatus::Success)
}
