//! `FLAVOR_LAUNCHER_CLI=1 ./pkg.psp info|verify|metadata|extract N DIR|version`: looking at a
//! package through its own launcher, without colliding with the program's arguments.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use pandora_format::extract::{Extraction, Limits};
use pandora_format::metadata::encode_hex;
use pandora_format::package::{Outcome, Package, Scope};

const USAGE: &str = "Pandora launcher, maintenance mode

Commands:
  info              Show the package (default)
  verify            Run every check, slot data included
  metadata          Print the signed metadata JSON
  extract SLOT DIR  Verify and extract one slot into DIR
  run [ARGS...]     Run the package
  version           Show the launcher's version
  help              Show this help

Usage: FLAVOR_LAUNCHER_CLI=1 ./package.psp <command>";

/// Runs a maintenance command; returns the exit code. `run` hands over to `launch`.
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
    let result = match words.as_slice() {
        ["run", ..] => {
            let original = package_path.display().to_string();
            return match super::launch(package_path, &arguments[1..], &original, settings) {
                Ok(code) => code,
                Err(error) => {
                    eprintln!("pandora-launcher: {error}");
                    error.exit_code()
                }
            };
        }
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(0)
        }
        ["version"] => {
            println!("pandora-launcher {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        [] | ["info"] => info(package_path),
        ["verify"] => verify(package_path),
        ["metadata"] => metadata(package_path),
        ["extract", slot, directory] => extract(package_path, slot, Path::new(directory)),
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    result.unwrap_or_else(|message| {
        eprintln!("pandora-launcher: {message}");
        super::EXIT_INVALID
    })
}

fn info(path: &Path) -> Result<u8, String> {
    let package = Package::open(path).map_err(|error| error.to_string())?;
    let verified = package
        .verified(Scope::Structure)
        .map_err(|error| error.to_string())?;
    let metadata = &verified.metadata;
    println!(
        "package   {} {}",
        metadata.package.name, metadata.package.version
    );
    println!("key       {}", verified.key_fingerprint);
    if let Some(execution) = &metadata.execution {
        println!("command   {}", execution.command);
    }
    for slot in &verified.slots {
        println!(
            "slot {}    {} {} {} bytes sha256:{}",
            slot.index,
            slot.id,
            slot.operations,
            slot.descriptor.size,
            encode_hex(&slot.sha256)
        );
    }
    Ok(0)
}

fn verify(path: &Path) -> Result<u8, String> {
    let package = Package::open(path).map_err(|error| error.to_string())?;
    let (report, _) = package.verify(Scope::Full);
    for check in &report.checks {
        let (status, detail) = match &check.outcome {
            Outcome::Pass(detail) => ("ok  ", detail.as_str()),
            Outcome::Fail(reason) => ("FAIL", reason.as_str()),
            Outcome::Skip => ("skip", ""),
        };
        println!("{status}  {:<20} {detail}", check.name);
    }
    Ok(if report.passed() {
        0
    } else {
        super::EXIT_INVALID
    })
}

fn metadata(path: &Path) -> Result<u8, String> {
    let package = Package::open(path).map_err(|error| error.to_string())?;
    let verified = package
        .verified(Scope::Structure)
        .map_err(|error| error.to_string())?;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&verified.metadata_json);
    let _ = stdout.write_all(b"\n");
    Ok(0)
}

fn extract(path: &Path, slot: &str, directory: &Path) -> Result<u8, String> {
    let package = Package::open(path).map_err(|error| error.to_string())?;
    let verified = package
        .verified(Scope::Structure)
        .map_err(|error| error.to_string())?;
    let index: usize = slot
        .parse()
        .map_err(|_| format!("`{slot}` is not a slot number"))?;
    let slot = verified
        .slots
        .iter()
        .find(|candidate| candidate.index == index || candidate.id == slot)
        .ok_or_else(|| format!("the package has no slot {index}"))?;
    std::fs::create_dir_all(directory)
        .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    let mut extraction = Extraction::new(Limits::default());
    extraction
        .extract_slot(&package, slot, directory)
        .map_err(|error| error.to_string())?;
    extraction.finish().map_err(|error| error.to_string())?;
    eprintln!(
        "extracted slot {} ({}) into {}",
        slot.index,
        slot.id,
        directory.display()
    );
    Ok(0)
}
