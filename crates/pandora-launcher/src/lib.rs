//! Running a package: verify, extract once into a content-keyed work environment, exec.
//!
//! Cache layout, under `$FLAVOR_CACHE_DIR/pandora/workenv`, else
//! `$XDG_CACHE_HOME/pandora/workenv`, else `~/.cache/pandora/workenv`:
//!
//! ```text
//! <key>/                  a work environment, sealed read-only; key = the package's content
//!                         identity (the SHA-256 of its gzipped signed metadata, which pins every
//!                         slot's SHA-256)
//! <key>/.pandora/metadata.json  the signed metadata, believed only if it hashes to the record's
//! <key>/.pandora/key            the signing key (informational: never read back)
//! <key>/.pandora/complete       for older launchers sharing the cache
//! <key>.lock              serializes first runs of the same package (and removal)
//! .staging-<key>-*/       extraction in progress (or left by a crash; swept under the lock)
//! files/<dev>-<inode>     what was verified about a package file: its size, mtime and ctime,
//!                         its work environment, the SHA-256 of its signed metadata, its key
//! ```
//!
//! A work environment's directory is `flock`ed shared by every program running from it (the
//! descriptor stays open across exec), and its mtime is the time of its last start, to the
//! hour. A new build's extraction removes the older builds of the same package nothing runs
//! from; `pandora prune` removes those unused for N days (see `gc`).
//!
//! # What a warm start checks, and what it does not
//!
//! A warm start does not open the package. It checks, in order:
//! - every directory from `/` down to the cache root belongs to this user or to root and is
//!   writable by nobody else unless sticky (as `/tmp` is); the cache root, `files/`, the work
//!   environment and its `.pandora/` belong to this user and are not writable by group or
//!   others. Otherwise it refuses to run (exit 113) rather than believe the cache, as ssh
//!   refuses a `~/.ssh` others can write;
//! - the record `files/<dev>-<inode>` (opened without following links, a regular file of this
//!   user's) matches the package file's device, inode, size, mtime and ctime. Any change to the
//!   file changes its ctime, so a modified package is verified in full again;
//! - `.pandora/metadata.json` hashes to the SHA-256 the record holds, so the command and
//!   environment are those of the signed metadata this file was verified with. The key comes
//!   from the record, and trust policy (`PANDORA_REQUIRE_TRUSTED`, the trusted keys) is applied
//!   to it on every start. Trusted-key directories and files count only when nobody but this
//!   user or root could have written them (`pandora_format::trust`); the others are named in a
//!   warning and ignored;
//! - the entry point exists.
//!
//! It does not re-hash the extracted files, and does not notice extra files or changed modes:
//! the tree is sealed (directories 0555, files 0444 or 0555) so accidental edits fail, but
//! this user (or root) can undo that. `FLAVOR_LAUNCHER_CLI=1 ./pkg.psp verify-workenv`
//! extracts the package again beside the work environment and reports every difference. The
//! directories the metadata declares (`workenv.directories`) stay writable by their owner, for
//! the program's own state, and their contents are not compared.
//!
//! A first run (or a changed package) verifies the package's structure and signature, checks
//! trust before writing anything, and extracts every slot with its full SHA-256 checked while
//! streaming, into a staging directory renamed into place. The launcher writes its own state
//! only into directories it created, with opens that never follow a link.
#![deny(missing_docs)]
// `println!` and `eprintln!` panic when the write fails, and then the program never runs:
// everything goes through `output`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod command;
mod entry;
mod gc;
mod maintenance;
mod output;
mod secure;
mod workenv;

pub use command::{glob_match, split_command, LaunchPlan};
pub use entry::{record_name, EntryRecord, WritableDirectory, RECORD_FORMAT};
pub use gc::{collect_unused, Collected, GcError};
pub use maintenance::maintenance;
pub use secure::describe;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use pandora_core::env_vars;
use pandora_format::metadata::{encode_hex, Metadata};
use pandora_format::package::{Package, Scope, Verified};
use pandora_format::trust::{Policy, Verdict};
use pandora_format::FormatError;

use workenv::{Failure, Record};

/// Output into a closed pipe (`| head`) is an error the launcher handles, not a signal to die
/// of. The binary has no Rust runtime start-up (which would do this); the program it execs gets
/// SIGPIPE's default back, as `Command::exec` restores it.
#[allow(unsafe_code)]
fn ignore_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: SIG_IGN runs no handler code; nothing else in the process has set one yet.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}

