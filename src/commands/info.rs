//! `pandora info NAME[@VERSION]`: what the registries say, and what is installed.

use crate::cli::InfoArgs;
use crate::commands::build::human_bytes;
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::format::metadata::encode_hex;
use crate::install::read_registries;
use crate::resolver::Request;
use crate::store::Store;

/// Prints `field  value` lines on stdout.
pub fn run(args: &InfoArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let request = Request::parse(&args.package)
        .map_err(|reason| UserError::new(format!("invalid package {reason}")))?;
    let store = Store::new(&context.settings.layout);
    let installed: Vec<_> = store
        .records()?
        .into_iter()
        .filter(|record| record.name == request.name)
        .collect();
    let registries = read_registries(&context.settings.layout, args.offline)?;
    let row = |label: &str, value: String| context.printer.data(format!("{label:<13}{value}"));
    let mut shown = false;
    for (_, registry) in &registries {
        let Some(package) = registry.index.package(&request.name) else {
            continue;
        };
        let wanted = request
            .version
            .clone()
            .unwrap_or_else(|| package.latest.clone());
        let Some(version) = package.versions.iter().find(|v| v.version == wanted) else {
            continue;
        };
        shown = true;
        row("name", package.name.clone());
        row(
            "version",
            format!(
                "{}{}",
                version.version,
                if version.deprecated {
                    " (deprecated)"
                } else {
                    ""
                }
            ),
        );
        row(
            "versions",
            package
                .versions
                .iter()
                .map(|v| v.version.clone())
                .collect::<Vec<_>>()
                .join(", "),
        );
        if let Some(description) = &package.description {
            row("description", description.clone());
        }
        row("registry", registry.name.clone());
        row(
            "url",
            registry
                .index_url
                .join(&version.pkg_url)
                .map(|url| url.to_string())
                .unwrap_or_default(),
        );
        row("sha256", encode_hex(&version.sha256));
        row("size", human_bytes(version.size));
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
        break;
    }
    for record in &installed {
        shown = true;
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
    }
    if !shown {
        return Err(UserError::new(format!(
            "{} is neither installed nor in any configured registry",
            args.package
        ))
        .hint(format!(
            "`pandora search {}` looks for similar names",
            request.name
        ))
        .into());
    }
    if installed.is_empty() {
        row("installed", "no".into());
    }
    Ok(ExitStatus::Success)
}
