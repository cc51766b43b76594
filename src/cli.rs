//! The command line, defined once with clap derive. Man pages and shell completions are
//! generated from these definitions, so they cannot drift from what the binary accepts.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::engine::{
    ArgValueCandidates, ArgValueCompleter, CompletionCandidate, PathCompleter,
};

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
    /// Append a machine-readable line per event to FILE [default: $PANDORA_LOG]
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
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
    /// Build a signed .psp package from a directory (manifest.acl + files/)
    Build(BuildArgs),
    /// Manage signing keys
    #[command(subcommand)]
    Key(KeyCommand),
    /// Show a package's name, version, signer and slots
    Inspect(InspectArgs),
    /// Check packages: layout, checksums, signature and every slot's SHA-256
    Verify(VerifyArgs),
    /// Verify a package and extract all its slots into a new directory
    Unpack(UnpackArgs),
    /// Run a package file (Pandora's or FlavorPack's) or a package by name, installed or not, through Pandora's launcher
    Run(RunArgs),
    /// Install packages and their dependencies from the registries (or a local .psp) into the store
    Install(InstallArgs),
    /// Search the registries by name, description and tag
    Search(SearchArgs),
    /// Show a package's details, dependencies, provenance and whether it is installed
    Info(InfoArgs),
    /// List installed packages, or what the registries offer
    List(ListArgs),
    /// Remove installed packages from the store
    #[command(alias = "uninstall")]
    Remove(RemoveArgs),
    /// Make installed packages (one version each, with their dependencies) part of the active profile
    Activate(ActivateArgs),
    /// Take packages out of the active profile (they stay in the store)
    Deactivate(DeactivateArgs),
    /// Make a profile hold exactly what a lockfile lists, installing what is missing
    Sync(SyncArgs),
    /// Show a package's dependency tree: what is installed, active, missing
    Graph(GraphArgs),
    /// Print the shell lines that put the active profile on PATH (and MANPATH, ...)
    Env(EnvArgs),
    /// Return the active profile to its previous generation (or any other: --to N, --forward)
    Rollback(RollbackArgs),
    /// Create, switch, delete and list profiles, and show their history
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Delete what nothing uses: old generations (with --generations), store entries no generation holds, unused downloads, unused launcher work environments, leftovers
    Prune(PruneArgs),
    /// Install the newest versions of active packages (what you asked for, or the NAMEs given), with their pins
    Upgrade(UpgradeArgs),
    /// List active packages the registries have newer versions of
    Outdated(OutdatedArgs),
    /// Show why a package is installed: the chains from what you asked for down to it
    Why(WhyArgs),
    /// Show which installed package a file (in the profile, ~/bin or the store) or command comes from
    Owner(OwnerArgs),
    /// Take out of the active profile the dependencies nothing you asked for needs any more
    Autoremove,
    /// Check the setup: PATH, ~/bin, install records, leftovers, cache sizes, registries, keys, the clock
    Doctor(DoctorArgs),
    /// Fetch every configured registry's index now and say what changed (exit 1 only if none could be fetched)
    Update,
    /// Verify packages and publish them to a registry that allows it (uploads, re-signs the index)
    Publish(PublishArgs),
    /// Withdraw a published version from new installs (lockfiles that pin it still install it)
    Yank(YankArgs),
    /// Mark a published package or version deprecated, with a message shown on install and activate
    Deprecate(DeprecateArgs),
    /// Show local activity counts (installs per package, removals, activations, sizes), or a registry's download counts
    Metrics(MetricsArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
}

/// `pandora upgrade`
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// Active packages to upgrade [default: every package you asked for]
    #[arg(value_name = "NAME", add = ArgValueCandidates::new(installed_packages))]
    pub packages: Vec<String>,
    /// Use only cached registry indexes
    #[arg(long)]
    pub offline: bool,
    /// Fetch every registry's index now, whatever the cache's age
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
    /// Do not run the new versions' install hooks (they run in a sandbox otherwise)
    #[arg(long)]
    pub no_hooks: bool,
}

/// `pandora outdated`
#[derive(Debug, Args)]
pub struct OutdatedArgs {
    /// Use only cached registry indexes
    #[arg(long)]
    pub offline: bool,
    /// Fetch every registry's index now, whatever the cache's age
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
}

/// `pandora why`
#[derive(Debug, Args)]
pub struct WhyArgs {
    /// NAME (the active version, else the only installed one) or NAME@VERSION
    #[arg(value_name = "NAME[@VERSION]", add = ArgValueCandidates::new(installed_packages))]
    pub package: String,
}

/// `pandora owner`
#[derive(Debug, Args)]
pub struct OwnerArgs {
    /// A path (links are followed), or a command name looked up in the active profile's bin/
    #[arg(value_name = "PATH|COMMAND")]
    pub path: PathBuf,
}

/// `pandora metrics`
#[derive(Debug, Args)]
#[command(after_help = METRICS_HELP)]
pub struct MetricsArgs {
    /// Show the download counts the registry publishes (its signed metrics.acl) instead
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(registry_names))]
    pub registry: Option<String>,
}

const METRICS_HELP: &str = "Local counts come from the activity log, $PANDORA_HOME/log/events.log \
(one line per install, removal, activation, rollback, profile switch and publication, in the \
--log format; rotated to events.log.1 past 1 MiB). With --registry, the registry's metrics.acl \
is fetched and its signature checked against the registry's keys.";

/// `pandora doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Do not contact the registries
    #[arg(long)]
    pub offline: bool,
}

