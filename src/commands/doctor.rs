//! `pandora doctor`: one line per check on stdout (`ok`, `warn` or `FAIL`, what, finding),
//! hints on stderr; exit 1 when anything failed.

use crate::cli::DoctorArgs;
use crate::commands::{render, Context};
use crate::env_vars;
use crate::exit::ExitStatus;
use crate::launcher::LaunchSettings;
use crate::ops::doctor::{doctor, Environment, Level};

/// Runs the checks and reports them.
pub fn run(args: &DoctorArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let launcher = LaunchSettings::from_environment(|name| std::env::var(name).ok());
    let path = std::env::var_os(env_vars::PATH);
    let trust = context.trust_policy();
    let environment = Environment {
        home: context.home(),
        path: path.as_deref(),
        workenv_cache: &launcher.cache_root,
        offline: args.offline,
        now: pandora_core::time::now(),
        trust: &trust,
    };
    let findings = doctor(&context.settings.layout, &environment)?;
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|finding| {
            let level = match finding.level {
                Level::Ok => "ok",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            vec![
                format!("{level:<4}"),
                finding.check.clone(),
                finding.detail.clone(),
            ]
        })
        .collect();
    render::table(&context.printer, &rows);
    for finding in &findings {
        if let Some(hint) = &finding.hint {
            context.printer.hint(format!("{}: {hint}", finding.check));
        }
    }
    if findings.iter().any(|finding| finding.level == Level::Fail) {
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}
