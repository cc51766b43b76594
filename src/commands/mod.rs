//! One module per subcommand, each a thin `run`: arguments in, a question where one is due,
//! one call into [`ops`](crate::ops), the report rendered through the [`Printer`]. No command
//! module imports another; what they share to render is in `render`.

mod activate;
mod build;
mod completions;
mod env;
mod graph;
mod info;
mod inspect;
mod install;
mod key;
mod list;
mod profile;
mod prune;
mod registry;
mod remove;
mod render;
mod run;
mod search;
mod sync;
mod unpack;
mod update;
mod verify;

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::settings::Settings;

/// What every command gets: resolved settings and the printer.
#[derive(Debug)]
pub struct Context {
    /// Resolved settings.
    pub settings: Settings,
    /// Where output goes.
    pub printer: Printer,
}

impl Context {
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
        Command::Rollback => profile::rollback(context),
        Command::Profile(command) => profile::run(command, context),
        Command::Prune(args) => prune::run(&args, context),
        Command::Update => update::run(context),
        Command::Completions(args) => completions::run(&args, context),
    }
}

/// Parses nothing, prints nothing: the entry point `main` calls after parsing.
pub fn run(cli: Cli) -> (anyhow::Result<ExitStatus>, Printer) {
    let settings = match Settings::resolve(&cli.global, |name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(error) => {
            let printer = Printer::plain(false);
            return (Err(error.into()), printer);
        }
    };
    let printer = Printer::new(&settings);
    let context = Context { settings, printer };
    let result =
        dispatch(cli.command, &context).and_then(|status| match context.printer.stdout_error() {
            Some(error) => {
                Err(anyhow::Error::new(error).context("cannot write to standard output"))
            }
            None => Ok(status),
        });
    (result, context.printer)
}