/// Descriptors 0, 1 and 2 open (on `/dev/null` where they were closed), as Rust's runtime
/// start-up would: else the work environment's directory, held open across the exec, would
/// take one of their numbers, and the program would write into it, read it as its input, or
/// close it (and with it the hold that keeps `prune` from removing its work environment).
fn open_standard_descriptors() {
    use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
    use nix::sys::stat::Mode;
    for descriptor in 0..=2 {
        if fcntl(descriptor, FcntlArg::F_GETFD) == Err(nix::errno::Errno::EBADF) {
            // The lowest free number is this one; it stays open for the program.
            let _ = open("/dev/null", OFlag::O_RDWR, Mode::empty());
        }
    }
}

/// The stub's whole program, returning its exit code: find the package being run (this
/// executable), then either run FlavorPack's maintenance commands (`FLAVOR_LAUNCHER_CLI=1`) or
/// launch it.
pub fn main() -> u8 {
    ignore_sigpipe();
    open_standard_descriptors();
    let mut arguments = std::env::args_os();
    let argv0 = arguments.next().unwrap_or_default();
    let package = match std::env::current_exe() {
        Ok(path) => path,
        // No /proc (a bare chroot or container): a path in argv[0] is where the kernel found
        // this file (a bare name never is: exec searched PATH for it, and /proc is the only
        // sure way back).
        Err(_) if argv0.as_encoded_bytes().contains(&b'/') => PathBuf::from(&argv0),
        Err(error) => {
            output::diagnostic(format_args!("cannot find the package being run: {error}"));
            return EXIT_INVALID;
        }
    };
    let original = argv0.to_string_lossy().into_owned();
    let arguments: Vec<_> = arguments.collect();
    // An installed package's entry point (this binary hard-linked under $PANDORA_HOME, a record
    // beside it), before anything a package start needs.
    match entry::find(&package) {
        Ok(None) => {}
        Ok(Some(entry)) => {
            let spawn = std::env::var_os(env_vars::FLAVOR_EXEC_MODE)
                .is_some_and(|value| value.eq_ignore_ascii_case("spawn"));
            return match entry::run(&package, &entry, &arguments, &original, spawn) {
                Ok(code) => code,
                Err(error) => {
                    output::diagnostic(format_args!("{}", describe(&error)));
                    error.exit_code()
                }
            };
        }
        Err(error) => {
            output::diagnostic(format_args!("{}", describe(&error)));
            return error.exit_code();
        }
    }
    let settings = LaunchSettings::from_environment(|name| std::env::var(name).ok());
    if std::env::var_os(env_vars::FLAVOR_LAUNCHER_CLI).is_some_and(|value| value == "1") {
        return maintenance(&package, &arguments, &settings);
    }
    match launch(&package, &arguments, &original, &settings) {
        Ok(code) => code,
        Err(error) => {
            output::diagnostic(format_args!("{}", describe(&error)));
            error.exit_code()
        }
    }
}

/// How the launcher was asked to behave (from the environment).
#[derive(Debug, Clone)]
pub struct LaunchSettings {
    /// Where work environments live.
    pub cache_root: PathBuf,
    /// Directories of trusted `*.pub` keys.
    pub trusted_key_dirs: Vec<PathBuf>,
    /// Refuse packages signed by keys that are not trusted.
    pub require_trusted: bool,
    /// Keys trusted for this start only: `pandora run NAME` passes the keys configured for the
    /// registry the package came from, which vouch for it as they do at install.
    pub vouched: Vec<pandora_core::PublicKey>,
    /// `FLAVOR_WORKENV_CACHE=false` forces re-extraction.
    pub use_cache: bool,
    /// `FLAVOR_EXEC_MODE=spawn` runs a child and forwards its exit code instead of exec'ing.
    pub spawn: bool,
    /// `PANDORA_LAUNCHER_DEBUG=1`: say on stderr what the launcher decided (warm, verify,
    /// extract) and why.
    pub debug: bool,
}

