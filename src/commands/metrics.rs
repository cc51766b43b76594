//! `pandora metrics [--registry NAME]`: local activity counts, or a registry's published
//! download counts, as aligned columns on stdout.

use crate::cli::MetricsArgs;
use crate::commands::{render, Context};
use crate::exit::ExitStatus;
use crate::ops::metrics::{self, LocalMetrics};
use crate::printer::human_bytes;
use crate::registry::metrics::RegistryMetrics;

/// Shows the counts.
pub fn run(args: &MetricsArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    match &args.registry {
        Some(name) => registry(name, context),
        None => {
            local(&metrics::local(&context.settings.layout)?, context);
            Ok(ExitStatus::Success)
        }
    }
}

/// A summary block (`key  value`), then one row per package:
/// `PACKAGE  INSTALLS  REMOVES  PUBLISHES  LAST`.
fn local(metrics: &LocalMetrics, context: &Context) {
    let installs: u64 = metrics.packages.values().map(|p| p.installs).sum();
    let removes: u64 = metrics.packages.values().map(|p| p.removes).sum();
    let publishes: u64 = metrics.packages.values().map(|p| p.publishes).sum();
    let none = || "never".to_string();
    render::table(
        &context.printer,
        &[
            vec!["installs".into(), installs.to_string()],
            vec!["removes".into(), removes.to_string()],
            vec!["activations".into(), metrics.activations.to_string()],
            vec!["publishes".into(), publishes.to_string()],
            vec![
                "last activity".into(),
                metrics.last_activity.clone().unwrap_or_else(none),
            ],
            vec![
                "counted since".into(),
                metrics.since.clone().unwrap_or_else(none),
            ],
            vec!["store".into(), human_bytes(metrics.store_bytes)],
            vec!["downloads (blobs)".into(), human_bytes(metrics.blob_bytes)],
            vec!["cache".into(), human_bytes(metrics.cache_bytes)],
        ],
    );
    if !metrics.packages.is_empty() {
        context.printer.data("");
        let mut rows = vec![vec![
            "PACKAGE".to_string(),
            "INSTALLS".into(),
            "REMOVES".into(),
            "PUBLISHES".into(),
            "LAST".into(),
        ]];
        for (name, activity) in &metrics.packages {
            rows.push(vec![
                name.clone(),
                activity.installs.to_string(),
                activity.removes.to_string(),
                activity.publishes.to_string(),
                activity.last.clone(),
            ]);
        }
        render::table(&context.printer, &rows);
    }
    if metrics.unreadable > 0 {
        context.printer.warn(format!(
            "{} line(s) of {} could not be read and were not counted",
            metrics.unreadable,
            metrics.log.display()
        ));
    }
}

/// `PACKAGE  DOWNLOADS  VERSIONS  PUBLISHES`, then per version `  name@version  DOWNLOADS`.
fn registry(name: &str, context: &Context) -> anyhow::Result<ExitStatus> {
    let published = metrics::registry(&context.settings.layout, name)?;
    let Some(metrics) = published.metrics else {
        context.printer.status(
            "No metrics",
            format!("registry `{name}` publishes no metrics.acl"),
        );
        context.printer.hint(
            "its operator makes them from the web server's access logs with `pandora registry metrics DIR --access-log FILE`",
        );
        return Ok(ExitStatus::Success);
    };
    registry_table(name, &metrics, context);
    Ok(ExitStatus::Success)
}

fn registry_table(name: &str, metrics: &RegistryMetrics, context: &Context) {
    let time = |seconds: Option<i64>| {
        seconds.map_or_else(
            || "-".to_string(),
            |seconds| pandora_core::time::rfc3339(u64::try_from(seconds).unwrap_or(0)),
        )
    };
    context.printer.status(
        "Metrics",
        format!(
            "registry `{name}`: requests from {} to {}, counted {}",
            time(metrics.from),
            time(metrics.until),
            time(Some(metrics.generated))
        ),
    );
    let mut rows = vec![vec![
        "PACKAGE".to_string(),
        "DOWNLOADS".into(),
        "VERSIONS".into(),
        "PUBLISHES".into(),
    ]];
    for package in &metrics.packages {
        rows.push(vec![
            package.name.clone(),
            package.downloads.to_string(),
            package.versions.to_string(),
            package
                .publishes
                .map_or_else(|| "-".to_string(), |count| count.to_string()),
        ]);
        for (version, downloads) in &package.by_version {
            rows.push(vec![
                format!("  {}@{version}", package.name),
                downloads.to_string(),
            ]);
        }
    }
    render::table(&context.printer, &rows);
}
