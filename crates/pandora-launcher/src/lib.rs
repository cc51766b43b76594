//! Running a package: verify, extract once into a content-keyed work environment, exec.
//!
//! Cache layout, under `$FLAVOR_CACHE_DIR/pandora/workenv`, else
//! `$XDG_CACHE_HOME/pandora/workenv`, else `~/.cache/pandora/workenv` (all 0700, ours):
//!
//! ```text
//! <key>/                  a work environment; key = the package's content identity (the
//!                         SHA-256 of its signed metadata, which pins every slot's SHA-256)
//! <key>/.pandora/metadata.json the signed metadata (read on warm starts instead of the package)
//! <key>/.pandora/key           the signing key, hex (trust policy applies on warm starts too)
//! <key>/.pandora/complete      written last: without it the directory is not used
//! <key>.lock              serializes first runs of the same package
//! .staging-<key>-*/       extraction in progress (or left by a crash; swept under the lock)
//! files/<dev>-<inode>     what was verified about a package file: size, mtime, ctime, key
//! ```
//!
//! A warm start stats the package, finds its record, checks the times and sizes still match
//! and the entry point exists, and execs: the package is not even opened. Any change to the
//! file changes its ctime, so a modified package is re-verified in full before it runs.
#![deny(missing_docs)]

mod command;
mod maintenance;

pub use command::{glob_match, split_command, LaunchPlan};
pub use maintenance::maintenance;

use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use pandora_core::env_vars;
use pandora_core::fs::FileLock;
use pandora_core::PublicKey;
use pandora_format::extract::{Extraction, Limits};
use pandora_format::metadata::encode_hex;
use pandora_format::package::{Package, Scope, Verified};
use pandora_format::trust::TrustStore;
use pandora_format::FormatError;