/// Why a package did not start. Each maps to a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Verification failed (exit 111).
    #[error(transparent)]
    Invalid(#[from] FormatError),
    /// Signed by an unknown key while trusted keys are required (exit 112).
    #[error(
        "{package}: signed by key {key} (fingerprint {}), which is not trusted (PANDORA_REQUIRE_TRUSTED=1); to trust it: `pandora key trust {key}`",
        key.fingerprint()
    )]
    Untrusted {
        /// The package.
        package: PathBuf,
        /// Its signing key.
        key: pandora_core::PublicKey,
    },
    /// The work environment could not be prepared, or the cache holding it is not safely this
    /// user's (exit 113).
    #[error("{package}: cannot prepare the work environment {path}: {detail}")]
    Workenv {
        /// The package.
        package: PathBuf,
        /// The path involved.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The command could not be started (exit 114).
    #[error("{package}: cannot run `{program}`: {detail}")]
    Exec {
        /// The package.
        package: PathBuf,
        /// The program.
        program: String,
        /// What went wrong.
        detail: String,
    },
}

/// The launcher's own exit codes; a program's exit code is passed through untouched.
pub const EXIT_INVALID: u8 = 111;
/// Untrusted key under `PANDORA_REQUIRE_TRUSTED=1`.
pub const EXIT_UNTRUSTED: u8 = 112;
/// Work environment could not be prepared (disk full, unwritable cache, a cache another user
/// could write).
pub const EXIT_WORKENV: u8 = 113;
/// The command could not be started.
pub const EXIT_EXEC: u8 = 114;

impl LaunchError {
    /// The exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            LaunchError::Invalid(_) => EXIT_INVALID,
            LaunchError::Untrusted { .. } => EXIT_UNTRUSTED,
            LaunchError::Workenv { .. } => EXIT_WORKENV,
            LaunchError::Exec { .. } => EXIT_EXEC,
        }
    }
}

impl LaunchSettings {
    /// Reads the launcher's settings from an environment lookup.
    pub fn from_environment(environment: impl Fn(&str) -> Option<String>) -> LaunchSettings {
        let get = |name: &str| environment(name).filter(|value| !value.is_empty());
        let home = get(env_vars::HOME)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let cache_root = match (
            get(env_vars::FLAVOR_CACHE_DIR),
            get(env_vars::XDG_CACHE_HOME),
        ) {
            (Some(flavor), _) => PathBuf::from(flavor).join("pandora").join("workenv"),
            (None, Some(xdg)) => PathBuf::from(xdg).join("pandora").join("workenv"),
            (None, None) => home.join(".cache").join("pandora").join("workenv"),
        };
        let pandora_home = get(env_vars::PANDORA_HOME)
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join("pandora"));
        let mut trusted_key_dirs =
            vec![pandora_core::layout::Layout::new(pandora_home).trusted_keys_dir()];
        trusted_key_dirs.extend(get(env_vars::FLAVOR_TRUSTED_KEYS_DIR).map(PathBuf::from));
        LaunchSettings {
            cache_root,
            trusted_key_dirs,
            require_trusted: get(env_vars::PANDORA_REQUIRE_TRUSTED)
                .is_some_and(|value| value != "0"),
            vouched: Vec::new(),
            use_cache: get(env_vars::FLAVOR_WORKENV_CACHE)
                .is_none_or(|value| !value.eq_ignore_ascii_case("false") && value != "0"),
            spawn: get(env_vars::FLAVOR_EXEC_MODE)
                .is_some_and(|value| value.eq_ignore_ascii_case("spawn")),
            debug: get(env_vars::PANDORA_LAUNCHER_DEBUG).is_some_and(|value| value != "0"),
        }
    }
}

/// Runs `package` with `arguments`. Returns only on failure or, in spawn mode, with the
/// child's exit code; otherwise the process becomes the package's program.
pub fn launch(
    package: &Path,
    arguments: &[OsString],
    original_command: &str,
    settings: &LaunchSettings,
) -> Result<u8, LaunchError> {
    let stat = fs_err::metadata(package).map_err(|error| {
        LaunchError::Invalid(FormatError::Open {
            path: package.to_path_buf(),
            source: error,
        })
    })?;
    // The same policy `pandora install` and `activate` apply, read once per start; trust
    // sources that are not believed are said once, and do not stop the program.
    let policy = Policy::new(&settings.trusted_key_dirs, settings.require_trusted);
    for rejected in &policy.store().rejected {
        output::diagnostic(format_args!(
            "warning: not a trusted key source (ignored): {rejected}"
        ));
    }
    // The work environment stays locked (shared) for as long as the program runs, so nothing
    // removes it underneath (see `gc`).
    let warm = warm(package, settings, &stat)?
        .and_then(|(workenv, plan)| Some((gc::hold(&workenv)?, workenv, plan)));
    let (_in_use, workenv, plan) = match warm {
        Some(found) => {
            debug(
                settings,
                format_args!("warm start: {} unchanged since verified", package.display()),
            );
            found
        }
        None => cold(package, &stat, settings, &policy)?,
    };
    check_trust(package, &plan, &policy, &settings.vouched, true)?;
    execute(
        package,
        &plan,
        &workenv,
        arguments,
        original_command,
        settings.spawn,
    )
}

