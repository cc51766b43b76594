//! The launcher stub at the front of every package Pandora builds: when a `.psp` runs, this
//! code verifies the file it is part of and execs the package's program. It links the format
//! and launcher code only (no network stack, no CLI parser) to stay small and start fast.

use std::process::ExitCode;

use pandora::launcher::{launch, maintenance, LaunchSettings};

fn main() -> ExitCode {
    let package = match std::env::current_exe() {
        Ok(path) => path,
        Err(error) => {
            eprintln!("pandora-launcher: cannot find the package being run: {error}");
            return ExitCode::from(pandora::launcher::EXIT_INVALID);
        }
    };
    let mut arguments = std::env::args_os();
    let original = arguments
        .next()
        .map(|arg| arg.to_string_lossy().into_owned())
        .unwrap_or_default();
    let arguments: Vec<_> = arguments.collect();
    let settings = LaunchSettings::from_environment(|name| std::env::var(name).ok());
    if std::env::var_os("FLAVOR_LAUNCHER_CLI").is_some_and(|value| value == "1") {
        return ExitCode::from(maintenance(&package, &arguments, &settings));
    }
    match launch(&package, &arguments, &original, &settings) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("pandora-launcher: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
