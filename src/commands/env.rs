//! `pandora env`: the lines that put the active profile on the shell's search paths, for
//! `eval "$(pandora env)"` in a shell's start-up file. Pandora never edits those files itself.
//!
//! Each variable keeps the system's defaults after the profile's directory: `MANPATH` gains a
//! trailing empty entry when it was unset (so `man` still searches its default path), and
//! `XDG_DATA_DIRS` falls back to `/usr/local/share:/usr/share`, the default the XDG spec gives.

use crate::cli::{EnvArgs, ShellChoice};
use crate::commands::Context;
use crate::env_vars;
use crate::exit::ExitStatus;

/// What the XDG Base Directory spec says to assume when `XDG_DATA_DIRS` is unset.
const XDG_DATA_DIRS_DEFAULT: &str = "/usr/local/share:/usr/share";

/// The shell named by `$SHELL` (`/usr/bin/zsh` -> zsh), else POSIX sh.
fn login_shell() -> ShellChoice {
    let login = std::env::var(env_vars::SHELL).unwrap_or_default();
    match login.rsplit('/').next().unwrap_or_default() {
        "bash" => ShellChoice::Bash,
        "zsh" => ShellChoice::Zsh,
        "fish" => ShellChoice::Fish,
        "nu" => ShellChoice::Nu,
        _ => ShellChoice::Sh,
    }
}

/// `text` inside double quotes, escaped for `shell`.
fn quoted(shell: ShellChoice, text: &str) -> String {
    let mut out = String::from("\"");
    for character in text.chars() {
        let special = match shell {
            ShellChoice::Sh | ShellChoice::Bash | ShellChoice::Zsh => "\\\"$`".contains(character),
            ShellChoice::Fish => "\\\"$".contains(character),
            ShellChoice::Nu => "\\\"".contains(character),
        };
        if special {
            out.push('\\');
        }
        out.push(character);
    }
    out.push('"');
    out
}

/// The lines for `shell`, given the profile's `bin`, `share/man` and `share` directories.
pub fn lines(shell: ShellChoice, bin: &str, man: &str, share: &str) -> Vec<String> {
    let (bin, man, share) = (quoted(shell, bin), quoted(shell, man), quoted(shell, share));
    let (path, manpath, xdg) = (env_vars::PATH, env_vars::MANPATH, env_vars::XDG_DATA_DIRS);
    let default = XDG_DATA_DIRS_DEFAULT;
    match shell {
        ShellChoice::Sh | ShellChoice::Bash | ShellChoice::Zsh => {
            // Inside the quotes the expansions are unquoted: strip the closing quote to append.
            let open = |quoted: &str| quoted[..quoted.len() - 1].to_string();
            vec![
                "# Pandora's active profile. Add to your shell's start-up file: eval \"$(pandora env)\"".into(),
                format!("export {path}={}:${path}\"", open(&bin)),
                // An empty entry (the trailing `:` when MANPATH was unset) keeps man's default.
                format!("export {manpath}={}:${{{manpath}:-}}\"", open(&man)),
                format!("export {xdg}={}:${{{xdg}:-{default}}}\"", open(&share)),
            ]
        }
        ShellChoice::Fish => vec![
            "# Pandora's active profile. Add to ~/.config/fish/config.fish: pandora env --shell fish | source".into(),
            format!("set -gx --prepend {path} {bin}"),
            // fish joins MANPATH's elements with `:`; an empty one keeps man's default path.
            format!("if set -q {manpath}; set -gx --prepend {manpath} {man}; else; set -gx {manpath} {man} \"\"; end"),
            format!("if set -q {xdg}; set -gx --path {xdg} {share} (string split : -- \"${xdg}\"); else; set -gx --path {xdg} {share} {}; end", default.replace(':', " ")),
        ],
        ShellChoice::Nu => vec![
            "# Pandora's active profile. Save it: pandora env --shell nu | save -f ($nu.default-config-dir | path join pandora.nu); then add `source pandora.nu` to config.nu".into(),
            format!("$env.{path} = ($env.{path} | split row (char esep) | prepend {bin})"),
            format!("$env.{manpath} = ([{man}] | append ($env.{manpath}? | default \"\" | split row (char esep)) | str join (char esep))"),
            format!("$env.{xdg} = ([{share}] | append ($env.{xdg}? | default \"{default}\" | split row (char esep)) | str join (char esep))"),
        ],
    }
}

/// Prints the lines on stdout.
pub fn run(args: &EnvArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let shell = args.shell.unwrap_or_else(login_shell);
    let vir = context.settings.layout.vir();
    let text = |dir: &str| vir.join(dir).display().to_string();
    for line in lines(shell, &text("bin"), &text("share/man"), &text("share")) {
        context.printer.data(line);
    }
    Ok(ExitStatus::Success)
}
