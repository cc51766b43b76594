//! The command line, defined once with clap derive. Man pages and shell completions are
//! generated from these definitions, so they cannot drift from what the binary accepts.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Pandora: a per-user package manager for PSPF/2025 packages.
#[derive(Debug, Parser)]
#[command(name = "pandora", version, about, after_help = EXIT_CODES_HELP, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Pandora's home directory [default: $PANDORA_HOME, else $HOME/pandora]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// When to colour diagnostics (NO_COLOR turns `auto` off)
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only errors and data
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail (repeatable)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Answer yes to every confirmation (needed when standard input is not a terminal)
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and NO_COLOR is not set
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
}

/// Pandora's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Configure the registries packages come from
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Print a shell completion script
    Completions(CompletionsArgs),
}

/// `pandora registry ...`
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Add a registry to registries.acl
    Add(RegistryAddArgs),
    /// List the configured registries, highest priority first
    List,
    /// Remove a registry from registries.acl
    Remove(RegistryRemoveArgs),
}

/// `pandora registry add`
#[derive(Debug, Args)]
pub struct RegistryAddArgs {
    /// A short name for the registry (letters, digits, `.`, `_`, `-`)
    pub name: String,
    /// Its base URL: http://, https://, file://, or an absolute directory path
    pub url: String,
    /// Registries with a higher priority are consulted first
    #[arg(long, value_name = "N", default_value_t = crate::config::DEFAULT_PRIORITY, allow_negative_numbers = true)]
    pub priority: i64,
    /// A key trusted to sign this registry's index and packages: `ed25519:` and 64 hex digits (repeatable)
    #[arg(long = "key", value_name = "ed25519:HEX")]
    pub keys: Vec<String>,
    /// Refuse anything from this registry that is not signed by one of its keys
    #[arg(long)]
    pub require_signatures: bool,
}

/// `pandora registry remove`
#[derive(Debug, Args)]
pub struct RegistryRemoveArgs {
    /// The registry's name
    pub name: String,
}

/// `pandora completions`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print a completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Man pages for `pandora` and every subcommand, as `(file name, roff text)`, named
/// `pandora.1`, `pandora-registry.1`, `pandora-registry-add.1`, ...
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut command = Cli::command();
    command.build();
    let mut pages = Vec::new();
    collect_pages(&command, "pandora", &mut pages);
    pages
}

fn collect_pages(command: &clap::Command, name: &str, pages: &mut Vec<(String, Vec<u8>)>) {
    let mut page = Vec::new();
    // Rendering into a Vec cannot fail.
    let _ = clap_mangen::Man::new(
        command
            .clone()
            .name(name.to_string())
            .bin_name(name.replace('-', " ")),
    )
    .render(&mut page);
    pages.push((format!("{name}.1"), page));
    for subcommand in command
        .get_subcommands()
        .filter(|sub| sub.get_name() != "help")
    {
        collect_pages(
            subcommand,
            &format!("{name}-{}", subcommand.get_name()),
            pages,
        );
    }
}
