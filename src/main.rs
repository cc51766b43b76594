//! The `pandora` binary: parse the command line, run it, print any error, exit.

use std::process::ExitCode;

use clap::Parser;
use pandora::cli::Cli;
use pandora::error::exit_status;
use pandora::exit::ExitStatus;

fn main() -> ExitCode {
    // A sandbox stage never returns from here; it must run before anything starts a thread.
    pandora::sandbox::enter_if_requested();
    // A shell asking for completions (the scripts of `pandora completions` set the variable):
    // answer on stdout and exit before anything else runs.
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command)
        .var(pandora::env_vars::PANDORA_COMPLETE)
        .complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Success
            }
            .into();
        }
    };
    let (result, printer) = pandora::commands::run(cli);
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            printer.error(&error);
            exit_status(&error).into()
        }
    }
}