/// `pandora build`
#[derive(Debug, Args)]
#[command(after_help = BUILD_HELP)]
pub struct BuildArgs {
    /// The package directory: manifest.acl and files/
    pub directory: PathBuf,
    /// Where to write the package [default: NAME-VERSION.psp]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// How slots are compressed (FlavorPack's launchers decode only gzip)
    #[arg(long, value_enum, default_value_t = CompressionChoice::Zstd)]
    pub compression: CompressionChoice,
    /// Compression level (zstd 1-22, default 3; gzip 0-9, default 6)
    #[arg(long, value_name = "N")]
    pub level: Option<i32>,
    /// Signing key: a name under $PANDORA_HOME/keys, or a key file (Pandora's or PKCS#8 PEM) [default: the key named `default`]
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "key_seed")]
    pub key: Option<String>,
    /// Derive the signing key from a seed, as FlavorPack's --key-seed does (secret = SHA-256(seed))
    #[arg(long, value_name = "SEED")]
    pub key_seed: Option<String>,
    /// The launcher stub to embed [default: pandora-launcher beside this executable]
    #[arg(long, value_name = "PATH")]
    pub launcher_bin: Option<PathBuf>,
    /// Package files that look like secrets (*.env, *.pem, *.key, secrets/) anyway
    #[arg(long)]
    pub allow_secrets: bool,
    /// Run the recipe's steps without the sandbox (when the kernel forbids user namespaces); not reproducible, and recorded in the provenance
    #[arg(long)]
    pub no_sandbox: bool,
    /// Run the recipe's steps without using or filling the build cache
    #[arg(long)]
    pub no_cache: bool,
    /// Build from scratch twice and fail unless both packages are byte-identical
    #[arg(long)]
    pub verify_reproducible: bool,
    /// Add the entries of a build-cache archive (from --cache-export) to the cache first
    #[arg(long, value_name = "FILE")]
    pub cache_import: Option<PathBuf>,
    /// Write this build's cache entry to an archive (for another machine's --cache-import)
    #[arg(long, value_name = "FILE")]
    pub cache_export: Option<PathBuf>,
}

