//! Running a package's install and removal hooks in the sandbox.
//!
//! An install hook sees the package's staged tree at `/pkg`, writable (it has not been sealed
//! yet), and nothing else of the user's files; no network; a private `/tmp` as `HOME` and
//! `TMPDIR`; the fixed environment of a build; `PANDORA_ENTRY` naming where the tree will be
//! installed. A removal hook sees the installed tree read-only.

use std::path::{Path, PathBuf};

use super::StoreError;
use crate::format::metadata::{Hook, Hooks};
use crate::sandbox::{self, Ending, Mount, Spec};

/// Processes a hook may run at once.
const MAX_PROCESSES: u64 = 64;

/// Which hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `pre_install` then `post_install`.
    Install,
    /// `pre_remove`.
    Remove,
}

/// Runs `hooks` of `phase` for the package `id` whose tree is `tree` (to be installed at
/// `entry`). Returns the `warn` messages, in order; a failing command stops everything.
pub fn run(
    id: &str,
    hooks: &Hooks,
    phase: Phase,
    tree: &Path,
    entry: &Path,
) -> Result<Vec<String>, StoreError> {
    let list: Vec<&Hook> = match phase {
        Phase::Install => hooks
            .pre_install
            .iter()
            .chain(&hooks.post_install)
            .collect(),
        Phase::Remove => hooks.pre_remove.iter().collect(),
    };
    let mut messages = Vec::new();
    for hook in list {
        let command = match hook {
            Hook::Warn(message) => {
                messages.push(message.clone());
                continue;
            }
            Hook::Run(command) => command,
        };
        let mut env = Spec::base_env(0);
        for (name, value) in [
            ("HOME", "/tmp".to_string()),
            ("TMPDIR", "/tmp".to_string()),
            ("PKG", "/pkg".to_string()),
            ("PANDORA_PACKAGE", id.to_string()),
            ("PANDORA_ENTRY", entry.display().to_string()),
        ] {
            env.insert(name.to_string(), value);
        }
        let spec = Spec {
            command: vec!["/bin/sh".into(), "-ec".into(), command.clone()],
            mounts: vec![Mount {
                source: tree.to_path_buf(),
                target: PathBuf::from("/pkg"),
                writable: phase == Phase::Install,
            }],
            workdir: PathBuf::from("/pkg"),
            env,
            time_limit: hooks
                .time_limit
                .unwrap_or(crate::build::hooks::DEFAULT_HOOK_TIME_LIMIT),
            max_processes: MAX_PROCESSES,
            max_file_size: sandbox::DEFAULT_MAX_FILE_SIZE,
            tmp_size: sandbox::DEFAULT_TMP_SIZE,
        };
        let outcome = sandbox::run(&spec).map_err(|source| StoreError::HookSandbox {
            id: id.to_string(),
            source,
        })?;
        if outcome.ending != Ending::Exited(0) {
            return Err(StoreError::Hook {
                id: id.to_string(),
                command: command.clone(),
                ending: outcome.ending,
            });
        }
    }
    Ok(messages)
}
