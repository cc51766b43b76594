//! Running a recipe's steps, each in a fresh sandbox.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{BuildError, Recipe};
use crate::sandbox::{self, Ending, Mount, Report, Spec};

/// Where a build happens on the host.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The sources (copied and fetched): `/build` inside, writable.
    pub source: PathBuf,
    /// The output: `/out` inside, writable; the package's `files/` afterwards.
    pub out: PathBuf,
    /// Build dependencies: `(name@version, store entry)`, read-only at `/deps/name@version`.
    pub dependencies: Vec<(String, PathBuf)>,
}

/// Processes a build may run at once (a parallel `make` fits; a fork bomb does not).
pub const MAX_PROCESSES: u64 = 512;

const BUILD: &str = "/build";
const OUT: &str = "/out";
const DEPS: &str = "/deps";

/// Runs every step of `recipe` in `workspace`, in order, stopping at the first that fails.
/// Sandboxed, returns what protected the steps; with `sandboxed` false (`--no-sandbox`), runs
/// them on the host with the same environment and returns `None`.
pub fn run_steps(
    recipe: &Recipe,
    workspace: &Workspace,
    sandboxed: bool,
    source_date_epoch: u64,
) -> Result<Option<Report>, BuildError> {
    let paths = |build: &Path, out: &Path, deps: &Path| {
        let mut env: BTreeMap<String, String> = recipe.env.clone();
        env.extend(Spec::base_env(source_date_epoch));
        for (name, path) in [
            ("SRC", build.to_path_buf()),
            ("OUT", out.to_path_buf()),
            ("DEPS", deps.to_path_buf()),
            ("HOME", build.join(".home")),
            ("TMPDIR", build.join(".tmp")),
        ] {
            env.insert(name.to_string(), path.display().to_string());
        }
        env
    };
    for directory in [".home", ".tmp"] {
        let path = workspace.source.join(directory);
        fs_err::create_dir_all(&path).map_err(|source| {
            BuildError::Io(pandora_core::IoError {
                action: "create",
                path: path.clone(),
                source,
            })
        })?;
    }
    let mut mounts = vec![
        Mount {
            source: workspace.source.clone(),
            target: PathBuf::from(BUILD),
            writable: true,
        },
        Mount {
            source: workspace.out.clone(),
            target: PathBuf::from(OUT),
            writable: true,
        },
    ];
    for (pin, path) in &workspace.dependencies {
        mounts.push(Mount {
            source: path.clone(),
            target: Path::new(DEPS).join(pin),
            writable: false,
        });
    }
    let mut report = None;
    for (index, step) in recipe.steps.iter().enumerate() {
        let command = vec!["/bin/sh".to_string(), "-ec".to_string(), step.clone()];
        let ending = if sandboxed {
            let spec = Spec {
                command,
                mounts: mounts.clone(),
                workdir: PathBuf::from(BUILD),
                env: paths(Path::new(BUILD), Path::new(OUT), Path::new(DEPS)),
                time_limit: recipe.time_limit,
                max_processes: MAX_PROCESSES,
                max_file_size: recipe.max_file_size_bytes(),
                tmp_size: recipe.tmp_size_bytes(),
            };
            let outcome = sandbox::run(&spec)?;
            report = Some(outcome.report);
            outcome.ending
        } else {
            // Outside, build dependencies are reached through `$DEPS/name@version` links.
            let deps = workspace.source.join(".deps");
            link_dependencies(&deps, &workspace.dependencies)?;
            let spec = Spec {
                command,
                mounts: Vec::new(),
                workdir: workspace.source.clone(),
                env: paths(&workspace.source, &workspace.out, &deps),
                time_limit: recipe.time_limit,
                max_processes: MAX_PROCESSES,
                max_file_size: recipe.max_file_size_bytes(),
                tmp_size: recipe.tmp_size_bytes(),
            };
            sandbox::run_unsandboxed(&spec, &workspace.source)?
        };
        if ending != Ending::Exited(0) {
            return Err(BuildError::Step {
                number: index + 1,
                step: step.clone(),
                ending,
            });
        }
    }
    Ok(report)
}

fn link_dependencies(deps: &Path, dependencies: &[(String, PathBuf)]) -> Result<(), BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| {
            BuildError::Io(pandora_core::IoError {
                action: "create",
                path,
                source,
            })
        }
    };
    fs_err::create_dir_all(deps).map_err(io(deps))?;
    for (pin, target) in dependencies {
        let link = deps.join(pin);
        if fs_err::symlink_metadata(&link).is_err() {
            fs_err::os::unix::fs::symlink(target, &link).map_err(io(&link))?;
        }
    }
    Ok(())
}
