//! Settings, resolved once before a command runs: flags, then `PANDORA_*` variables, then
//! defaults. Commands read these plain values and never look at the environment themselves.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{ColorChoice, GlobalArgs};
use crate::env_vars;
use crate::error::UserError;
use crate::layout::Layout;
use crate::registry::download::DownloadPolicy;

/// Everything a command needs to know about how it was asked to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Pandora's home and the paths under it.
    pub layout: Layout,
    /// Whether diagnostics on stderr are coloured.
    pub color: bool,
    /// Whether data on stdout may be coloured (`pandora graph`): `always`, or `auto` with
    /// stdout a terminal too.
    pub color_data: bool,
    /// `-q`: only errors and data.
    pub quiet: bool,
    /// `-v` count: more detail on stderr.
    pub verbose: u8,
    /// `--yes`: answer yes to every confirmation.
    pub assume_yes: bool,
    /// The user's `$HOME`, where `bin`, `lib`, ... are linked into the active profile.
    pub user_home: Option<PathBuf>,
    /// Whether standard input is a terminal (prompts are only possible when it is).
    pub interactive: bool,
    /// FlavorPack's trusted-keys directory, if set.
    pub flavor_trusted_keys_dir: Option<PathBuf>,
    /// `PANDORA_REQUIRE_TRUSTED=1`: refuse packages signed by unknown keys.
    pub require_trusted: bool,
    /// `SOURCE_DATE_EPOCH`, for reproducible builds.
    pub source_date_epoch: Option<u64>,
    /// How downloads are bounded (`PANDORA_DOWNLOAD_MIN_RATE`, `PANDORA_DOWNLOAD_TIMEOUT`).
    pub download: DownloadPolicy,
    /// Progress bars: stderr is a terminal that can draw them (not `TERM=dumb`), and not `-q`.
    pub progress: bool,
    /// The event log (`--log FILE`, else `PANDORA_LOG`).
    pub log: Option<PathBuf>,
}

impl Settings {
    /// Resolves settings from the global flags and an environment lookup.
    pub fn resolve(
        global: &GlobalArgs,
        environment: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, UserError> {
        let home = resolve_home(global.home.clone(), &environment)?;
        let color = color_enabled(global.color, &environment);
        Ok(Settings {
            layout: Layout::new(home),
            color,
            color_data: color
                && (global.color == ColorChoice::Always || std::io::stdout().is_terminal()),
            quiet: global.quiet,
            verbose: global.verbose,
            assume_yes: global.yes,
            user_home: non_empty(environment(env_vars::HOME)).map(PathBuf::from),
            interactive: std::io::stdin().is_terminal(),
            flavor_trusted_keys_dir: non_empty(environment(env_vars::FLAVOR_TRUSTED_KEYS_DIR))
                .map(PathBuf::from),
            require_trusted: non_empty(environment(env_vars::PANDORA_REQUIRE_TRUSTED))
                .is_some_and(|value| value != "0"),
            source_date_epoch: match non_empty(environment(env_vars::SOURCE_DATE_EPOCH)) {
                None => None,
                Some(value) => Some(value.trim().parse().map_err(|_| {
                    UserError::new(format!(
                        "SOURCE_DATE_EPOCH is `{value}`, not a number of seconds"
                    ))
                    .hint("set it to a Unix time such as 1700000000, or unset it")
                })?),
            },
            log: global
                .log
                .clone()
                .or_else(|| non_empty(environment(env_vars::PANDORA_LOG)).map(PathBuf::from)),
            progress: !global.quiet
                && std::io::stderr().is_terminal()
                && environment(env_vars::TERM).as_deref() != Some("dumb"),
            download: DownloadPolicy::from_environment(&environment).map_err(|message| {
                UserError::new(message).hint("set it to a whole number, or unset it")
            })?,
        })
    }

    /// The directories whose `*.pub` keys are trusted.
    pub fn trusted_key_dirs(&self) -> Vec<PathBuf> {
        let mut directories = vec![self.layout.trusted_keys_dir()];
        directories.extend(self.flavor_trusted_keys_dir.clone());
        directories
    }

    /// The trust policy every command applies: the trusted-key directories and
    /// `PANDORA_REQUIRE_TRUSTED`.
    pub fn trust_policy(&self) -> crate::trust::Policy {
        crate::trust::Policy::new(&self.trusted_key_dirs(), self.require_trusted)
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

/// `--home`, else `$PANDORA_HOME`, else `$HOME/pandora`; made absolute against the current
/// directory so later directory changes cannot move it.
fn resolve_home(
    flag: Option<PathBuf>,
    environment: &impl Fn(&str) -> Option<String>,
) -> Result<PathBuf, UserError> {
    let home = match flag {
        Some(path) => path,
        None => match non_empty(environment(env_vars::PANDORA_HOME)) {
            Some(path) => PathBuf::from(path),
            None => match non_empty(environment(env_vars::HOME)) {
                Some(home) => PathBuf::from(home).join("pandora"),
                None => {
                    return Err(UserError::new(
                        "cannot tell where Pandora's home is: HOME is not set",
                    )
                    .hint("pass --home DIR or set PANDORA_HOME"))
                }
            },
        },
    };
    if home.is_absolute() {
        return Ok(home);
    }
    let current = std::env::current_dir().map_err(|error| {
        UserError::new(format!(
            "cannot resolve the relative home `{}`: {error}",
            home.display()
        ))
        .hint("pass an absolute path to --home")
    })?;
    Ok(current.join(home))
}

/// `--color always|never` win; `auto` means colour only when stderr is a terminal and
/// `NO_COLOR` is unset or empty.
fn color_enabled(choice: ColorChoice, environment: &impl Fn(&str) -> Option<String>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            non_empty(environment(env_vars::NO_COLOR)).is_none()
                && environment(env_vars::TERM).as_deref() != Some("dumb")
                && std::io::stderr().is_terminal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    fn args(home: Option<&str>, color: ColorChoice) -> GlobalArgs {
        GlobalArgs {
            home: home.map(PathBuf::from),
            color,
            quiet: false,
            verbose: 0,
            yes: false,
            log: None,
        }
    }

    #[test]
    fn home_precedence() {
        let both = environment(&[("PANDORA_HOME", "/env/home"), ("HOME", "/users/me")]);
        let resolve = |flag, environment: &dyn Fn(&str) -> Option<String>| {
            Settings::resolve(&args(flag, ColorChoice::Never), environment)
                .map(|settings| settings.layout.root().to_path_buf())
        };
        assert_eq!(
            resolve(Some("/flag"), &both).unwrap(),
            PathBuf::from("/flag")
        );
        assert_eq!(resolve(None, &both).unwrap(), PathBuf::from("/env/home"));
        let empty_pandora_home = environment(&[("PANDORA_HOME", ""), ("HOME", "/users/me")]);
        assert_eq!(
            resolve(None, &empty_pandora_home).unwrap(),
            PathBuf::from("/users/me/pandora")
        );
        let nothing = environment(&[]);
        let error = resolve(None, &nothing).unwrap_err();
        assert!(error.to_string().contains("HOME is not set"));
        let relative = resolve(Some("rel"), &nothing).unwrap();
        assert!(relative.is_absolute() && relative.ends_with("rel"));
    }

    #[test]
    fn colour_rules() {
        let no_color = environment(&[("NO_COLOR", "1")]);
        assert!(color_enabled(ColorChoice::Always, &no_color));
        assert!(!color_enabled(ColorChoice::Never, &environment(&[])));
        assert!(!color_enabled(ColorChoice::Auto, &no_color));
    }
}