/// Runs `plan` in `workenv` with `arguments`: the program, its arguments and its environment as
/// [`LaunchPlan`] makes them, exec'd (or, with `spawn`, run as a child whose exit code is
/// returned). Shared by packages and installed entry points, so both start programs alike.
pub(crate) fn execute(
    package: &Path,
    plan: &LaunchPlan,
    workenv: &Path,
    arguments: &[OsString],
    original_command: &str,
    spawn: bool,
) -> Result<u8, LaunchError> {
    let argv = plan
        .argv(workenv, arguments)
        .map_err(|detail| LaunchError::Exec {
            package: package.to_path_buf(),
            program: plan.command.clone(),
            detail,
        })?;
    let environment = plan.environment(workenv, std::env::vars_os(), package, original_command);
    let program = command::resolve_program(
        Path::new(&argv[0]),
        environment.get(&OsString::from(env_vars::PATH)),
    );
    let mut child = std::process::Command::new(&program);
    child
        .arg0(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(&environment);
    let exec_error = |error: std::io::Error| LaunchError::Exec {
        package: package.to_path_buf(),
        program: program.display().to_string(),
        detail: error.to_string(),
    };
    if spawn {
        let status = child.status().map_err(exec_error)?;
        use std::os::unix::process::ExitStatusExt;
        return Ok(match (status.code(), status.signal()) {
            (Some(code), _) => code as u8,
            (None, Some(signal)) => 128u8.wrapping_add(signal as u8),
            (None, None) => 1,
        });
    }
    // exec replaces this process: same PID, the program's own exit code and signals.
    Err(exec_error(child.exec()))
}

fn debug(settings: &LaunchSettings, message: std::fmt::Arguments<'_>) {
    if settings.debug {
        output::diagnostic(message);
    }
}

fn check_trust(
    package: &Path,
    plan: &LaunchPlan,
    policy: &Policy,
    vouched: &[pandora_core::PublicKey],
    warn: bool,
) -> Result<(), LaunchError> {
    // The key comes from the verified package or the record bound to its signed digest, never
    // from the cache.
    let key = plan.public_key;
    match policy.check(&key, vouched) {
        Verdict::Trusted(_) => Ok(()),
        Verdict::Refused => Err(LaunchError::Untrusted {
            package: package.to_path_buf(),
            key,
        }),
        Verdict::Untrusted => {
            if warn {
                output::diagnostic(format_args!(
                    "warning: {} is signed by key {key} (fingerprint {}), which is not trusted; to trust it: `pandora key trust {key}`",
                    package.display(),
                    key.fingerprint()
                ));
            }
            Ok(())
        }
    }
}

fn record_path(settings: &LaunchSettings, stat: &std::fs::Metadata) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    settings
        .cache_root
        .join("files")
        .join(format!("{}-{}", stat.dev(), stat.ino()))
}

fn workenv_error(package: &Path) -> impl Fn(&Path, String) -> LaunchError + '_ {
    move |path, detail| LaunchError::Workenv {
        package: package.to_path_buf(),
        path: path.to_path_buf(),
        detail,
    }
}

/// A package-format error as a launch error: a failed write is the work environment's fault
/// (disk full, unwritable cache; exit 113), anything else the package's (exit 111).
fn format_failure(package: &Path, error: FormatError) -> LaunchError {
    match error {
        FormatError::Write { path, source } => workenv_error(package)(&path, describe(&source)),
        other => LaunchError::Invalid(other),
    }
}

fn build_failure(package: &Path, failure: Failure) -> LaunchError {
    match failure {
        Failure::Format(error) => format_failure(package, error),
        Failure::Io(path, detail) => workenv_error(package)(&path, detail),
    }
}

