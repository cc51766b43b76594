//! Entry points of installed packages: this same binary, hard-linked under `$PANDORA_HOME`,
//! as an exec trampoline (as rustup's proxies are).
//!
//! ```text
//! entries/.launcher-<sha256[..16]>   one copy of the launcher per home (0555)
//! entries/<id>/                      one directory per store entry with entry points (0555)
//! entries/<id>/NAME                  a hard link to that copy: what `bin/NAME` in a profile links to
//! entries/<id>/.NAME.entry           NAME's record (JSON, 0444): command and environment rules
//! ```
//!
//! Started as `entries/<id>/NAME` (the kernel names the hard link it was started through in
//! `/proc/self/exe`, every symbolic link on the way resolved), the launcher reads
//! `.NAME.entry` beside itself and execs the command exactly as running the package's `.psp`
//! would ([`LaunchPlan`]: same argv, same environment rules, same working directory, exec so the
//! exit code is the program's), with the store entry `store/<id>` as `{workenv}`. Nothing is
//! verified or extracted: `pandora install` verified the package and wrote the store entry, the
//! record and the links, all read-only.
//!
//! A record is believed only where Pandora wrote it:
//! - only when this executable is the bare launcher: a `.psp` (whose last bytes are the PSPF
//!   trailer's) always runs as a package, whatever lies beside it, so a package downloaded next
//!   to somebody's `.NAME.entry` cannot be made to run anything else;
//! - the record is a regular file (not a link) of this user's, and it and its directory are
//!   writable by nobody else; otherwise the entry point refuses to start (exit 113), as the
//!   launcher refuses a cache others could write.
//!
//! A package's writable directories (FlavorPack's `workenv.directories`) are links in its store
//! entry to `$PANDORA_HOME/var/<id>/...` (or `$FLAVOR_WORKENV_DIR/<id>/...` when that was set at
//! install): the record lists them and the entry point creates any that are missing.

use fs_err::os::unix::fs::FileExt;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use pandora_format::metadata::RuntimeEnv;
use pandora_format::secure::{self as shared, Owners};

use crate::{LaunchError, LaunchPlan};

/// The format of records this launcher writes and reads.
pub const RECORD_FORMAT: u32 = 1;

/// Records larger than this are not read.
const MAX_RECORD: u64 = 1 << 20;

/// What an entry point runs: a [`LaunchPlan`] without the work environment, which is the
/// store entry the record sits beside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// [`RECORD_FORMAT`].
    pub format: u32,
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// The command line before substitution.
    pub command: String,
    /// `execution.env` (with a named entry point's own variables over it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub execution_env: BTreeMap<String, String>,
    /// `runtime.env`.
    #[serde(default)]
    pub runtime_env: RuntimeEnv,
    /// `workenv.env`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workenv_env: BTreeMap<String, String>,
    /// Single-file slot targets by slot index, for `{slot:N}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slot_paths: BTreeMap<usize, String>,
    /// The key the package was signed with (`ed25519:HEX`; informational).
    pub key: String,
    /// Writable directories to create when missing: relative paths are relative to the home.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<WritableDirectory>,
}

/// A directory an installed package writes into, outside its read-only store entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WritableDirectory {
    /// Relative to `$PANDORA_HOME`, or absolute.
    pub path: String,
    /// Its mode when created.
    pub mode: u32,
}

impl EntryRecord {
    /// The record of `plan`.
    pub fn new(plan: &LaunchPlan, writable: Vec<WritableDirectory>) -> EntryRecord {
        EntryRecord {
            format: RECORD_FORMAT,
            name: plan.name.clone(),
            version: plan.version.clone(),
            command: plan.command.clone(),
            execution_env: plan.execution_env.clone(),
            runtime_env: plan.runtime_env.clone(),
            workenv_env: plan.workenv_env.clone(),
            slot_paths: plan.slot_paths.clone(),
            key: plan.public_key.to_string(),
            writable,
        }
    }

