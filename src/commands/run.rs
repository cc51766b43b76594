//! `pandora run FILE [ARGS...]`: the same launcher code the `.psp` stub runs, for any package.

use crate::cli::RunArgs;
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::launcher::{launch, LaunchSettings};

/// Runs the package; on success this process is replaced by the package's program. Failures
/// exit with the launcher's documented codes (111-114), the same a `.psp` run directly gives.
pub fn run(args: &RunArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let file = args.file();
    if !file.is_file() {
        return Err(
            UserError::new(format!("{} is not a package file", file.display()))
                .hint("`pandora run FILE.psp [ARGS...]`; installed packages run from ~/bin")
                .status(ExitStatus::Usage)
                .into(),
        );
    }
    let mut settings = LaunchSettings::from_environment(|name| std::env::var(name).ok());
    settings.trusted_key_dirs = context.settings.trusted_key_dirs();
    settings.require_trusted = context.settings.require_trusted;
    let original = file.display().to_string();
    let code = match launch(&file, args.arguments(), &original, &settings) {
        Ok(code) => code,
        Err(error) => {
            let code = error.exit_code();
            context.printer.error(&anyhow::Error::new(error));
            code
        }
    };
    std::process::exit(i32::from(code))
}