/// The warm path: no hashing, not even an open of the package. `None` sends the caller down
/// the cold path; an error means the cache is not safely ours and nothing in it is believed.
fn warm(
    package: &Path,
    settings: &LaunchSettings,
    stat: &std::fs::Metadata,
) -> Result<Option<(PathBuf, LaunchPlan)>, LaunchError> {
    if !settings.use_cache {
        return Ok(None);
    }
    let root = &settings.cache_root;
    let refuse = workenv_error(package);
    // Nothing cached yet: the cold path creates the root, then checks it.
    if !secure::check_root_if_present(root).map_err(|detail| refuse(root, detail))? {
        return Ok(None);
    }
    let files = root.join("files");
    if !secure::check_owned_if_present(&files).map_err(|detail| refuse(&files, detail))? {
        return Ok(None);
    }
    let path = record_path(settings, stat);
    let Some(text) = secure::read_owned(&path, 4096).map_err(|detail| refuse(&path, detail))?
    else {
        return Ok(None);
    };
    let Some(record) = Record::parse(&String::from_utf8_lossy(&text)) else {
        return Ok(None);
    };
    if record.stat != Record::stat_text(stat) {
        return Ok(None);
    }
    let workenv = root.join(&record.workenv);
    let Some(metadata) = bound_metadata(package, &workenv, &record.metadata_sha256)? else {
        return Ok(None);
    };
    Ok(runnable(&workenv, &metadata, &record.public_key).map(|plan| (workenv, plan)))
}

/// The signed metadata of the work environment at `workenv`, if it is there, complete, ours,
/// and hashes to `digest`.
fn bound_metadata(
    package: &Path,
    workenv: &Path,
    digest: &[u8; 32],
) -> Result<Option<Metadata>, LaunchError> {
    let refuse = workenv_error(package);
    let control = workenv.join(workenv::CONTROL);
    for directory in [workenv, &control] {
        if !secure::check_owned_if_present(directory).map_err(|detail| refuse(directory, detail))? {
            return Ok(None);
        }
    }
    let path = control.join("metadata.json");
    let Some(json) =
        secure::read_owned(&path, workenv::MAX_METADATA).map_err(|detail| refuse(&path, detail))?
    else {
        return Ok(None);
    };
    if workenv::metadata_digest(&json) != *digest {
        return Ok(None);
    }
    Ok(serde_json::from_slice(&json).ok())
}

/// The plan, if the work environment still has its entry point.
fn runnable(
    workenv: &Path,
    metadata: &Metadata,
    public_key: &pandora_core::PublicKey,
) -> Option<LaunchPlan> {
    let plan = LaunchPlan::from_metadata(metadata, public_key)?;
    let argv = plan.argv(workenv, &[]).ok()?;
    let program = Path::new(&argv[0]);
    // A damaged tree (entry point deleted) is re-extracted rather than failing.
    if program.is_absolute() && !program.exists() {
        return None;
    }
    Some(plan)
}