const BUILD_HELP: &str = "manifest.acl:
  manifest {
      string name = \"hello\";                      // lowercase letters, digits, . _ + -
      string version = \"1.0.0\";                   // exact
      string description = \"Prints a greeting\";
      string license = \"MIT\";
      string[] authors = { \"A. Author\" };
      string[] tags = { \"demo\" };
      string[] dependencies = { \"libgreet@2.0.0\" }; // exact pins
      string command = \"bin/hello\";               // entry point, relative to the package
      string arch = \"linux_amd64\";
      env { GREETING = \"hi\"; }                     // set for the program
      entry \"hello-loud\" {                         // another entry point (repeatable)
          string command = \"bin/hello --loud\";     // its own command
          env { VOLUME = \"11\"; }                   // set over the package's env
      }
      build {                                      // build files/ from source (optional)
          string[] sources = { \"src\" };            // copied to /build (the steps' $SRC)
          fetch \"https://example.org/lib.tar.gz\" { // fetched first, checked, to /build/PATH
              string sha256 = \"...\";
              string path = \"vendor/lib.tar.gz\";
          }
          string[] build_dependencies = { \"tool@1.0.0\" }; // installed; read-only at /deps/PIN
          string[] steps = { \"cc -O2 -o $OUT/bin/hello src/hello.c\" }; // sh -ec, in order
          env { CFLAGS = \"-O2\"; }                  // besides the fixed environment
          int time_limit = 900;                      // seconds per step
          int max_file_size = 4096;                  // MiB per file written (RLIMIT_FSIZE)
          int tmp_size = 1024;                       // MiB of the sandbox's /tmp
      }
  }

With a build block, each step runs in a sandbox: new user, mount, PID, IPC, UTS and network
namespaces (no network), the host's /usr, /bin, /lib* and /etc read-only, only /build and /out
($OUT, which becomes files/) writable, no capabilities, no controlling terminal, a seccomp
filter and Landlock, a size-limited /tmp and /dev/shm (64 MiB); fetches are https or http; the
environment is PATH=/usr/bin:/bin, TZ=UTC, LC_ALL=C, SOURCE_DATE_EPOCH, SRC, OUT, DEPS, HOME
and TMPDIR (inside /build) and the block's env. Outputs are cached under
$PANDORA_HOME/cache/build/ by the hash of the recipe, the inputs and the build dependencies.

Installed and activated, a package with a command runs as bin/NAME (its name) exactly as
./NAME.psp runs: same arguments, environment ({workenv} is its store entry) and exit code.

Builds are reproducible: the same input and key give the same bytes (times come from
SOURCE_DATE_EPOCH, else 0).";

/// `--compression` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionChoice {
    /// tar + zstd
    Zstd,
    /// tar + gzip
    Gzip,
    /// tar only
    None,
}

/// `pandora key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate an Ed25519 signing key: keys/NAME.key (private, 0600) and keys/NAME.pub
    Generate(KeyGenerateArgs),
    /// List every key: yours (keys/), trusted ones (keys/trusted/, FLAVOR_TRUSTED_KEYS_DIR) and the registries'
    List,
    /// Show one key: public key, fingerprint, private key file, where it is trusted
    Show(KeyShowArgs),
    /// Trust a key: packages it signs run and install without a warning (keys/trusted/NAME.pub)
    Trust(KeyTrustArgs),
    /// Stop trusting a key (removes its file from keys/trusted/)
    Untrust(KeyUntrustArgs),
    /// Import a private key file (Pandora's or PKCS#8 PEM) as keys/NAME.key (0600) and keys/NAME.pub
    Import(KeyImportArgs),
}

/// `pandora key show`
#[derive(Debug, Args)]
pub struct KeyShowArgs {
    /// The key: its name, `ed25519:HEX`, or its fingerprint `sha256:HEX`
    #[arg(value_name = "NAME|KEY|FINGERPRINT", add = ArgValueCandidates::new(key_names))]
    pub key: String,
}

/// `pandora key trust`
#[derive(Debug, Args)]
pub struct KeyTrustArgs {
    /// A public key `ed25519:HEX`, a .pub file, a private key file, or a .psp package (its signer)
    #[arg(value_name = "FILE|KEY")]
    pub source: String,
    /// The name of the trusted-key file [default: the file's or package's name, else key-FINGERPRINT]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `pandora key untrust`
#[derive(Debug, Args)]
pub struct KeyUntrustArgs {
    /// The trusted key: its name, `ed25519:HEX`, or its fingerprint `sha256:HEX`
    #[arg(value_name = "NAME|KEY|FINGERPRINT", add = ArgValueCandidates::new(key_names))]
    pub key: String,
}

/// `pandora key import`
#[derive(Debug, Args)]
pub struct KeyImportArgs {
    /// The private key file (Pandora's key file or PKCS#8 PEM, as FlavorPack writes)
    pub file: PathBuf,
    /// The key's name [default: the file's name without extension]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Also trust the key (copy its .pub into keys/trusted/)
    #[arg(long)]
    pub trust: bool,
}

/// `pandora key generate`
#[derive(Debug, Args)]
pub struct KeyGenerateArgs {
    /// The key's name (letters, digits, `.`, `_`, `-`)
    pub name: String,
    /// Also trust the new key (copy its .pub into keys/trusted/)
    #[arg(long)]
    pub trust: bool,
}

/// `pandora inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The package
    pub file: PathBuf,
    /// Print the signed metadata JSON exactly as stored
    #[arg(long)]
    pub metadata: bool,
}

/// `pandora verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Package files (FILE.psp) to check, or installed packages (NAME or NAME@VERSION) to re-hash against their install records
    #[arg(required_unless_present = "all", value_name = "FILE|NAME[@VERSION]", add = ArgValueCompleter::new(installed_or_file))]
    pub targets: Vec<String>,
    /// Re-hash every installed package
    #[arg(long, conflicts_with = "targets")]
    pub all: bool,
    /// For package files, also check the signed attestation and provenance: the index's SBOM digest, and the fetched sources and build dependencies available here
    #[arg(long)]
    pub provenance: bool,
}

/// `pandora install`
#[derive(Debug, Args)]
#[command(after_help = INSTALL_HELP)]
pub struct InstallArgs {
    /// NAME, NAME@VERSION, or a path to a .psp file
    #[arg(required = true, value_name = "PACKAGE")]
    pub packages: Vec<String>,
    /// Replace an installed version that came from different bytes
    #[arg(long)]
    pub reinstall: bool,
    /// Use only cached registry indexes
    #[arg(long)]
    pub offline: bool,
    /// Fetch registry indexes now, even those cached within their cache_ttl
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
    /// Only install into the store; leave the profile as it is
    #[arg(long)]
    pub no_activate: bool,
    /// Do not run the packages' install hooks (they run in a sandbox otherwise)
    #[arg(long)]
    pub no_hooks: bool,
    /// How the new packages join the profile
    #[command(flatten)]
    pub layout: LayoutArgs,
}

const INSTALL_HELP: &str =
    "Every download is checked against the SHA-256 and size the registry's index gives, \
and cut off past that size; for a version whose index gives no size, past 1 GiB. When a \
registry's URL fails, its mirrors are tried in order (any of them may serve a package whose \
URL in the index is relative: the index's SHA-256 decides what is right).";

/// How packages joining a profile are laid out.
#[derive(Debug, Clone, Args)]
pub struct LayoutArgs {
    /// Who keeps a path two packages provide (the choice is recorded in the profile) [default: refuse and list the paths]
    #[arg(long, value_enum, value_name = "WHICH")]
    pub prefer: Option<PreferChoice>,
    /// Link the packages as TOP/NAME-VERSION/... (bin/hello-1.1.0/hello), beside any other version
    #[arg(long)]
    pub namespace: bool,
}

impl LayoutArgs {
    /// The choices as the operations layer takes them.
    pub fn placement(&self) -> crate::ops::activate::Placement {
        crate::ops::activate::Placement {
            namespace: self.namespace,
            prefer: match self.prefer {
                None => crate::profile::Prefer::Neither,
                Some(PreferChoice::New) => crate::profile::Prefer::New,
                Some(PreferChoice::Existing) => crate::profile::Prefer::Existing,
            },
        }
    }
}

/// `pandora search`
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to look for (case-insensitive)
    pub term: String,
    /// Use only cached registry indexes
    #[arg(long)]
    pub offline: bool,
    /// Fetch registry indexes now, even those cached within their cache_ttl
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
}

/// `pandora info`
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// NAME or NAME@VERSION
    #[arg(add = ArgValueCandidates::new(installed_packages))]
    pub package: String,
    /// Use only cached registry indexes
    #[arg(long)]
    pub offline: bool,
    /// Fetch registry indexes now, even those cached within their cache_ttl
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
    /// Print the installed package's SBOM (SPDX 2.3 JSON, signed with the package) instead
    #[arg(long)]
    pub sbom: bool,
}

/// `pandora list`
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scope").args(["installed", "store", "remote"])))]
pub struct ListArgs {
    /// The active profile's packages (the default)
    #[arg(long)]
    pub installed: bool,
    /// Everything in the store
    #[arg(long)]
    pub store: bool,
    /// What the configured registries offer
    #[arg(long)]
    pub remote: bool,
    /// Use only cached registry indexes (with --remote)
    #[arg(long, requires = "remote")]
    pub offline: bool,
    /// Fetch registry indexes now, even those cached within their cache_ttl (with --remote)
    #[arg(long, requires = "remote", conflicts_with = "offline")]
    pub refresh: bool,
}

/// `pandora remove`
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Each package to remove: NAME@VERSION, or NAME (its active version, else its only installed one)
    #[arg(required = true, value_name = "NAME[@VERSION]", add = ArgValueCandidates::new(installed_packages))]
    pub packages: Vec<String>,
    /// Remove even when other installed packages depend on them
    #[arg(long)]
    pub force: bool,
    /// Do not run the packages' pre-remove hooks
    #[arg(long)]
    pub no_hooks: bool,
}

/// `pandora activate`
#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// Each installed package to activate: NAME@VERSION, or NAME (its active version, else its only installed one); another version of it leaves the profile
    #[arg(required = true, value_name = "NAME[@VERSION]", add = ArgValueCandidates::new(installed_packages))]
    pub packages: Vec<String>,
    /// How the packages join the profile
    #[command(flatten)]
    pub layout: LayoutArgs,
}

