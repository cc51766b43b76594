//! `pandora key generate NAME`.

use crate::cli::{KeyCommand, KeyGenerateArgs};
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::keys::generate;

/// Runs a `pandora key` subcommand.
pub fn run(command: &KeyCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        KeyCommand::Generate(args) => generate_run(args, context),
    }
}

/// Makes a key pair; prints the public key on stdout.
fn generate_run(args: &KeyGenerateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let generated = generate(&context.settings.layout, &args.name, args.trust)?;
    context.printer.status(
        "Generated",
        format!("key `{}` in {}", args.name, generated.private.display()),
    );
    context.printer.data(generated.public_key);
    context.printer.detail(format!(
        "fingerprint {}",
        generated.public_key.fingerprint()
    ));
    Ok(ExitStatus::Success)
}
