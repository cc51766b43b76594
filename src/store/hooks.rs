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
        if phase == Phase::Install {
            check_tree(tree).map_err(|(path, reason)| StoreError::HookTree {
                id: id.to_string(),
                command: command.clone(),
                path,
                reason,
            })?;
        }
    }
    Ok(messages)
}

/// What extraction enforces for a package's files, checked again after a hook changed them:
/// only directories, regular files and relative links that stay inside the tree (judged on
/// their own and resolved through each other). Returns the first offender (relative) and why.
pub(super) fn check_tree(root: &Path) -> Result<(), (PathBuf, String)> {
    let inside = fs_err::canonicalize(root).map_err(|error| (PathBuf::new(), error.to_string()))?;
    for item in walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item = item.map_err(|error| {
            let path = error.path().unwrap_or(root);
            let relative = path.strip_prefix(root).unwrap_or(path).to_path_buf();
            (relative, error.to_string())
        })?;
        let relative = item
            .path()
            .strip_prefix(root)
            .unwrap_or(item.path())
            .to_path_buf();
        let kind = item.file_type();
        if kind.is_symlink() {
            let target = fs_err::read_link(item.path())
                .map_err(|error| (relative.clone(), error.to_string()))?;
            crate::format::extract::check_link(&relative, &target)
                .map_err(|reason| (relative.clone(), reason))?;
            // A link to nothing resolves nowhere; one that resolves must land inside.
            if let Ok(resolved) = fs_err::canonicalize(item.path()) {
                if !resolved.starts_with(&inside) {
                    return Err((
                        relative,
                        format!(
                            "a symbolic link that resolves outside the package (`{}`)",
                            target.display()
                        ),
                    ));
                }
            }
        } else if !kind.is_dir() && !kind.is_file() {
            return Err((
                relative,
                "a FIFO, socket or device, which a package may not hold".to_string(),
            ));
        }
    }
    Ok(())
}