/// `pandora deactivate`
#[derive(Debug, Args)]
pub struct DeactivateArgs {
    /// Each package to take out of the active profile: NAME, or NAME@VERSION (the version it holds)
    #[arg(required = true, value_name = "NAME[@VERSION]", add = ArgValueCandidates::new(installed_packages))]
    pub names: Vec<String>,
}

/// `pandora sync`
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The profile to rebuild (created if missing) [default: the active one]
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(profile_names))]
    pub profile: Option<String>,
    /// The lockfile to follow [default: $PANDORA_HOME/manifests/PROFILE.lock]
    #[arg(long, value_name = "FILE")]
    pub lockfile: Option<PathBuf>,
    /// Use only cached registry indexes
    #[arg(long)]
    pub offline: bool,
    /// Fetch registry indexes now, even those cached within their cache_ttl
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
    /// Do not run the installed packages' install hooks (they run in a sandbox otherwise)
    #[arg(long)]
    pub no_hooks: bool,
}

/// `pandora graph`
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// NAME@VERSION, or NAME: the active version, else the only installed one (else the registries' latest)
    #[arg(add = ArgValueCandidates::new(installed_packages))]
    pub package: String,
    /// Use only cached registry indexes (for packages not installed)
    #[arg(long)]
    pub offline: bool,
    /// Fetch registry indexes now, even those cached within their cache_ttl
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
}

/// `pandora env`
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The shell to print for [default: from $SHELL, else sh]
    #[arg(long, value_enum)]
    pub shell: Option<ShellChoice>,
}

/// Shells `pandora env` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellChoice {
    /// POSIX sh (dash, ksh, ...)
    Sh,
    /// bash
    Bash,
    /// zsh
    Zsh,
    /// fish
    Fish,
    /// nushell
    Nu,
}

/// Who wins a path two active packages provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PreferChoice {
    /// The package being activated
    New,
    /// The package already in the profile
    Existing,
}

/// `pandora profile`
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List the profiles, marking the active one
    List,
    /// Create a profile, empty or as a copy of another's current generation
    Create {
        /// The new profile's name
        name: String,
        /// Start from this profile's packages
        #[arg(long, value_name = "PROFILE")]
        from: Option<String>,
    },
    /// Make a profile the active one (one atomic rename of `vir`)
    ///
    /// The switch does not wait for the disk: after a power cut right after it, the profile
    /// active before may be active again, whole (as with Nix's profile links). Deleting a
    /// profile first makes the last switch durable, so `vir` never points at nothing.
    Switch {
        /// The profile
        #[arg(add = ArgValueCandidates::new(profile_names))]
        name: String,
    },
    /// Delete a profile that is not active, with all its generations
    Delete {
        /// The profile
        #[arg(add = ArgValueCandidates::new(profile_names))]
        name: String,
    },
    /// List a profile's generations: when each was made, what it changed, which is current
    History {
        /// The profile [default: the active one]
        #[arg(add = ArgValueCandidates::new(profile_names))]
        name: Option<String>,
    },
}

/// `pandora rollback`
#[derive(Debug, Args)]
#[command(
    after_help = "Generations stay in one line by number, as Nix keeps them: a rollback only changes which one is current, so the generation rolled back from stays there to come back to (--forward, or --to N). A change made after a rollback becomes the newest generation. `pandora profile history` lists them, marking the current one."
)]
pub struct RollbackArgs {
    /// Make generation N of the active profile current (older or newer)
    #[arg(long, value_name = "N", conflicts_with = "forward")]
    pub to: Option<u64>,
    /// Go to the next newer generation instead (undoes a rollback)
    #[arg(long)]
    pub forward: bool,
}

impl RollbackArgs {
    /// The generation to make current.
    pub fn target(&self) -> crate::profile::Target {
        match (self.to, self.forward) {
            (Some(number), _) => crate::profile::Target::Number(number),
            (None, true) => crate::profile::Target::Next,
            (None, false) => crate::profile::Target::Previous,
        }
    }
}

/// `pandora prune`
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Show what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Keep each profile's N newest generations (and its current one), delete older ones, then every store entry no remaining generation holds
    #[arg(long, value_name = "N")]
    pub generations: Option<usize>,
    /// Delete launcher work environments (extracted packages in ~/.cache/pandora/workenv) no package has started from for N days; 0 deletes every one not running now
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub workenv_days: u64,
}

/// `pandora run`
#[derive(Debug, Args)]
#[command(
    after_help = "The package is a file when the argument contains `/` or ends in `.psp` (write ./FILE for another file name); otherwise it is NAME or NAME@VERSION, even where a file of that name exists. An installed NAME runs its active version (else its only installed one) from the package file it was installed from. A package that is not installed is fetched from the registries into the blob cache, verified against their signed index and the trust policy as `install` would, and run without changing the store or any profile (`pandora prune` deletes the cached file). A .psp is self-contained: running one needs none of its dependencies.

The program's exit code is passed through. Launcher failures exit with 111 (package invalid), 112 (key not trusted under PANDORA_REQUIRE_TRUSTED=1), 113 (work environment cannot be prepared) or 114 (command cannot be started); a package that cannot be found or fetched by name exits with 1."
)]
pub struct RunArgs {
    /// For a package that is not installed: use only cached registry indexes
    #[arg(long)]
    pub offline: bool,
    /// For a package that is not installed: fetch registry indexes now, whatever their age
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
    /// The package (a file, or NAME[@VERSION]), then the arguments for its program, passed
    /// through untouched (`--help` and `-v` included: Pandora's own options go before the package)
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        value_name = "FILE|NAME[@VERSION] [ARGS]",
        add = ArgValueCompleter::new(installed_or_file)
    )]
    pub command: Vec<std::ffi::OsString>,
}