/// The cold path: full verification, then extraction (hashing every slot) under the lock.
fn cold(
    package_path: &Path,
    stat: &std::fs::Metadata,
    settings: &LaunchSettings,
    policy: &Policy,
) -> Result<(gc::InUse, PathBuf, LaunchPlan), LaunchError> {
    let package = Package::open(package_path)?;
    let verified = package.verified(Scope::Structure)?;
    let plan = LaunchPlan::from_metadata(&verified.metadata, &verified.public_key).ok_or_else(|| LaunchError::Exec {
        package: package_path.to_path_buf(),
        program: String::new(),
        detail: "the package has no command to run (it is a library); install it with `pandora install` instead".into(),
    })?;
    // Refuse before writing anything when the key is not trusted under policy.
    check_trust(package_path, &plan, policy, &settings.vouched, false)?;
    let root = &settings.cache_root;
    let refuse = workenv_error(package_path);
    secure::prepare_root(root).map_err(|detail| refuse(root, detail))?;
    let key = workenv::key(&verified);
    let digest = workenv::metadata_digest(&verified.metadata_json);
    let workenv = root.join(&key);
    let lock_path = root.join(format!("{key}.lock"));
    let _lock = secure::lock(&lock_path).map_err(|detail| refuse(&lock_path, detail))?;
    // Another process may have finished the same extraction while this one waited. The tree
    // came from verified bytes, but this file may differ from the one it came from (same
    // metadata, a slot swapped): reuse it only after every slot here hashes correctly.
    let ready = if settings.use_cache {
        bound_metadata(package_path, &workenv, &digest)?
            .and_then(|metadata| runnable(&workenv, &metadata, &verified.public_key))
            .is_some()
    } else {
        false
    };
    if ready {
        debug(
            settings,
            format_args!(
                "verifying {} in full before reusing {}",
                package_path.display(),
                workenv.display()
            ),
        );
        for slot in &verified.slots {
            let actual = package.hash_slot(&slot.descriptor)?;
            if actual != slot.sha256 {
                return Err(LaunchError::Invalid(FormatError::CheckFailed {
                    path: package_path.to_path_buf(),
                    check: format!("slot {} ({}) sha256", slot.index, slot.id),
                    reason: format!(
                        "stored bytes hash to {}, the signed metadata says {}",
                        encode_hex(&actual),
                        encode_hex(&slot.sha256)
                    ),
                }));
            }
        }
    } else {
        debug(
            settings,
            format_args!(
                "extracting {} into {}",
                package_path.display(),
                workenv.display()
            ),
        );
        extract(&package, &verified, &plan, root, &key)
            .map_err(|failure| build_failure(package_path, failure))?;
        // Older builds of this package nothing runs from: upgrades do not pile up.
        gc::remove_superseded(root, &verified.metadata.package.name, &key);
    }
    // Under the first-run lock, which every remover takes first: nothing removes it now.
    let in_use = gc::hold(&workenv).ok_or_else(|| {
        refuse(
            &workenv,
            "cannot lock the work environment for this run".into(),
        )
    })?;
    let record_file = record_path(settings, stat);
    let record = Record {
        stat: Record::stat_text(stat),
        workenv: key,
        metadata_sha256: digest,
        public_key: verified.public_key,
    };
    pandora_core::fs::write_atomic(&record_file, record.encode().as_bytes())
        .map_err(|error| refuse(&record_file, describe(&error)))?;
    Ok((in_use, workenv, plan))
}

/// Builds the work environment in a staging directory of ours and renames it into place.
fn extract(
    package: &Package,
    verified: &Verified,
    plan: &LaunchPlan,
    root: &Path,
    key: &str,
) -> Result<(), Failure> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error: std::io::Error| Failure::Io(path.clone(), describe(&error))
    };
    // Leftovers of crashed extractions (and comparisons) of this package; safe to remove
    // under its lock.
    for prefix in [
        format!(".staging-{key}-"),
        format!(".trash-{key}-"),
        format!(".verify-{key}-"),
    ] {
        for leftover in secure::leftovers(root, &prefix) {
            let _ = secure::remove_tree(&leftover);
        }
    }
    let staging = tempfile::Builder::new()
        .prefix(&format!(".staging-{key}-"))
        .tempdir_in(root)
        .map_err(io(root))?;
    let final_path = root.join(key);
    workenv::populate(package, verified, plan, staging.path(), &final_path)?;
    // Sealed now: a plain recursive delete could not remove it any more.
    let staged = staging.keep();
    let discard = |failure: Failure| {
        let _ = secure::remove_tree(&staged);
        failure
    };
    if final_path.symlink_metadata().is_ok() {
        // Incomplete, damaged or stale: move it aside in one rename, then delete it.
        let trash = root.join(format!(".trash-{key}-{}", std::process::id()));
        fs_err::rename(&final_path, &trash).map_err(|error| discard(io(&final_path)(error)))?;
        let _ = secure::remove_tree(&trash);
    }
    fs_err::rename(&staged, &final_path).map_err(|error| discard(io(&final_path)(error)))?;
    pandora_core::fs::sync_directory(root).map_err(io(root))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_a_work_environment_failure_with_its_cause() {
        let error = format_failure(
            Path::new("/pkgs/app.psp"),
            FormatError::Write {
                path: PathBuf::from("/cache/w/bin/run"),
                source: std::io::Error::from_raw_os_error(28),
            },
        );
        assert_eq!(error.exit_code(), EXIT_WORKENV);
        let message = describe(&error);
        assert!(
            message.contains("/cache/w/bin/run") && message.contains("No space left on device"),
            "{message}"
        );
        let invalid = format_failure(
            Path::new("/pkgs/app.psp"),
            FormatError::Open {
                path: PathBuf::from("/pkgs/app.psp"),
                source: std::io::Error::from_raw_os_error(2),
            },
        );
        assert_eq!(invalid.exit_code(), EXIT_INVALID);
        assert!(
            describe(&invalid).contains("No such file or directory"),
            "{}",
            describe(&invalid)
        );
    }
}
