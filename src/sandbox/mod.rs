//! The build and hook sandbox: a command run in new user, mount, PID, IPC, UTS and network
//! namespaces, on a root of its own made of read-only bind mounts of the host's system
//! directories, with only declared directories writable, a fixed environment, no capabilities,
//! `PR_SET_NO_NEW_PRIVS`, a seccomp filter, Landlock where the kernel has it, resource limits
//! and a wall-clock limit that kills the whole PID namespace.
//!
//! # How it runs
//!
//! Creating a user namespace needs a single-threaded process, and a new PID namespace applies
//! to the children of the process that creates it, so the work happens in two fresh processes
//! of the `pandora` binary itself (no `unsafe` fork):
//!
//! 1. [`run`] starts `pandora` with [`STAGE_OUTER`] and the [`Spec`] as JSON. That process
//!    unshares the namespaces, maps the caller's uid and gid to 0 inside (so it behaves the same
//!    whether the caller is root or not: the mapped root has no privilege outside), starts
//!    stage 2 and enforces the time limit by killing it.
//! 2. Stage 2 ([`STAGE_INIT`]) is PID 1 of the new PID namespace. It builds the new root,
//!    `pivot_root`s into it, drops every capability, applies Landlock and seccomp and starts
//!    the command, reaping orphans until the command exits. When it dies the kernel kills
//!    everything left in the namespace, so a time limit or a killed `pandora` leaves nothing.
//!
//! Both stages speak to [`run`] in JSON lines on their stdout; the command's own stdout and
//! stderr go to a pipe [`run`] copies to its stderr (diagnostics, never the caller's data) with
//! control characters written out. Stage 2 starts a session of its own, so nothing inside has
//! a controlling terminal to push keystrokes into.

mod inside;
mod seccomp;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use inside::enter_if_requested;

/// The hidden first argument that makes `pandora` stage 1 of a sandbox.
pub const STAGE_OUTER: &str = "__pandora-sandbox";
/// The hidden first argument that makes `pandora` stage 2 (PID 1 inside) of a sandbox.
pub const STAGE_INIT: &str = "__pandora-sandbox-init";

/// Host directories the sandbox sees read-only, when they exist.
pub const SYSTEM_DIRECTORIES: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
];

/// Where a declared directory may not be mounted: over the system or the sandbox's own.
const RESERVED: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/proc", "/dev", "/tmp",
];

/// A host directory made visible inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The directory on the host.
    pub source: PathBuf,
    /// Where it appears inside (absolute).
    pub target: PathBuf,
    /// Whether the command may change it.
    pub writable: bool,
}

/// What to run, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The program and its arguments (the program is looked up inside the sandbox).
    pub command: Vec<String>,
    /// The directories the command sees besides the system's.
    pub mounts: Vec<Mount>,
    /// The working directory inside.
    pub workdir: PathBuf,
    /// The whole environment: nothing else is inherited.
    pub env: BTreeMap<String, String>,
    /// Wall-clock limit in seconds; the CPU limit is the same.
    pub time_limit: u64,
    /// At most this many processes (fork bombs stop here).
    pub max_processes: u64,
    /// The largest file the command may write, in bytes (`RLIMIT_FSIZE`; past it the writer
    /// gets `SIGXFSZ`).
    pub max_file_size: u64,
    /// The size of the sandbox's own `/tmp`, in bytes (`/dev/shm` gets [`SHM_SIZE`]).
    pub tmp_size: u64,
}

/// The default [`Spec::max_file_size`]: 4 GiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 << 30;
/// The default [`Spec::tmp_size`]: 1 GiB.
pub const DEFAULT_TMP_SIZE: u64 = 1 << 30;
/// The size of `/dev/shm` inside.
pub const SHM_SIZE: u64 = 64 << 20;

impl Spec {
    /// The environment every sandboxed command starts from: a fixed `PATH`, `TZ=UTC`,
    /// `LC_ALL=C` and `SOURCE_DATE_EPOCH`.
    pub fn base_env(source_date_epoch: u64) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("TZ".to_string(), "UTC".to_string()),
            ("LC_ALL".to_string(), "C".to_string()),
            (
                "SOURCE_DATE_EPOCH".to_string(),
                source_date_epoch.to_string(),
            ),
        ])
    }

    fn check(&self) -> Result<(), SandboxError> {
        if self.command.is_empty() {
            return Err(SandboxError::Spec("no command to run".into()));
        }
        if self.max_file_size == 0 || self.tmp_size == 0 {
            return Err(SandboxError::Spec(
                "the file size and /tmp limits must be above zero".into(),
            ));
        }
        for mount in &self.mounts {
            let target = &mount.target;
            let reserved = RESERVED.iter().any(|system| target.starts_with(system));
            if !target.is_absolute() || reserved || target == Path::new("/") {
                return Err(SandboxError::Spec(format!(
                    "cannot mount {} at {}: targets are absolute and outside {}",
                    mount.source.display(),
                    target.display(),
                    RESERVED.join(", ")
                )));
            }
            if !mount.source.is_dir() {
                return Err(SandboxError::Spec(format!(
                    "{} is not a directory",
                    mount.source.display()
                )));
            }
        }
        Ok(())
    }
}

