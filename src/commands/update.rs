//! `pandora update`: every configured registry's index fetched now, and what changed.

use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::registries::{update, Updated};

/// One line per registry on stdout: `NAME  serial OLD -> NEW`, `unchanged`, `failed: why`.
/// Fails (exit 1) only when no registry could be fetched.
pub fn run(context: &Context) -> anyhow::Result<ExitStatus> {
    let report = update(&context.settings.layout)?;
    let width = report
        .iter()
        .map(|updated| match updated {
            Updated::Fetched { name, .. } => name.len(),
            Updated::Failed(failure) => failure.name.len(),
        })
        .max()
        .unwrap_or(0);
    let mut failed = 0;
    for updated in &report {
        match updated {
            Updated::Fetched {
                name,
                previous,
                was_cached,
                serial,
                signed,
                served_by,
                by_mirror,
            } => {
                let mut line = match (serial, previous, was_cached) {
                    (Some(serial), Some(previous), _) if serial == previous => {
                        format!("unchanged (serial {serial})")
                    }
                    (Some(serial), Some(previous), _) => format!("serial {previous} -> {serial}"),
                    (Some(serial), None, false) => format!("fetched (serial {serial})"),
                    (Some(serial), None, true) => format!("serial none -> {serial}"),
                    (None, _, _) => {
                        "fetched (no serial: changes cannot be told, nor rollbacks refused)"
                            .to_string()
                    }
                };
                if !signed {
                    line.push_str(", unsigned");
                }
                if *by_mirror {
                    line.push_str(&format!(", from mirror {served_by}"));
                }
                context.printer.data(format!("{name:<width$}  {line}"));
            }
            Updated::Failed(failure) => {
                failed += 1;
                context.printer.data(format!(
                    "{:<width$}  failed: {}",
                    failure.name,
                    failure.describe()
                ));
            }
        }
    }
    if failed > 0 {
        context.printer.warn(format!(
            "{failed} of {} registries could not be updated; the others were",
            report.len()
        ));
    }
    Ok(ExitStatus::Success)
}