impl RunArgs {
    /// The package.
    pub fn file(&self) -> PathBuf {
        PathBuf::from(&self.command[0])
    }

    /// The arguments for its program.
    pub fn arguments(&self) -> &[std::ffi::OsString] {
        &self.command[1..]
    }
}

/// `pandora unpack`
#[derive(Debug, Args)]
pub struct UnpackArgs {
    /// The package
    pub file: PathBuf,
    /// A directory to create for its files
    pub directory: PathBuf,
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
    /// Change a configured registry in place (only the fields given; comments are kept)
    Set(RegistrySetArgs),
    /// Write a signed index.acl (and a browsable index.html) for a directory of .psp files, so any static host can serve it
    Index(RegistryIndexArgs),
    /// Delete stored package files of a registry you publish to that no index entry points at
    Gc(RegistryGcArgs),
    /// Count downloads in web server access logs and write a signed metrics.acl beside the index
    Metrics(RegistryMetricsArgs),
}

/// Which registry a publishing command writes, and the key it signs the index with.
#[derive(Debug, Args)]
pub struct PublishTargetArgs {
    /// The configured registry to write (it needs `allow_publish` and a `publish_url`)
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(registry_names))]
    pub registry: String,
    /// Key signing the index: a name under $PANDORA_HOME/keys, or a key file; it must be one of the registry's keys [default: the key named `default`]
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "key_seed")]
    pub key: Option<String>,
    /// Derive the signing key from a seed (secret = SHA-256(seed))
    #[arg(long, value_name = "SEED")]
    pub key_seed: Option<String>,
    /// Days until clients refuse the index unless it is re-published
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub expires_in: u32,
}

impl PublishTargetArgs {
    /// Where the signing key comes from.
    pub fn key_source(&self) -> crate::ops::keys::KeySource<'_> {
        key_source(self.key.as_deref(), self.key_seed.as_deref())
    }
}

/// `pandora publish`
#[derive(Debug, Args)]
#[command(after_help = PUBLISH_HELP)]
pub struct PublishArgs {
    /// The package files
    #[arg(required = true, value_name = "FILE.psp")]
    pub files: Vec<PathBuf>,
    /// Where and how
    #[command(flatten)]
    pub target: PublishTargetArgs,
}

const PUBLISH_HELP: &str =
    "Each file is verified in full first (as install does); nothing is written unless all pass. \
Files are stored under their SHA-256 (blobs/sha256/HEX.psp beside index.acl), so the same bytes \
are stored once and publishing them again changes nothing; a NAME@VERSION already published \
with other bytes is refused. The index is replaced with a conditional write (S3: If-Match on its \
ETag; a directory: under a lock), so concurrent publishers never lose each other's packages. \
S3 credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or AWS_PROFILE in \
~/.aws/credentials and ~/.aws/config; region and endpoint from the registry's s3_region and \
s3_endpoint, else AWS_REGION and AWS_ENDPOINT_URL.";

/// `pandora yank`
#[derive(Debug, Args)]
pub struct YankArgs {
    /// The version to yank, as NAME@VERSION
    #[arg(value_name = "NAME@VERSION")]
    pub id: String,
    /// Take the yank back
    #[arg(long)]
    pub undo: bool,
    /// Where and how
    #[command(flatten)]
    pub target: PublishTargetArgs,
}

/// `pandora deprecate`
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["message", "undo"])))]
pub struct DeprecateArgs {
    /// NAME@VERSION, or NAME for every version published now
    #[arg(value_name = "NAME[@VERSION]")]
    pub id: String,
    /// Why, and what to use instead (shown as the warning on install and activate)
    #[arg(long, short, value_name = "MSG")]
    pub message: Option<String>,
    /// Take the deprecation back
    #[arg(long)]
    pub undo: bool,
    /// Where and how
    #[command(flatten)]
    pub target: PublishTargetArgs,
}

/// `pandora registry gc`
#[derive(Debug, Args)]
pub struct RegistryGcArgs {
    /// The configured registry to clean (it needs `allow_publish` and a `publish_url`)
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(registry_names))]
    pub registry: String,
    /// Only list what would be deleted
    #[arg(long)]
    pub dry_run: bool,
    /// Keep unreferenced files younger than this: a publisher may be about to index them
    #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(0..))]
    pub grace: i64,
}

/// `pandora registry metrics`
#[derive(Debug, Args)]
#[command(after_help = REGISTRY_METRICS_HELP)]
pub struct RegistryMetricsArgs {
    /// The registry directory (holding index.acl)
    pub directory: PathBuf,
    /// An access log: nginx combined format or S3 server access log format, plain or gzipped (repeatable; `-` reads standard input)
    #[arg(long = "access-log", value_name = "FILE", required = true)]
    pub access_logs: Vec<PathBuf>,
    /// Key signing metrics.acl (the index's): a name under $PANDORA_HOME/keys, or a key file [default: the key named `default`]
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "key_seed")]
    pub key: Option<String>,
    /// Derive the signing key from a seed (secret = SHA-256(seed))
    #[arg(long, value_name = "SEED")]
    pub key_seed: Option<String>,
}

const REGISTRY_METRICS_HELP: &str = "A download is a GET answered 200 or 206 of a package file \
the index lists (under any path prefix) or of a path naming a version's SHA-256. Requests of \
one file by one client (address and user agent) less than 10 minutes apart count once, so a \
resumed or ranged download is one. An upload (S3 REST.PUT.OBJECT answered 200) counts as a \
publication. Lines in neither format are skipped and counted. index.html is written again with \
the counts.";