/// Which protections were in force for a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// User, mount, PID, IPC, UTS and network namespaces.
    pub namespaces: Vec<String>,
    /// A fresh `/proc` of the new PID namespace (else none at all).
    pub proc: bool,
    /// The seccomp filter was installed.
    pub seccomp: bool,
    /// Landlock: `full`, `partial` or `unsupported` (the kernel does not have it).
    pub landlock: String,
    /// `PR_SET_NO_NEW_PRIVS`.
    pub no_new_privs: bool,
    /// Every capability dropped before the command started.
    pub capabilities_dropped: bool,
    /// Who the command's files belong to on the host.
    pub host_uid: u32,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
    /// It ran past the time limit and everything in the sandbox was killed.
    TimedOut,
}

impl Ending {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == Ending::Exited(0)
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exited(code) => write!(formatter, "exited with code {code}"),
            Ending::Signaled(signal) => write!(formatter, "was killed by signal {signal}"),
            Ending::TimedOut => write!(formatter, "ran past its time limit and was killed"),
        }
    }
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How the command ended.
    pub ending: Ending,
    /// What protected it.
    pub report: Report,
}

/// The host uid and gid a root caller's commands run as. Root is exempt from `RLIMIT_NPROC`
/// (and owns every file root owns), so a root caller's sandbox runs its commands as this
/// account, which owns nothing, as an unprivileged caller's runs them as that caller.
pub const BUILD_USER: u32 = 2_000_000_000;

/// The lines the stages write to [`run`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Message {
    /// Stage 1 made its namespaces and waits for [`run`] to write its id maps (root callers).
    Unshared,
    Ready(Report),
    Failed(String),
    Ended(Ending),
}

/// Why a command could not run in the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The kernel refused a namespace or a mount the sandbox needs.
    #[error("cannot create the sandbox: {0}")]
    Unavailable(String),
    /// The request itself is wrong.
    #[error("invalid sandbox request: {0}")]
    Spec(String),
    /// The `pandora` binary could not be started again.
    #[error("cannot start the sandbox process {path}")]
    Start {
        /// The binary.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A stage died without saying why.
    #[error("the sandbox process ended unexpectedly: {0}")]
    Protocol(String),
}

impl pandora_core::Hint for SandboxError {
    fn hint(&self) -> Option<String> {
        match self {
            SandboxError::Unavailable(_) => Some(
                "this kernel does not let unprivileged users create namespaces (see \
                 kernel.unprivileged_userns_clone, user.max_user_namespaces and \
                 kernel.apparmor_restrict_unprivileged_userns); enable them, or pass \
                 --no-sandbox to run without isolation (recorded in the provenance)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Runs `spec` in a new sandbox and waits for it. The command's stdout and stderr go to this
/// process's stderr, through a pipe (never the caller's terminal itself), made visible.
pub fn run(spec: &Spec) -> Result<Outcome, SandboxError> {
    spec.check()?;
    let executable = std::env::current_exe().map_err(|source| SandboxError::Start {
        path: PathBuf::from("/proc/self/exe"),
        source,
    })?;
    let root = tempfile::Builder::new()
        .prefix("pandora-sandbox-root.")
        .tempdir()
        .map_err(|source| SandboxError::Start {
            path: std::env::temp_dir(),
            source,
        })?;
    let build_user = nix::unistd::geteuid().is_root();
    // Stage 2, mapped to the caller, must reach it.
    fs_err::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).map_err(
        |source| SandboxError::Start {
            path: root.path().to_path_buf(),
            source,
        },
    )?;
    let request = Request {
        spec: spec.clone(),
        root: root.path().to_path_buf(),
        build_user,
        caller_uid: nix::unistd::geteuid().as_raw(),
    };
    // Serialising plain strings, numbers and maps cannot fail.
    let json = serde_json::to_string(&request).expect("a sandbox request serialises");
    // The command never gets the caller's terminal, not even as its output: a pipe, copied
    // here with control characters written out, so it cannot drive the terminal either.
    let mut child = Command::new(&executable)
        .arg(STAGE_OUTER)
        .arg(json)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| SandboxError::Start {
            path: executable.clone(),
            source,
        })?;
    let relay = child
        .stderr
        .take()
        .map(|output| std::thread::spawn(move || relay(output)));
    let result = converse(&mut child, build_user);
    let status = child.wait().map_err(|source| SandboxError::Start {
        path: executable.clone(),
        source,
    })?;
    if let Some(relay) = relay {
        // Ends when the last process of the sandbox closed the pipe: all are gone by now.
        let _ = relay.join();
    }
    if build_user {
        for mount in spec.mounts.iter().filter(|mount| mount.writable) {
            give_back(&mount.source)?;
        }
    }
    result.unwrap_or_else(|| {
        Err(SandboxError::Protocol(format!(
            "stage 1 {status} without a result"
        )))
    })
}

/// Copies what the sandbox writes to this process's stderr, line by line, control characters
/// (escape sequences, carriage returns) written out.
fn relay(output: std::process::ChildStderr) {
    let mut reader = std::io::BufReader::new(output);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let mut stderr = std::io::stderr().lock();
                let _ = stderr.write_all(pandora_core::text::visible(&text).as_bytes());
                let _ = stderr.flush();
            }
        }
    }
}

