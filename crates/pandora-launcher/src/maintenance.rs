//! `FLAVOR_LAUNCHER_CLI=1 ./pkg.psp info|verify|metadata|extract N DIR|verify-workenv|version`:
//! looking at a package through its own launcher, without colliding with the program's
//! arguments.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::Path;

use pandora_format::extract::{extract_into, Limits};
use pandora_format::metadata::encode_hex;
use pandora_format::package::{Outcome, Package, Scope};
use pandora_format::FormatError;

use crate::output::{self, Data};
use crate::secure::{self, describe};
use crate::workenv::{self, Failure as BuildFailure};
use crate::{LaunchPlan, EXIT_INVALID, EXIT_WORKENV};

const USAGE: &str = "Pandora launcher, maintenance mode

Commands:
  info              Show the package (default)
  verify            Run every check, slot data included
  metadata          Print the signed metadata JSON
  extract SLOT DIR  Verify and extract one slot into DIR (nothing lands in DIR unverified)
  verify-workenv    Compare the package's cached work environment with the package, file by
                    file; exit 1 if they differ
  run [ARGS...]     Run the package
  version           Show the launcher's version
  help              Show this help

Usage: FLAVOR_LAUNCHER_CLI=1 ./package.psp <command>";

/// A maintenance command's failure: its message and exit code.
struct Failure {
    code: u8,
    message: String,
}

impl From<FormatError> for Failure {
    /// A failed write is the destination's fault (exit 113), anything else the package's.
    fn from(error: FormatError) -> Self {
        let code = match error {
            FormatError::Write { .. } => EXIT_WORKENV,
            _ => EXIT_INVALID,
        };
        Failure {
            code,
            message: describe(&error),
        }
    }
}

impl From<BuildFailure> for Failure {
    fn from(failure: BuildFailure) -> Self {
        match failure {
            BuildFailure::Format(error) => error.into(),
            BuildFailure::Io(path, detail) => workenv_failure(&path, &detail),
        }
    }
}

fn workenv_failure(path: &Path, detail: &str) -> Failure {
    Failure {
        code: EXIT_WORKENV,
        message: format!("{}: {detail}", path.display()),
    }
}

/// Runs a maintenance command; returns the exit code. `run` hands over to `launch`.
///
/// The command's data goes to stdout once it is complete. A reader that stopped reading (a
/// broken pipe: `| head`) ends the command quietly with its own exit code; any other failure to
/// write it is said on stderr (if that works) and exits 113, as a failed write does elsewhere.
/// Diagnostics that cannot be written are dropped.
pub fn maintenance(
    package_path: &Path,
    arguments: &[OsString],
    settings: &super::LaunchSettings,
) -> u8 {
    let words: Vec<String> = arguments
        .iter()
        .map(|word| word.to_string_lossy().into_owned())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let mut data = Data::default();
    let out = &mut data;
    let result = match words.as_slice() {
        ["run", ..] => {
            let original = package_path.display().to_string();
            return match super::launch(package_path, &arguments[1..], &original, settings) {
                Ok(code) => code,
                Err(error) => {
                    output::diagnostic(format_args!("{}", describe(&error)));
                    error.exit_code()
                }
            };
        }
        ["help" | "--help" | "-h"] => {
            out.line(format_args!("{USAGE}"));
            Ok(0)
        }
        ["version"] => {
            out.line(format_args!(
                "pandora-launcher {}",
                env!("CARGO_PKG_VERSION")
            ));
            Ok(0)
        }
        [] | ["info"] => info(package_path, out),
        ["verify"] => verify(package_path, out),
        ["metadata"] => metadata(package_path, out),
        ["extract", slot, directory] => extract(package_path, slot, Path::new(directory)),
        ["verify-workenv"] => verify_workenv(package_path, settings, out),
        _ => {
            output::text(&format!("{USAGE}\n"));
            return 2;
        }
    };
    let code = result.unwrap_or_else(|failure| {
        output::diagnostic(format_args!("{}", failure.message));
        failure.code
    });
    match data.emit() {
        Ok(()) => code,
        // Whoever reads stdout has all it wanted (`| head`).
        Err(error) if error.kind() == ErrorKind::BrokenPipe => code,
        Err(error) => {
            output::diagnostic(format_args!("cannot write to stdout: {error}"));
            if code == 0 {
                EXIT_WORKENV
            } else {
                code
            }
        }
    }
}