/// `pandora registry index`
#[derive(Debug, Args)]
pub struct RegistryIndexArgs {
    /// The registry directory (its .psp files are found at any depth)
    pub directory: PathBuf,
    /// Key signing the index: a name under $PANDORA_HOME/keys, or a key file [default: the key named `default`]
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "key_seed")]
    pub key: Option<String>,
    /// Derive the signing key from a seed (secret = SHA-256(seed))
    #[arg(long, value_name = "SEED")]
    pub key_seed: Option<String>,
    /// Days until clients refuse the index unless it is re-published
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub expires_in: u32,
    /// The registry's name [default: the previous index's, else the directory's]
    #[arg(long)]
    pub name: Option<String>,
    /// Priority hint for clients [default: the previous index's, else 100]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub priority: Option<i64>,
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
    /// Seconds a fetched index is used before the registry is asked again
    #[arg(long, value_name = "SECONDS", default_value_t = crate::config::DEFAULT_CACHE_TTL, value_parser = clap::value_parser!(i64).range(0..))]
    pub cache_ttl: i64,
    /// Another URL serving the same registry, tried in order when the ones before fail (repeatable); the index must be signed by the registry's keys whichever URL serves it
    #[arg(long = "mirror", value_name = "URL")]
    pub mirrors: Vec<String>,
}

/// `pandora registry set`: what to change (nothing else is touched).
#[derive(Debug, Args)]
#[command(after_help = REGISTRY_SET_HELP)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args([
    "priority", "keys", "add_keys", "remove_keys", "require_signatures",
    "no_require_signatures", "cache_ttl", "mirrors", "no_mirrors", "allow_publish",
    "no_allow_publish", "publish_url", "no_publish_url", "s3_endpoint", "s3_region",
])))]
pub struct RegistrySetArgs {
    /// The registry to change
    #[arg(add = ArgValueCandidates::new(registry_names))]
    pub name: String,
    /// New priority (higher is consulted first)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub priority: Option<i64>,
    /// Replace the trusted keys with these (repeatable)
    #[arg(long = "key", value_name = "ed25519:HEX", conflicts_with_all = ["add_keys", "remove_keys"])]
    pub keys: Vec<String>,
    /// Trust one more key (repeatable)
    #[arg(long = "add-key", value_name = "ed25519:HEX")]
    pub add_keys: Vec<String>,
    /// Stop trusting a key (repeatable)
    #[arg(long = "remove-key", value_name = "ed25519:HEX")]
    pub remove_keys: Vec<String>,
    /// Refuse packages and indexes not signed by one of the registry's keys
    #[arg(long, conflicts_with = "no_require_signatures")]
    pub require_signatures: bool,
    /// Stop requiring signatures
    #[arg(long)]
    pub no_require_signatures: bool,
    /// Seconds a fetched index is used before the registry is asked again
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(i64).range(0..))]
    pub cache_ttl: Option<i64>,
    /// Replace the mirrors with these (repeatable)
    #[arg(long = "mirror", value_name = "URL", conflicts_with = "no_mirrors")]
    pub mirrors: Vec<String>,
    /// Remove every mirror
    #[arg(long)]
    pub no_mirrors: bool,
    /// Let `pandora publish`, `yank`, `deprecate` and `registry gc` write to it (needs a publish URL)
    #[arg(long, conflicts_with = "no_allow_publish")]
    pub allow_publish: bool,
    /// Stop publishing to it from here
    #[arg(long)]
    pub no_allow_publish: bool,
    /// Where its files are written: s3://BUCKET/PREFIX, or file:///DIR (its URL must serve the same files)
    #[arg(long, value_name = "URL", conflicts_with = "no_publish_url")]
    pub publish_url: Option<String>,
    /// Forget the publish URL (and the S3 settings)
    #[arg(long)]
    pub no_publish_url: bool,
    /// The S3-compatible endpoint for an s3:// publish URL, e.g. http://127.0.0.1:9000 [default: AWS, or AWS_ENDPOINT_URL]
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The S3 region [default: AWS_REGION, the AWS profile's, else us-east-1]
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
}

const REGISTRY_SET_HELP: &str =
    "The file is changed atomically, under the same lock as `registry add`; only the fields \
given are rewritten, so comments stay. Keys: an index cached under keys that are all replaced \
is fetched again and the highest serial seen starts afresh; while one old key stays trusted, \
an older index it signed is still refused.";

impl BuildArgs {
    /// Where the signing key comes from.
    pub fn key_source(&self) -> crate::ops::keys::KeySource<'_> {
        key_source(self.key.as_deref(), self.key_seed.as_deref())
    }
}

impl RegistryMetricsArgs {
    /// Where the signing key comes from.
    pub fn key_source(&self) -> crate::ops::keys::KeySource<'_> {
        key_source(self.key.as_deref(), self.key_seed.as_deref())
    }
}

impl RegistryIndexArgs {
    /// Where the signing key comes from.
    pub fn key_source(&self) -> crate::ops::keys::KeySource<'_> {
        key_source(self.key.as_deref(), self.key_seed.as_deref())
    }
}

fn key_source<'a>(key: Option<&'a str>, seed: Option<&'a str>) -> crate::ops::keys::KeySource<'a> {
    use crate::ops::keys::KeySource;
    match (seed, key) {
        (Some(seed), _) => KeySource::Seed(seed),
        (None, Some(key)) => KeySource::Named(key),
        (None, None) => KeySource::Default,
    }
}

/// `pandora registry remove`
#[derive(Debug, Args)]
pub struct RegistryRemoveArgs {
    /// The registry's name
    #[arg(add = ArgValueCandidates::new(registry_names))]
    pub name: String,
}