/// The stub's whole program: find the package being run (this executable), then either run
/// FlavorPack's maintenance commands (`FLAVOR_LAUNCHER_CLI=1`) or launch it.
pub fn main() -> std::process::ExitCode {
    use std::process::ExitCode;
    let package = match std::env::current_exe() {
        Ok(path) => path,
        Err(error) => {
            eprintln!("pandora-launcher: cannot find the package being run: {error}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let mut arguments = std::env::args_os();
    let original = arguments
        .next()
        .map(|arg| arg.to_string_lossy().into_owned())
        .unwrap_or_default();
    let arguments: Vec<_> = arguments.collect();
    let settings = LaunchSettings::from_environment(|name| std::env::var(name).ok());
    if std::env::var_os(env_vars::FLAVOR_LAUNCHER_CLI).is_some_and(|value| value == "1") {
        return ExitCode::from(maintenance(&package, &arguments, &settings));
    }
    match launch(&package, &arguments, &original, &settings) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("pandora-launcher: {error}");
            ExitCode::from(error.exit_code())
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
        "{package}: signed by key {fingerprint}, which is not trusted (PANDORA_REQUIRE_TRUSTED=1)"
    )]
    Untrusted {
        /// The package.
        package: PathBuf,
        /// Hex SHA-256 of its key.
        fingerprint: String,
    },
    /// The work environment could not be prepared (exit 113).
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
/// Work environment could not be prepared (disk full, unwritable cache).
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
    let stat = std::fs::metadata(package).map_err(|error| {
        LaunchError::Invalid(FormatError::Open {
            path: package.to_path_buf(),
            source: error,
        })
    })?;
    let (workenv, plan) = match warm(settings, &stat) {
        Some(found) => {
            debug(
                settings,
                format_args!("warm start: {} unchanged since verified", package.display()),
            );
            found
        }
        None => cold(package, &stat, settings)?,
    };
    check_trust(package, &plan, settings, true)?;
    let argv = plan
        .argv(&workenv, arguments)
        .map_err(|detail| LaunchError::Exec {
            package: package.to_path_buf(),
            program: plan.command.clone(),
            detail,
        })?;
    let environment = plan.environment(&workenv, std::env::vars_os(), package, original_command);
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
    if settings.spawn {
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
        eprintln!("pandora-launcher: {message}");
    }
}

fn check_trust(
    package: &Path,
    plan: &LaunchPlan,
    settings: &LaunchSettings,
    warn: bool,
) -> Result<(), LaunchError> {
    let store = TrustStore::load(&settings.trusted_key_dirs);
    if store.trusts(&plan.public_key).is_some() {
        return Ok(());
    }
    let fingerprint = plan.public_key.fingerprint().to_string();
    if settings.require_trusted {
        return Err(LaunchError::Untrusted {
            package: package.to_path_buf(),
            fingerprint,
        });
    }
    if warn {
        eprintln!(
            "pandora-launcher: warning: {} is signed by key {fingerprint}, which is not trusted",
            package.display()
        );
    }
    Ok(())
}

/// What a stat record remembers about a package file.
fn stat_line(stat: &std::fs::Metadata, key: &str) -> String {
    format!(
        "{} {} {} {}.{:09} {}.{:09} {key}\n",
        stat.dev(),
        stat.ino(),
        stat.len(),
        stat.mtime(),
        stat.mtime_nsec(),
        stat.ctime(),
        stat.ctime_nsec()
    )
}

fn record_path(settings: &LaunchSettings, stat: &std::fs::Metadata) -> PathBuf {
    settings
        .cache_root
        .join("files")
        .join(format!("{}-{}", stat.dev(), stat.ino()))
}

/// The warm path: no hashing, not even a read of the package.
fn warm(settings: &LaunchSettings, stat: &std::fs::Metadata) -> Option<(PathBuf, LaunchPlan)> {
    if !settings.use_cache {
        return None;
    }
    let record = std::fs::read_to_string(record_path(settings, stat)).ok()?;
    let key = record.split_whitespace().last()?.to_string();
    if record != stat_line(stat, &key) {
        return None;
    }
    let workenv = settings.cache_root.join(&key);
    usable(&workenv)
}

/// A work environment that is complete and still has its entry point.
fn usable(workenv: &Path) -> Option<(PathBuf, LaunchPlan)> {
    if !workenv.join(".pandora/complete").is_file() {
        return None;
    }
    let metadata: pandora_format::metadata::Metadata =
        serde_json::from_slice(&std::fs::read(workenv.join(".pandora/metadata.json")).ok()?)
            .ok()?;
    let key = pandora_format::metadata::decode_hex::<32>(
        std::fs::read_to_string(workenv.join(".pandora/key"))
            .ok()?
            .trim(),
    )
    .and_then(PublicKey::from_bytes)?;
    let plan = LaunchPlan::from_metadata(&metadata, &key)?;
    let argv = plan.argv(workenv, &[]).ok()?;
    let program = Path::new(&argv[0]);
    // A damaged tree (entry point deleted) is re-extracted rather than failing.
    if program.is_absolute() && !program.exists() {
        return None;
    }
    Some((workenv.to_path_buf(), plan))
}

/// Creates the cache root (0700) and refuses one that is not safely ours.
fn prepare_root(root: &Path) -> Result<(), String> {
    std::fs::create_dir_all(root).map_err(|error| error.to_string())?;
    // /proc/self belongs to the process's effective user.
    let me = std::fs::metadata("/proc/self")
        .map_err(|error| format!("cannot tell who this process runs as: {error}"))?
        .uid();
    for directory in [root, &root.join("files")] {
        std::fs::create_dir_all(directory).map_err(|error| error.to_string())?;
        let metadata = std::fs::symlink_metadata(directory).map_err(|error| error.to_string())?;
        if !metadata.is_dir() {
            return Err(format!("{} is not a directory", directory.display()));
        }
        if metadata.uid() != me {
            return Err(format!("{} belongs to another user", directory.display()));
        }
        if metadata.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))
                .map_err(|error| error.to_string())?;
        }
    }
    Ok(())
}

