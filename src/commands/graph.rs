//! `pandora graph NAME[@VERSION]`: a package's dependency tree, each package marked active (in
//! the active profile), installed (in the store only) or missing; dependencies of a missing
//! package come from the registries' indexes.

use owo_colors::OwoColorize;

use crate::cli::GraphArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::graph::render;
use crate::ops::graph::graph;

/// Draws the tree on stdout, coloured when stdout is a terminal (or `--color always`).
pub fn run(args: &GraphArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let graph = graph(
        &context.settings.layout,
        &args.package,
        crate::registry::client::Freshness::from_flags(args.offline, args.refresh),
    )?;
    for warning in &graph.warnings {
        context.printer.warn(warning);
    }
    let tree = graph.tree;
    let color = context.settings.color_data;
    let style = |label: &str| {
        if !color {
            label.to_string()
        } else if label.contains("(missing") || label.contains("(cycle)") {
            label.red().bold().to_string()
        } else if label.contains("(active)") {
            label.green().to_string()
        } else {
            label.to_string()
        }
    };
    for line in render(&[tree], &style) {
        context.printer.data(line);
    }
    Ok(ExitStatus::Success)
}