/// `pandora completions`
#[derive(Debug, Args)]
#[command(after_help = COMPLETIONS_HELP)]
pub struct CompletionsArgs {
    /// The shell to print a completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

const COMPLETIONS_HELP: &str =
    "The script asks `pandora` itself for candidates as you type (with PANDORA_COMPLETE set), so \
installed packages, profiles, registries and key names complete too (from $PANDORA_HOME, else \
$HOME/pandora). Load it when the shell starts, so it always matches the installed pandora:
  bash:  source <(pandora completions bash)           (in ~/.bashrc)
  zsh:   source <(pandora completions zsh)            (in ~/.zshrc)
  fish:  pandora completions fish | source            (in ~/.config/fish/config.fish)";

// Candidates for dynamic completion. They run inside `pandora` while the shell completes, so
// they read what is on disk and fail quietly: a completion never prints an error.

/// Pandora's home as completion sees it: `$PANDORA_HOME`, else `$HOME/pandora` (a `--home` on
/// the line being completed is not known yet).
fn completion_layout() -> Option<crate::layout::Layout> {
    let variable = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    let home = variable(crate::env_vars::PANDORA_HOME)
        .map(PathBuf::from)
        .or_else(|| {
            variable(crate::env_vars::HOME).map(|home| PathBuf::from(home).join("pandora"))
        })?;
    Some(crate::layout::Layout::new(home))
}

/// Installed packages: each NAME once, and every NAME@VERSION.
fn installed_packages() -> Vec<CompletionCandidate> {
    let Some(layout) = completion_layout() else {
        return Vec::new();
    };
    let records = crate::store::Store::new(&layout)
        .records()
        .unwrap_or_default();
    let mut names: Vec<String> = records.iter().map(|record| record.name.clone()).collect();
    names.dedup();
    names
        .into_iter()
        .map(|name| CompletionCandidate::new(name).help(Some("installed".into())))
        .chain(
            records.iter().map(|record| {
                CompletionCandidate::new(format!("{}@{}", record.name, record.version))
            }),
        )
        .collect()
}

/// Installed packages, and files.
fn installed_or_file(current: &std::ffi::OsStr) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    let mut candidates: Vec<CompletionCandidate> = installed_packages()
        .into_iter()
        .filter(|candidate| {
            candidate
                .get_value()
                .to_string_lossy()
                .starts_with(&*prefix)
        })
        .collect();
    candidates.extend(clap_complete::engine::ValueCompleter::complete(
        &PathCompleter::any(),
        current,
    ));
    candidates
}

