//! One module per subcommand, each a thin `run`: arguments in, a question where one is due,
//! one call into [`ops`](crate::ops), the report rendered through the [`Printer`]. No command
//! module imports another; what they share to render is in `render`.

mod activate;
mod build;
mod completions;
mod deprecate;
mod doctor;
mod env;
mod graph;
mod info;
mod inspect;
mod install;
mod key;
mod list;
mod metrics;
mod needs;
mod plan;
mod profile;
mod prune;
mod publish;
mod registry;
mod remove;
mod render;
mod run;
mod search;
mod sync;
mod unpack;
mod update;
mod verify;
mod yank;

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::settings::Settings;
use pandora_core::events::Event;

/// What every command gets: resolved settings and the printer.
#[derive(Debug)]
pub struct Context {
    /// Resolved settings.
    pub settings: Settings,
    /// Where output goes.
    pub printer: Printer,
}

impl Context {
    /// Puts back the user's own umask, for a program run on the user's behalf (`pandora
    /// run`), so that it sees what it would started directly.
    pub fn restore_user_umask(&self) {
        if let Some(given) = USER_UMASK.get() {
            nix::sys::stat::umask(*given);
        }
    }

    /// The trust policy, after warning about every trusted-key source it did not believe (a
    /// directory or key file someone else could have written).
    pub fn trust_policy(&self) -> crate::trust::Policy {
        let policy = self.settings.trust_policy();
        for rejected in &policy.store().rejected {
            self.printer
                .warn(format!("not a trusted key source (ignored): {rejected}"));
        }
        policy
    }

    /// The user's home, where `bin`, `share`, ... are linked into the active profile.
    pub fn home(&self) -> Option<&std::path::Path> {
        self.settings.user_home.as_deref()
    }
}

/// Runs the parsed command line.
pub fn dispatch(command: Command, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Registry(registry) => registry::run(registry, context),
        Command::Build(args) => build::run(&args, context),
        Command::Key(command) => key::run(&command, context),
        Command::Inspect(args) => inspect::run(&args, context),
        Command::Verify(args) => verify::run(&args, context),
        Command::Unpack(args) => unpack::run(&args, context),
        Command::Run(args) => run::run(&args, context),
        Command::Install(args) => install::run(&args, context),
        Command::Search(args) => search::run(&args, context),
        Command::Info(args) => info::run(&args, context),
        Command::List(args) => list::run(&args, context),
        Command::Remove(args) => remove::run(&args, context),
        Command::Activate(args) => activate::run(&args, context),
        Command::Deactivate(args) => activate::deactivate_run(&args, context),
        Command::Sync(args) => sync::run(&args, context),
        Command::Graph(args) => graph::run(&args, context),
        Command::Env(args) => env::run(&args, context),
        Command::Rollback(args) => profile::rollback(&args, context),
        Command::Profile(command) => profile::run(command, context),
        Command::Prune(args) => prune::run(&args, context),
        Command::Upgrade(args) => install::upgrade(&args, context),
        Command::Outdated(args) => needs::outdated(&args, context),
        Command::Why(args) => needs::why(&args, context),
        Command::Owner(args) => needs::owner(&args, context),
        Command::Autoremove => needs::autoremove(context),
        Command::Doctor(args) => doctor::run(&args, context),
        Command::Update => update::run(context),
        Command::Publish(args) => publish::run(&args, context),
        Command::Yank(args) => yank::run(&args, context),
        Command::Deprecate(args) => deprecate::run(&args, context),
        Command::Metrics(args) => metrics::run(&args, context),
        Command::Completions(args) => completions::run(&args, context),
    }
}

