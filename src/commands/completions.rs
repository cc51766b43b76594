//! `pandora completions SHELL`: prints a completion script generated from the CLI definition.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::ExitStatus;

/// Writes the script to stdout.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "pandora", &mut std::io::stdout());
    Ok(ExitStatus::Success)
}
