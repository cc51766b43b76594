//! `pandora install PACKAGE...`: registries, resolution, downloads, verification, the store.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::cli::InstallArgs;
use crate::commands::activate::activate;
use crate::commands::build::human_bytes;
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::install::{install, InstallOptions, Progress, Silent, Target};
use crate::profile::Profiles;
use crate::registry::download::DownloadPolicy;

/// Progress bars on a terminal: one per download and one overall.
struct Bars {
    multi: MultiProgress,
    bars: std::sync::Mutex<Vec<ProgressBar>>,
    total: ProgressBar,
}

impl Progress for Bars {
    fn start(&self, downloads: &[(String, u64)]) {
        let style = ProgressStyle::with_template("{prefix:>24} [{bar:30}] {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.total
            .set_length(downloads.iter().map(|(_, size)| size).sum());
        let mut bars = self
            .bars
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        for (id, size) in downloads {
            let bar = self.multi.add(
                ProgressBar::new(*size)
                    .with_style(style.clone())
                    .with_prefix(id.clone()),
            );
            bars.push(bar);
        }
    }

    fn advance(&self, index: usize, bytes: u64) {
        let bars = self
            .bars
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(bar) = bars.get(index) {
            let before = bar.position();
            bar.set_position(bytes);
            self.total.inc(bytes.saturating_sub(before));
        }
    }

    fn finish(&self) {
        for bar in self
            .bars
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .iter()
        {
            bar.finish_and_clear();
        }
        self.total.finish_and_clear();
    }
}

/// Installs, then prints each newly installed `name@version` on stdout and a summary on stderr,
/// then activates what was asked for in the active profile (after asking, or with `--yes`).
pub fn run(args: &InstallArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    if !args.no_activate && !context.settings.assume_yes && !context.settings.interactive {
        // Asked before anything is downloaded, so a script learns it at once.
        return Err(UserError::new(
            "install activates what it installs after asking, and standard input is not a terminal",
        )
        .hint("pass --yes to activate, or --no-activate to only install into the store")
        .status(ExitStatus::NotConfirmed)
        .into());
    }
    let targets = args
        .packages
        .iter()
        .map(|text| {
            Target::parse(text).map_err(|reason| {
                UserError::new(format!("invalid package {reason}"))
                    .hint("write NAME, NAME@VERSION, or a path to a .psp file")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = InstallOptions {
        targets,
        reinstall: args.reinstall,
        offline: args.offline,
        now: crate::registry::publish::now(),
        policy: DownloadPolicy::default(),
        locked: Vec::new(),
    };
    let progress: Arc<dyn Progress> = if std::io::stderr().is_terminal() && !context.settings.quiet
    {
        let multi = MultiProgress::new();
        let total = multi.add(
            ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "{prefix:>24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        );
        total.set_prefix("total");
        Arc::new(Bars {
            multi,
            bars: std::sync::Mutex::new(Vec::new()),
            total,
        })
    } else {
        Arc::new(Silent)
    };
    let report = install(&context.settings.layout, &options, &progress)?;
    for id in &report.installed {
        context.printer.data(id);
    }
    context.printer.status(
        "Installed",
        format!(
            "{} package(s), {} already present; {} downloaded ({}) in {:.2}s",
            report.installed.len(),
            report.already.len(),
            report.downloads,
            human_bytes(report.downloaded_bytes),
            started.elapsed().as_secs_f64()
        ),
    );
    if args.no_activate {
        return Ok(ExitStatus::Success);
    }
    let layout = &context.settings.layout;
    let profiles = Profiles::new(layout);
    let profile = profiles.active()?;
    let active = profiles.members(&profile)?;
    if report.requested.iter().all(|id| active.contains(id)) && !args.layout.namespace {
        return Ok(ExitStatus::Success);
    }
    let question = format!(
        "Activate {} in profile {profile}?",
        report.requested.join(", ")
    );
    if !context.printer.confirm(&question)? {
        context.printer.hint(format!(
            "installed but not active; later: `pandora activate {}`",
            report.requested.join(" ")
        ));
        return Ok(ExitStatus::Success);
    }
    activate(&report.requested, &args.layout, context)
}