/// Reads the stages' messages until the result; writes a root caller's id maps when stage 1
/// asks. `None` when the stages ended without a result.
fn converse(
    child: &mut std::process::Child,
    build_user: bool,
) -> Option<Result<Outcome, SandboxError>> {
    let stdout = child.stdout.take()?;
    let mut stdin = child.stdin.take();
    let mut report = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Message>(&line) {
            Ok(Message::Unshared) if build_user => {
                if let Err(error) = map_build_user(child.id()) {
                    return Some(Err(error));
                }
                if let Some(mut go) = stdin.take() {
                    let _ = go.write_all(b"go\n");
                }
            }
            Ok(Message::Unshared) => {}
            Ok(Message::Ready(ready)) => report = Some(ready),
            Ok(Message::Failed(reason)) => return Some(Err(SandboxError::Unavailable(reason))),
            Ok(Message::Ended(ending)) => {
                return Some(match report {
                    Some(report) => Ok(Outcome { ending, report }),
                    None => Err(SandboxError::Protocol(format!(
                        "the command {ending} before the sandbox was ready"
                    ))),
                })
            }
            Err(_) => {}
        }
    }
    None
}

/// Maps root inside to root outside (to set the sandbox up) and uid and gid 1 inside to
/// [`BUILD_USER`] (what the command runs as).
fn map_build_user(pid: u32) -> Result<(), SandboxError> {
    let map = format!("0 0 1\n1 {BUILD_USER} 1\n");
    for file in ["uid_map", "gid_map"] {
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        fs_err::write(&path, &map).map_err(|error| {
            SandboxError::Unavailable(format!("writing {}: {error}", path.display()))
        })?;
    }
    Ok(())
}

/// Gives a tree the build user wrote back to the caller.
fn give_back(root: &Path) -> Result<(), SandboxError> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    for entry in walkdir::WalkDir::new(root).into_iter().flatten() {
        std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid)).map_err(|source| {
            SandboxError::Start {
                path: entry.path().to_path_buf(),
                source,
            }
        })?;
    }
    Ok(())
}

/// What stage 1 receives: the spec and an empty directory to build the new root on.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    spec: Spec,
    root: PathBuf,
    /// The caller is root: run the command as [`BUILD_USER`] (uid 1 inside).
    build_user: bool,
    /// The caller's uid outside.
    caller_uid: u32,
}

/// Runs `spec`'s command without any isolation (`--no-sandbox`): the same fixed environment
/// and time limit, the mounts' sources used in place of their targets.
pub fn run_unsandboxed(spec: &Spec, workdir: &Path) -> Result<Ending, SandboxError> {
    spec.check()?;
    let mut child = Command::new(&spec.command[0])
        .args(&spec.command[1..])
        .env_clear()
        .envs(&spec.env)
        .current_dir(workdir)
        // Its own process group, so the time limit kills what it started too.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(inside::stderr_for_child())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| SandboxError::Start {
            path: PathBuf::from(&spec.command[0]),
            source,
        })?;
    inside::wait_with_limit(&mut child, Duration::from_secs(spec.time_limit)).map_err(|source| {
        SandboxError::Start {
            path: PathBuf::from(&spec.command[0]),
            source,
        }
    })
}