/// The cold path: full verification, then extraction (hashing every slot) under the lock.
fn cold(
    package_path: &Path,
    stat: &std::fs::Metadata,
    settings: &LaunchSettings,
) -> Result<(PathBuf, LaunchPlan), LaunchError> {
    let package = Package::open(package_path)?;
    let verified = package.verified(Scope::Structure)?;
    let plan = LaunchPlan::from_metadata(&verified.metadata, &verified.public_key).ok_or_else(|| LaunchError::Exec {
        package: package_path.to_path_buf(),
        program: String::new(),
        detail: "the package has no command to run (it is a library); install it with `pandora install` instead".into(),
    })?;
    // Refuse before writing anything when the key is not trusted under policy.
    check_trust(package_path, &plan, settings, false)?;
    let root = &settings.cache_root;
    let workenv_error = |path: &Path, detail: String| LaunchError::Workenv {
        package: package_path.to_path_buf(),
        path: path.to_path_buf(),
        detail,
    };
    prepare_root(root).map_err(|detail| workenv_error(root, detail))?;
    let key = encode_hex(&verified.metadata_sha256[..16]);
    let workenv = root.join(&key);
    let lock_path = root.join(format!("{key}.lock"));
    let _lock = FileLock::acquire(&lock_path)
        .map_err(|error| workenv_error(&lock_path, error.to_string()))?;
    // Another process may have finished the same extraction while this one waited. The tree
    // came from verified bytes, but this file may differ from the one it came from (same
    // metadata, a slot swapped): reuse it only after every slot here hashes correctly.
    let ready = if settings.use_cache {
        usable(&workenv)
    } else {
        None
    };
    let (workenv, plan) = match ready {
        Some(found) => {
            debug(
                settings,
                format_args!(
                    "verifying {} in full before reusing {}",
                    package_path.display(),
                    found.0.display()
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
            found
        }
        None => {
            debug(
                settings,
                format_args!(
                    "extracting {} into {}",
                    package_path.display(),
                    workenv.display()
                ),
            );
            extract(&package, &verified, &plan, root, &key).map_err(|error| match error {
                ExtractFailure::Format(error) => LaunchError::Invalid(error),
                ExtractFailure::Io(path, detail) => workenv_error(&path, detail),
            })?;
            (workenv, plan)
        }
    };
    let record = record_path(settings, stat);
    pandora_core::fs::write_atomic(&record, stat_line(stat, &key).as_bytes())
        .map_err(|error| workenv_error(&record, error.to_string()))?;
    Ok((workenv, plan))
}

enum ExtractFailure {
    Format(FormatError),
    Io(PathBuf, String),
}

fn extract(
    package: &Package,
    verified: &Verified,
    plan: &LaunchPlan,
    root: &Path,
    key: &str,
) -> Result<(), ExtractFailure> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error: std::io::Error| ExtractFailure::Io(path.clone(), error.to_string())
    };
    // Leftovers of crashed extractions of this package; safe to remove under its lock.
    if let Ok(entries) = std::fs::read_dir(root) {
        let prefix = format!(".staging-{key}-");
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let staging = tempfile::Builder::new()
        .prefix(&format!(".staging-{key}-"))
        .tempdir_in(root)
        .map_err(io(root))?;
    let mut extraction = Extraction::new(Limits::default());
    for slot in &verified.slots {
        extraction
            .extract_slot(package, slot, staging.path())
            .map_err(ExtractFailure::Format)?;
    }
    extraction.finish().map_err(ExtractFailure::Format)?;
    let final_path = root.join(key);
    if let Some(workenv) = &verified.metadata.workenv {
        for directory in &workenv.directories {
            let relative = plan
                .substitute(&directory.path, &final_path)
                .strip_prefix(&final_path.display().to_string())
                .map(|rest| rest.trim_start_matches('/').to_string());
            let Some(relative) = relative.filter(|rest| !rest.is_empty()) else {
                continue;
            };
            let path = staging.path().join(&relative);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
            if let Some(mode) = directory
                .mode
                .as_deref()
                .and_then(|mode| u32::from_str_radix(mode, 8).ok())
            {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(io(&path))?;
            }
        }
    }
    let control = staging.path().join(".pandora");
    std::fs::create_dir_all(&control).map_err(io(&control))?;
    std::fs::write(control.join("metadata.json"), &verified.metadata_json).map_err(io(&control))?;
    std::fs::write(control.join("key"), encode_hex(verified.public_key)).map_err(io(&control))?;
    std::fs::write(control.join("complete"), key).map_err(io(&control))?;
    let staged = staging.keep();
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o700))
        .map_err(io(&staged))?;
    if final_path.symlink_metadata().is_ok() {
        // Incomplete or damaged: move it aside in one rename, then delete it.
        let trash = root.join(format!(".trash-{key}-{}", std::process::id()));
        std::fs::rename(&final_path, &trash).map_err(io(&final_path))?;
        let _ = std::fs::remove_dir_all(&trash);
    }
    if let Err(error) = std::fs::rename(&staged, &final_path) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(io(&final_path)(error));
    }
    pandora_core::fs::sync_directory(root).map_err(io(root))?;
    Ok(())
}