fn info(path: &Path, out: &mut Data) -> Result<u8, Failure> {
    let package = Package::open(path)?;
    let verified = package.verified(Scope::Structure)?;
    let metadata = &verified.metadata;
    out.line(format_args!(
        "package   {} {}",
        metadata.package.name, metadata.package.version
    ));
    out.line(format_args!("key       {}", verified.public_key));
    out.line(format_args!("fingerprint {}", verified.key_fingerprint));
    if let Some(execution) = &metadata.execution {
        out.line(format_args!("command   {}", execution.command));
    }
    for slot in &verified.slots {
        out.line(format_args!(
            "slot {}    {} {} {} bytes sha256:{}",
            slot.index,
            slot.id,
            slot.operations,
            slot.descriptor.size,
            encode_hex(&slot.sha256)
        ));
    }
    Ok(0)
}

fn verify(path: &Path, out: &mut Data) -> Result<u8, Failure> {
    let package = Package::open(path)?;
    let (report, _) = package.verify(Scope::Full);
    for check in &report.checks {
        let (status, detail) = match &check.outcome {
            Outcome::Pass(detail) => ("ok  ", detail.as_str()),
            Outcome::Fail(reason) => ("FAIL", reason.as_str()),
            Outcome::Skip => ("skip", ""),
        };
        out.line(format_args!("{status}  {:<20} {detail}", check.name));
    }
    Ok(if report.passed() { 0 } else { EXIT_INVALID })
}

fn metadata(path: &Path, out: &mut Data) -> Result<u8, Failure> {
    let package = Package::open(path)?;
    let verified = package.verified(Scope::Structure)?;
    out.bytes(&verified.metadata_json);
    out.bytes(b"\n");
    Ok(0)
}

fn extract(path: &Path, slot: &str, directory: &Path) -> Result<u8, Failure> {
    let package = Package::open(path)?;
    let verified = package.verified(Scope::Structure)?;
    let index: usize = slot.parse().map_err(|_| Failure {
        code: EXIT_INVALID,
        message: format!("`{slot}` is not a slot number"),
    })?;
    let slot = verified
        .slots
        .iter()
        .find(|candidate| candidate.index == index || candidate.id == slot)
        .ok_or_else(|| Failure {
            code: EXIT_INVALID,
            message: format!("the package has no slot {index}"),
        })?;
    // Staged and hashed first, then moved in: DIR never holds bytes that failed the check.
    extract_into(
        &package,
        std::slice::from_ref(slot),
        directory,
        Limits::default(),
    )?;
    output::text(&format!(
        "extracted slot {} ({}) into {}\n",
        slot.index,
        slot.id,
        directory.display()
    ));
    Ok(0)
}

/// Builds the work environment again beside the cached one and reports every difference.
fn verify_workenv(
    path: &Path,
    settings: &super::LaunchSettings,
    out: &mut Data,
) -> Result<u8, Failure> {
    let package = Package::open(path)?;
    let verified = package.verified(Scope::Structure)?;
    let root = &settings.cache_root;
    let key = workenv::key(&verified);
    let cached = root.join(&key);
    let plan = LaunchPlan::from_metadata(&verified.metadata, &verified.public_key);
    let (Some(plan), true) = (plan, cached.symlink_metadata().is_ok()) else {
        out.line(format_args!(
            "no work environment for {} at {}: it has not run yet, or was removed",
            path.display(),
            cached.display()
        ));
        return Ok(1);
    };
    secure::check_root(root).map_err(|detail| workenv_failure(root, &detail))?;
    secure::check_owned_path(&cached).map_err(|detail| workenv_failure(&cached, &detail))?;
    let lock_path = root.join(format!("{key}.lock"));
    let _lock = secure::lock(&lock_path).map_err(|detail| workenv_failure(&lock_path, &detail))?;
    let reference = tempfile::Builder::new()
        .prefix(&format!(".verify-{key}-"))
        .tempdir_in(root)
        .map_err(|error| workenv_failure(root, &describe(&error)))?
        .keep();
    let compared = workenv::populate(&package, &verified, &plan, &reference, &cached)
        .map_err(Failure::from)
        .and_then(|writable| {
            workenv::compare(&reference, &cached, &writable)
                .map_err(|error| workenv_failure(&cached, &describe(&error)))
        });
    let _ = secure::remove_tree(&reference);
    let differences = compared?;
    for difference in &differences {
        out.line(format_args!(
            "{:<9} {}{}",
            difference.kind, difference.path, difference.detail
        ));
    }
    if differences.is_empty() {
        out.line(format_args!(
            "work environment {} matches {}",
            cached.display(),
            path.display()
        ));
        Ok(0)
    } else {
        out.line(format_args!(
            "work environment {}: {} difference(s) from {}",
            cached.display(),
            differences.len(),
            path.display()
        ));
        Ok(1)
    }
}
