//! `pandora run FILE|NAME[@VERSION] [ARGS...]`: the same launcher code the `.psp` stub runs,
//! for a package file, an installed package, or one fetched from the registries just to run.

use crate::cli::RunArgs;
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::launcher::{launch, LaunchSettings};
use crate::ops::install::Target;
use crate::ops::run::{locate, RunOptions};
use crate::printer::human_bytes;
use crate::registry::client::Freshness;

/// Runs the package; on success this process is replaced by the package's program. Failures
/// to start exit with the launcher's documented codes (111-114), the same a `.psp` run
/// directly gives; finding a package by name fails as any command does (exit 1).
///
/// The first argument is a file when it contains `/` or ends in `.psp`
/// (the rule `install` uses); otherwise it is `NAME` or `NAME@VERSION`.
pub fn run(args: &RunArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let first = args.file();
    let text = first.to_string_lossy();
    let target = Target::parse(&text).map_err(|reason| {
        UserError::new(format!(
            "`{text}` is neither a package file nor a package name: {reason}"
        ))
        .hint("`pandora run ./FILE.psp [ARGS...]` or `pandora run NAME[@VERSION] [ARGS...]`")
        .status(ExitStatus::Usage)
    })?;
    let mut vouched = Vec::new();
    let (file, original) = match target {
        // `parse` makes only these two.
        Target::File(_) | Target::Cached { .. } => {
            let file = first;
            if !file.is_file() {
                return Err(
                    UserError::new(format!("{} is not a package file", file.display()))
                        .hint("`pandora run FILE.psp [ARGS...]` or `pandora run NAME[@VERSION] [ARGS...]`")
                        .status(ExitStatus::Usage)
                        .into(),
                );
            }
            let original = file.display().to_string();
            (file, original)
        }
        Target::Named(request) => {
            let options = RunOptions {
                request,
                freshness: Freshness::from_flags(args.offline, args.refresh),
                now: pandora_core::time::now(),
                policy: context.settings.download,
                trust: context.trust_policy(),
            };
            let found = locate(
                &context.settings.layout,
                &options,
                &context.printer.download_progress(),
            )?;
            for warning in &found.warnings {
                context.printer.warn(warning);
            }
            for package in &found.untrusted {
                context.printer.warn(format!(
                    "{package} is signed by a key you do not trust (PANDORA_REQUIRE_TRUSTED=1 would refuse it)"
                ));
            }
            match (&found.fetched_from, found.downloaded_bytes) {
                (Some(registry), Some(bytes)) => context.printer.status(
                    "Fetched",
                    format!(
                        "{} from registry `{registry}` ({} downloaded), to run without installing",
                        found.id,
                        human_bytes(bytes)
                    ),
                ),
                (Some(registry), None) => context.printer.status(
                    "Cached",
                    format!(
                        "{} from registry `{registry}` (nothing downloaded), to run without installing",
                        found.id
                    ),
                ),
                (None, _) => {}
            }
            vouched = found.vouched;
            (found.blob, text.into_owned())
        }
    };
    let mut settings = LaunchSettings::from_environment(|name| std::env::var(name).ok());
    settings.trusted_key_dirs = context.settings.trusted_key_dirs();
    settings.require_trusted = context.settings.require_trusted;
    settings.vouched = vouched;
    context.restore_user_umask();
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
