//! `pandora completions SHELL`: prints a script that registers dynamic completion: the shell
//! asks `pandora` itself (with `PANDORA_COMPLETE` set) for candidates, so installed packages,
//! profiles, registries and keys complete along with commands and flags.

use clap::CommandFactory;
use clap_complete::env::EnvCompleter;

use crate::cli::{Cli, CompletionsArgs};
use crate::commands::Context;
use crate::env_vars;
use crate::exit::ExitStatus;

/// Writes the script to stdout.
pub fn run(args: &CompletionsArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let shell: &dyn EnvCompleter = match args.shell {
        clap_complete::Shell::Bash => &clap_complete::env::Bash,
        clap_complete::Shell::Zsh => &clap_complete::env::Zsh,
        clap_complete::Shell::Fish => &clap_complete::env::Fish,
        clap_complete::Shell::Elvish => &clap_complete::env::Elvish,
        clap_complete::Shell::PowerShell => &clap_complete::env::Powershell,
        other => anyhow::bail!("no completion script for {other}"),
    };
    let command = Cli::command();
    let name = command.get_name().to_string();
    // Generated whole first, then written through the printer (a closed pipe ends quietly).
    let mut script = Vec::new();
    shell.write_registration(env_vars::PANDORA_COMPLETE, &name, &name, &name, &mut script)?;
    context.printer.data_bytes(&script);
    Ok(ExitStatus::Success)
}