/// Profile names.
fn profile_names() -> Vec<CompletionCandidate> {
    let Some(layout) = completion_layout() else {
        return Vec::new();
    };
    crate::profile::Profiles::new(&layout)
        .list()
        .unwrap_or_default()
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// Configured registries' names.
fn registry_names() -> Vec<CompletionCandidate> {
    let Some(layout) = completion_layout() else {
        return Vec::new();
    };
    crate::config::RegistriesFile::load(&layout.registries_file())
        .map(|file| {
            file.registries()
                .iter()
                .map(|registry| {
                    CompletionCandidate::new(registry.name.clone())
                        .help(Some(registry.url.to_string().into()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Key names: `keys/NAME.{key,pub}` and `keys/trusted/NAME.pub`.
fn key_names() -> Vec<CompletionCandidate> {
    let Some(layout) = completion_layout() else {
        return Vec::new();
    };
    let mut names: Vec<String> = [layout.keys_dir(), layout.trusted_keys_dir()]
        .iter()
        .filter_map(|directory| fs_err::read_dir(directory).ok())
        .flatten()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let extension = path.extension()?;
            (extension == "pub" || extension == "key")
                .then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names.dedup();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// Man pages for `pandora` and every subcommand, as `(file name, roff text)`, named
/// `pandora.1`, `pandora-registry.1`, `pandora-registry-add.1`, ..., and `pandora-launcher.1`.
/// `pandora.1` gains ENVIRONMENT, FILES, EXIT STATUS and EXAMPLES sections.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    // No `help` subcommand in the pages: there is no pandora-help(1) to point at.
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    collect_pages(&command, "pandora", &mut pages);
    if let Some((_, page)) = pages.iter_mut().find(|(name, _)| name == "pandora.1") {
        insert_before_version(page, &main_page_sections());
    }
    pages.push((
        "pandora-launcher.1".to_string(),
        launcher_page().into_bytes(),
    ));
    pages
}

/// The environment variables, with the first line of each one's documentation, read from
/// `pandora_core::env_vars` itself (its doc comments), grouped by its `// ...` section comments.
fn documented_variables() -> Vec<(String, &'static str, String)> {
    const SOURCE: &str = include_str!("../crates/pandora-core/src/env_vars.rs");
    let mut found = Vec::new();
    let (mut section, mut doc) = (String::new(), Vec::new());
    for line in SOURCE.lines() {
        let line = line.trim();
        if let Some(comment) = line.strip_prefix("/// ") {
            doc.push(comment);
        } else if let Some(comment) = line.strip_prefix("// ") {
            section = comment.trim_end_matches('.').to_string();
        } else if let Some(rest) = line.strip_prefix("pub const ") {
            let name = rest.split(':').next().unwrap_or_default();
            if let Some(variable) = crate::env_vars::ALL.iter().find(|known| **known == name) {
                found.push((section.clone(), *variable, doc.join(" ")));
            }
            doc.clear();
        } else {
            doc.clear();
        }
    }
    found
}

/// Escapes text for roff: backslashes, and a leading `.` or `'`.
fn roff_text(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

fn roff_entries(entries: &[(String, String)]) -> String {
    let mut out = String::new();
    for (term, meaning) in entries {
        out.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            roff_text(term),
            roff_text(meaning)
        ));
    }
    out
}

/// The layout under `$PANDORA_HOME`.
const FILES: &[(&str, &str)] = &[
    (
        "registries.acl",
        "the configured registries: URL, priority, keys, require-signatures",
    ),
    (
        "keys/",
        "signing keys: NAME.key (private, 0600) and NAME.pub",
    ),
    (
        "keys/trusted/",
        "*.pub files: keys whose packages are trusted (pandora key trust)",
    ),
    (
        "store/NAME@VERSION/",
        "installed packages, verified and read-only",
    ),
    (
        "records/",
        "install records: where each store entry came from, every file's hash",
    ),
    ("blobs/", "downloaded .psp files, by SHA-256"),
    (
        "profiles/NAME/",
        "a profile's generations (symlink forests)",
    ),
    ("vir", "the active profile's current generation"),
    ("manifests/PROFILE.lock", "each profile's lockfile"),
    ("cache/", "registry indexes"),
    (
        "rescue/",
        "files found inside a generation, moved aside before it is left",
    ),
    ("tmp/", "staging, swept by the next run"),
];

const EXAMPLES: &[(&str, &str)] = &[
    ("pandora registry add main https://example.org/pandora/ --key ed25519:HEX --require-signatures", "use a signed registry"),
    ("pandora install hello", "install hello and its dependencies, then (after asking) activate it"),
    ("eval \"$(pandora env)\"", "put the active profile on PATH, MANPATH and XDG_DATA_DIRS"),
    ("pandora key trust ./publisher.pub", "trust a publisher's key"),
    ("pandora --log ~/pandora.log -v sync --lockfile team.lock", "follow a lockfile, logging every event"),
    ("pandora rollback", "return to the previous generation"),
];

fn main_page_sections() -> String {
    let mut out = String::from(".SH ENVIRONMENT\n");
    let variables: Vec<(String, String)> = documented_variables()
        .into_iter()
        .map(|(_, name, doc)| (name.to_string(), doc))
        .collect();
    out.push_str(&roff_entries(&variables));
    out.push_str(".SH FILES\nUnder $PANDORA_HOME (default $HOME/pandora):\n");
    let files: Vec<(String, String)> = FILES
        .iter()
        .map(|(path, meaning)| (path.to_string(), meaning.to_string()))
        .collect();
    out.push_str(&roff_entries(&files));
    out.push_str(".SH \"EXIT STATUS\"\n");
    let codes: Vec<(String, String)> = crate::exit::EXIT_CODES
        .iter()
        .map(|(code, meaning)| (code.to_string(), meaning.to_string()))
        .collect();
    out.push_str(&roff_entries(&codes));
    out.push_str(".SH EXAMPLES\n");
    let examples: Vec<(String, String)> = EXAMPLES
        .iter()
        .map(|(command, meaning)| (command.to_string(), meaning.to_string()))
        .collect();
    out.push_str(&roff_entries(&examples));
    out
}

fn insert_before_version(page: &mut Vec<u8>, sections: &str) {
    let text = String::from_utf8_lossy(page).into_owned();
    let at = text.find(".SH VERSION").unwrap_or(text.len());
    *page = format!("{}{sections}{}", &text[..at], &text[at..]).into_bytes();
}

/// `pandora-launcher(1)`: the stub at the front of every package.
fn launcher_page() -> String {
    use crate::launcher::{EXIT_EXEC, EXIT_INVALID, EXIT_UNTRUSTED, EXIT_WORKENV};
    let mut out = format!(
        ".TH pandora-launcher 1 \"pandora-launcher {}\"\n.SH NAME\npandora\\-launcher \\- verify a PSPF package, extract it once, run its command\n",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str(".SH SYNOPSIS\n\\fIPACKAGE.psp\\fR [\\fIARGS\\fR...]\n.br\n\\fBpandora run\\fR \\fIPACKAGE.psp\\fR [\\fIARGS\\fR...]\n");
    out.push_str(&format!(".SH DESCRIPTION\n{}\n", roff_text(
        "The first bytes of every package Pandora builds. Run directly, it verifies the file (index checksum, the Ed25519 signature over the metadata, every slot's full SHA-256), applies the trust policy (keys in $PANDORA_HOME/keys/trusted/ and FLAVOR_TRUSTED_KEYS_DIR), extracts the slots once into a work environment cached by content under ~/.cache/pandora/workenv/, and execs the package's command with the arguments untouched. A warm start reads nothing of the package. The cache and every directory on the way to it must belong to the user and be writable by nobody else.",
    )));
    out.push_str(".SH ENVIRONMENT\n");
    let variables: Vec<(String, String)> = documented_variables()
        .into_iter()
        .filter(|(section, _, _)| section.contains("launcher"))
        .map(|(_, name, doc)| (name.to_string(), doc))
        .collect();
    out.push_str(&roff_entries(&variables));
    out.push_str(".SH \"EXIT STATUS\"\n");
    let codes = [
        (EXIT_INVALID, "the package is invalid (verification failed)"),
        (
            EXIT_UNTRUSTED,
            "signed by a key that is not trusted, under PANDORA_REQUIRE_TRUSTED=1",
        ),
        (
            EXIT_WORKENV,
            "the work environment cannot be prepared (full disk, unwritable or unsafe cache)",
        ),
        (EXIT_EXEC, "the command cannot be started"),
    ];
    let mut entries: Vec<(String, String)> = codes
        .iter()
        .map(|(code, meaning)| (code.to_string(), meaning.to_string()))
        .collect();
    entries.push((
        "other".into(),
        "the program's own exit code, passed through".into(),
    ));
    out.push_str(&roff_entries(&entries));
    out.push_str(".SH EXAMPLES\n");
    out.push_str(&roff_entries(&[
        ("./hello-1.1.0.psp --name you".into(), "run a package".into()),
        ("PANDORA_REQUIRE_TRUSTED=1 ./hello-1.1.0.psp".into(), "refuse it unless its signer is trusted".into()),
        ("FLAVOR_LAUNCHER_CLI=1 ./hello-1.1.0.psp verify".into(), "FlavorPack's maintenance commands: info, verify, verify-workenv, metadata, extract, run, version".into()),
        ("PANDORA_LAUNCHER_DEBUG=1 ./hello-1.1.0.psp".into(), "say what the launcher decided".into()),
    ]));
    out.push_str(".SH \"SEE ALSO\"\npandora(1), pandora\\-run(1), pandora\\-key(1)\n");
    out
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
