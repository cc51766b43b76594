//! `pandora completions SHELL`: prints a completion script generated from the CLI definition.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::commands::Context;
use crate::exit::ExitStatus;

/// Writes the script to stdout.
pub fn run(args: &CompletionsArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let mut command = Cli::command();
    // Generated whole first: clap_complete panics if its writer fails (`| head -c1`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pandora", &mut script);
    context.printer.data_bytes(&script);
    Ok(ExitStatus::Success)
}