    /// The record as written (JSON).
    pub fn encode(&self) -> Vec<u8> {
        // Plain data of strings and numbers: serializing it cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The plan it describes; `None` for a record this launcher cannot read.
    pub fn plan(&self) -> Option<LaunchPlan> {
        Some(LaunchPlan {
            name: self.name.clone(),
            version: self.version.clone(),
            command: self.command.clone(),
            execution_env: self.execution_env.clone(),
            runtime_env: self.runtime_env.clone(),
            workenv_env: self.workenv_env.clone(),
            slot_paths: self.slot_paths.clone(),
            public_key: self.key.parse().ok()?,
        })
    }
}

/// The name of an entry point's record beside it.
pub fn record_name(entry: &str) -> String {
    format!(".{entry}.entry")
}

/// An entry point found for this executable.
#[derive(Debug)]
pub(crate) struct Entry {
    pub plan: LaunchPlan,
    /// The store entry: `{workenv}`.
    pub workenv: PathBuf,
    /// Writable directories, absolute.
    pub writable: Vec<(PathBuf, u32)>,
}

fn refuse(exe: &Path, path: &Path, detail: String) -> LaunchError {
    LaunchError::Workenv {
        package: exe.to_path_buf(),
        path: path.to_path_buf(),
        detail,
    }
}

/// The entry point this executable is, if it is one: `None` (run as a package) when there is
/// no record beside it, or when this executable is a package itself.
pub(crate) fn find(exe: &Path) -> Result<Option<Entry>, LaunchError> {
    let (Some(directory), Some(name)) = (exe.parent(), exe.file_name().and_then(|n| n.to_str()))
    else {
        return Ok(None);
    };
    let record_path = directory.join(record_name(name));
    // The one extra system call a package start pays: an open that finds nothing.
    let bytes = match shared::read_file(&record_path, Owners::Me, MAX_RECORD) {
        Ok(None) => return Ok(None),
        Ok(Some(bytes)) => bytes,
        Err(problem) => {
            if is_package(exe) {
                return Ok(None);
            }
            return Err(refuse(exe, &record_path, problem.to_string()));
        }
    };
    if is_package(exe) {
        return Ok(None);
    }
    shared::check_directory_if_present(directory, Owners::Me)
        .map_err(|problem| refuse(exe, directory, problem.to_string()))?;
    let unreadable = |detail: &str| refuse(exe, &record_path, detail.to_string());
    let record: EntryRecord = serde_json::from_slice(&bytes)
        .map_err(|error| unreadable(&format!("not an entry point record: {error}")))?;
    if record.format != RECORD_FORMAT {
        return Err(unreadable(&format!(
            "an entry point record of format {}, which this launcher cannot read; `pandora install --reinstall` writes it again",
            record.format
        )));
    }
    let plan = record
        .plan()
        .ok_or_else(|| unreadable("the record's key is not `ed25519:` and 64 hex digits"))?;
    // entries/<id>/NAME: the home is two levels up, the store entry is store/<id>.
    let id = directory.file_name().unwrap_or_default();
    let home = directory
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/"));
    let workenv = home.join("store").join(id);
    let writable = record
        .writable
        .iter()
        .map(|directory| (home.join(&directory.path), directory.mode))
        .collect();
    Ok(Some(Entry {
        plan,
        workenv,
        writable,
    }))
}

/// Whether `path` ends with the PSPF trailer's closing magic: a package, never an entry point.
/// Unreadable counts as a package, so a doubt never honours a record.
fn is_package(path: &Path) -> bool {
    let check = || -> std::io::Result<bool> {
        let file = fs_err::File::open(path)?;
        let size = file.metadata()?.len();
        let end = pandora_format::index::TRAILER_END;
        if size < end.len() as u64 {
            return Ok(false);
        }
        let mut last = [0u8; 4];
        file.read_exact_at(&mut last, size - 4)?;
        Ok(last == end)
    };
    check().unwrap_or(true)
}

/// Runs an entry point: its writable directories made if missing, then the plan executed.
pub(crate) fn run(
    exe: &Path,
    entry: &Entry,
    arguments: &[OsString],
    original_command: &str,
    spawn: bool,
) -> Result<u8, LaunchError> {
    for (path, mode) in &entry.writable {
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), *mode)
            .create(path)
            .map_err(|error| refuse(exe, path, crate::describe(&error)))?;
    }
    crate::execute(
        exe,
        &entry.plan,
        &entry.workenv,
        arguments,
        original_command,
        spawn,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let plan = LaunchPlan {
            name: "hello".into(),
            version: "1.0.0".into(),
            command: "{workenv}/bin/hello {slot:2}".into(),
            execution_env: BTreeMap::from([("A".into(), "{workenv}/a".into())]),
            runtime_env: RuntimeEnv {
                unset: vec!["X*".into()],
                pass: vec!["XY".into()],
                map: BTreeMap::from([("OLD".into(), "NEW".into())]),
                set: BTreeMap::from([("S".into(), "s".into())]),
            },
            workenv_env: BTreeMap::from([("W".into(), "w".into())]),
            slot_paths: BTreeMap::from([(2, "data/raw.txt".into())]),
            public_key: pandora_format::signing::SigningKey::from_seed("entry").public_key(),
        };
        let writable = vec![WritableDirectory {
            path: "var/hello@1.0.0/cache".into(),
            mode: 0o755,
        }];
        let record = EntryRecord::new(&plan, writable.clone());
        let read: EntryRecord = serde_json::from_slice(&record.encode()).unwrap();
        assert_eq!(read, record);
        assert_eq!(read.plan().unwrap(), plan);
        assert_eq!(read.writable, writable);
    }
}