/// Parses nothing, prints nothing: the entry point `main` calls after parsing.
pub fn run(cli: Cli) -> (anyhow::Result<ExitStatus>, Printer) {
    private_umask();
    let settings = match Settings::resolve(&cli.global, |name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(error) => {
            let printer = Printer::plain(false);
            return (Err(error.into()), printer);
        }
    };
    let printer = Printer::new(&settings);
    let log = match &settings.log {
        Some(path) => match pandora_core::events::FileSink::open(path) {
            Ok(file) => Some(file),
            Err(error) => return (Err(error.into()), printer),
        },
        None => None,
    };
    let shown = settings.verbose > 0 && !settings.quiet;
    pandora_core::events::set_sink(Box::new(EventSink {
        log,
        printer: shown.then(|| printer.clone()),
        activity: pandora_core::events::ActivityLog::new(
            settings.layout.events_log(),
            pandora_core::events::ACTIVITY_LIMIT,
        ),
        warner: printer.clone(),
        warned: std::sync::atomic::AtomicBool::new(false),
    }));
    let context = Context { settings, printer };
    let started = std::time::Instant::now();
    let name = command_name(&cli.command);
    Event::new("command-start")
        .with("command", &name)
        .with(
            "args",
            std::env::args_os()
                .skip(1)
                .map(|argument| argument.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        )
        .with("pid", std::process::id())
        .emit();
    let result = dispatch(cli.command, &context);
    // A store commit leaves its last flush to the activation that follows it; whatever no
    // later flush covered is made durable before the command says it is done.
    let flushed = crate::fs::sync_deferred();
    let result = result
        .and_then(|status| flushed.map(|()| status).map_err(anyhow::Error::new))
        .and_then(|status| match context.printer.stdout_error() {
            Some(error) => {
                Err(anyhow::Error::new(error).context("cannot write to standard output"))
            }
            None => Ok(status),
        });
    let code = match &result {
        Ok(status) => status.code(),
        Err(error) => {
            Event::new("error")
                .with("command", &name)
                .with(
                    "message",
                    error
                        .chain()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(": "),
                )
                .emit();
            crate::error::exit_status(error).code()
        }
    };
    Event::new("command-end")
        .with("command", &name)
        .with("exit", code)
        .with("ms", started.elapsed().as_millis())
        .emit();
    (result, context.printer)
}

/// The subcommand's name (`install`, `registry`), as the log names it.
fn command_name(command: &Command) -> String {
    // The variant's name starts its Debug form: `Install(InstallArgs { .. })`, `Rollback`.
    let debug = format!("{command:?}");
    debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Where events go: the activity log (always), the log file, and with `-v` stderr in words.
struct EventSink {
    log: Option<pandora_core::events::FileSink>,
    printer: Option<Printer>,
    activity: pandora_core::events::ActivityLog,
    /// Says once that the activity log could not be written: the command goes on without it.
    warner: Printer,
    warned: std::sync::atomic::AtomicBool,
}

impl pandora_core::events::Sink for EventSink {
    fn event(&self, event: &Event) {
        let seconds = u64::try_from(pandora_core::time::now()).unwrap_or(0);
        if let Err(error) = self.activity.record(event, seconds) {
            if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                self.warner.warn(format!(
                    "the activity log was not written (`pandora metrics` will not count this): {}",
                    pandora_core::error::chain(&error)
                ));
            }
        }
        if let Some(log) = &self.log {
            log.event(event);
        }
        if event.name == "lock-wait" {
            self.warner.status(
                "Blocking",
                format!(
                    "waiting for another pandora process to finish (it holds {})",
                    event.field("path").unwrap_or_default()
                ),
            );
        }
        if let Some(printer) = &self.printer {
            printer.detail(crate::printer::describe_event(event));
        }
    }
}

/// The umask this process was started with, before [`private_umask`].
static USER_UMASK: std::sync::OnceLock<nix::sys::stat::Mode> = std::sync::OnceLock::new();

/// Everything Pandora makes in its home (the store, entry points, profiles, records) is
/// trusted because nobody else can write it: under `umask 000` or `002` it was made writable
/// by others, who could then swap a store entry's files for theirs. So the process masks group
/// and other write whatever it was given; hooks and build steps inherit that.
fn private_umask() {
    use nix::sys::stat::{umask, Mode};
    let given = umask(Mode::from_bits_truncate(0o022));
    let _ = USER_UMASK.set(given);
    umask(given | Mode::S_IWGRP | Mode::S_IWOTH);
}
