//! `pandora env`: the lines that put the active profile on the shell's search paths, for
//! `eval "$(pandora env)"` in a shell's start-up file. Pandora never edits those files itself.

use crate::cli::{EnvArgs, ShellChoice};
use crate::commands::Context;
use crate::exit::ExitStatus;

/// Variables and the `vir` subdirectory each one gains, with the default to keep when unset.
const PATHS: [(&str, &str, &str); 3] = [
    ("PATH", "bin", ""),
    ("MANPATH", "share/man", ""),
    ("XDG_DATA_DIRS", "share", "/usr/local/share:/usr/share"),
];

/// Prints the lines on stdout.
pub fn run(args: &EnvArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let shell = args.shell.unwrap_or_else(|| {
        let login = std::env::var(crate::env_vars::SHELL).unwrap_or_default();
        if login.ends_with("/fish") {
            ShellChoice::Fish
        } else {
            ShellChoice::Sh
        }
    });
    let vir = context.settings.layout.vir();
    context.printer.data(
        "# Pandora's active profile. Add to your shell's start-up file: eval \"$(pandora env)\"",
    );
    for (variable, dir, default) in PATHS {
        let path = vir.join(dir).display().to_string().replace('"', "\\\"");
        let line = match shell {
            // An empty MANPATH entry keeps man's default search path.
            ShellChoice::Sh if variable == "MANPATH" => {
                format!("export MANPATH=\"{path}:${{MANPATH:-}}\"")
            }
            ShellChoice::Sh if default.is_empty() => {
                format!("export {variable}=\"{path}:${variable}\"")
            }
            ShellChoice::Sh => format!("export {variable}=\"{path}:${{{variable}:-{default}}}\""),
            ShellChoice::Fish => format!("set -gx --prepend {variable} \"{path}\""),
        };
        context.printer.data(line);
    }
    Ok(ExitStatus::Success)
}
