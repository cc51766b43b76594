//! The two stages that run inside the re-executed `pandora` (see the module documentation).

use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, pivot_root, sethostname, Pid};

use super::{
    seccomp, Ending, Message, Report, Request, STAGE_INIT, STAGE_OUTER, SYSTEM_DIRECTORIES,
};

/// If this process was started as a sandbox stage, runs that stage and exits; otherwise
/// returns. `main` calls it first, before anything starts a thread.
pub fn enter_if_requested() {
    let mut arguments = std::env::args_os().skip(1);
    let Some(stage) = arguments.next() else {
        return;
    };
    let stage = stage.to_string_lossy().into_owned();
    if stage != STAGE_OUTER && stage != STAGE_INIT {
        return;
    }
    let request = arguments
        .next()
        .and_then(|json| serde_json::from_str::<Request>(&json.to_string_lossy()).ok());
    let Some(request) = request else {
        say(&Message::Failed("malformed sandbox request".into()));
        std::process::exit(125);
    };
    let code = if stage == STAGE_OUTER {
        outer(&request)
    } else {
        init(&request)
    };
    std::process::exit(code);
}

fn say(message: &Message) {
    // Serialising the messages cannot fail; a closed pipe means the caller is gone.
    let line = serde_json::to_string(message).expect("a sandbox message serialises");
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn fail(what: &str, error: impl std::fmt::Display) -> i32 {
    say(&Message::Failed(format!("{what}: {error}")));
    125
}

/// Stage 1: new namespaces, the id maps, stage 2, the time limit.
fn outer(request: &Request) -> i32 {
    // The caller gone (killed, crashed), the sandbox goes too.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWNET;
    if let Err(error) = unshare(flags) {
        return fail("unshare(user, mount, pid, ipc, uts, net)", error);
    }
    if request.build_user {
        // Root writes the maps (two ids each) from outside; wait for it.
        say(&Message::Unshared);
        let mut go = String::new();
        if std::io::stdin().read_line(&mut go).is_err() || go.trim() != "go" {
            return fail("mapping the build user", "the caller went away");
        }
    } else if let Err(code) = map_self(uid, gid) {
        return code;
    }
    let json = serde_json::to_string(request).expect("a sandbox request serialises");
    let mut child = match Command::new("/proc/self/exe")
        .arg(STAGE_INIT)
        .arg(json)
        .env_clear()
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => return fail("starting PID 1 of the sandbox", error),
    };
    match wait_with_limit(&mut child, Duration::from_secs(request.spec.time_limit)) {
        Ok(ending) => say(&Message::Ended(ending)),
        Err(error) => return fail("waiting for the sandbox", error),
    }
    0
}

/// An unprivileged caller maps itself to root inside. Returns the exit code on failure.
fn map_self(uid: nix::unistd::Uid, gid: nix::unistd::Gid) -> Result<(), i32> {
    // Without `deny`, an unprivileged process may not write a gid map.
    for (file, contents) in [
        ("/proc/self/setgroups", "deny".to_string()),
        ("/proc/self/uid_map", format!("0 {uid} 1")),
        ("/proc/self/gid_map", format!("0 {gid} 1")),
    ] {
        if let Err(error) = fs_err::write(file, contents) {
            return Err(fail("mapping the user into the namespace", error));
        }
    }
    Ok(())
}

/// Waits for `child`, killing it (its process group, or its PID namespace when it is PID 1 of
/// one) once `limit` has passed. Polls rather than starting a watchdog thread: stage 1 runs in
/// a new user namespace, where starting a thread can fail.
pub(super) fn wait_with_limit(child: &mut Child, limit: Duration) -> std::io::Result<Ending> {
    let started = Instant::now();
    // Short polls first: most commands are quick, and the sandbox's cost counts per build.
    let mut pause = Duration::from_micros(100);
    loop {
        if let Some(status) = child.try_wait()? {
            use std::os::unix::process::ExitStatusExt;
            return Ok(match (status.code(), status.signal()) {
                (Some(code), _) => Ending::Exited(code),
                (None, Some(signal)) => Ending::Signaled(signal),
                (None, None) => Ending::Signaled(0),
            });
        }
        if started.elapsed() >= limit {
            let pid = Pid::from_raw(child.id() as i32);
            // The group too: `--no-sandbox` children lead their own process group.
            let _ = kill(Pid::from_raw(-pid.as_raw()), Signal::SIGKILL);
            let _ = kill(pid, Signal::SIGKILL);
            child.wait()?;
            return Ok(Ending::TimedOut);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// This process's stderr, for a child's stdout.
pub(super) fn stderr_for_child() -> Stdio {
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}

/// Stage 2, PID 1 inside: the new root, the restrictions, the command.
fn init(request: &Request) -> i32 {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let spec = &request.spec;
    let proc = match build_root(request) {
        Ok(proc) => proc,
        Err(error) => return fail("setting up the sandbox's file system", error),
    };
    let _ = sethostname("pandora-sandbox");
    // A session of its own: no controlling terminal, so nothing inside can push keystrokes
    // into the caller's (TIOCSTI) or get its signals; the seccomp filter refuses that too.
    if let Err(error) = nix::unistd::setsid() {
        return fail("leaving the caller's terminal session", error);
    }
    if let Err(error) = limits(spec) {
        return fail("setting resource limits", error);
    }
    if let Err(error) = chdir(&spec.workdir) {
        return fail(&format!("entering {}", spec.workdir.display()), error);
    }
    if request.build_user {
        for mount in spec.mounts.iter().filter(|mount| mount.writable) {
            if let Err(error) = hand_over(&mount.target) {
                return fail("giving the writable directories to the build user", error);
            }
        }
    }
    if let Err(error) = drop_privileges(request.build_user) {
        return fail("dropping privileges", error);
    }
    if let Err(error) = nix::sys::prctl::set_no_new_privs() {
        return fail("PR_SET_NO_NEW_PRIVS", error);
    }
    let writable: Vec<PathBuf> = spec
        .mounts
        .iter()
        .filter(|mount| mount.writable)
        .map(|mount| mount.target.clone())
        .chain([PathBuf::from("/tmp"), PathBuf::from("/dev")])
        .collect();
    let landlock = match landlock(&writable) {
        Ok(status) => status,
        Err(error) => return fail("Landlock", error),
    };
    if let Err(error) = seccomp::apply() {
        return fail("seccomp", error);
    }
    say(&Message::Ready(Report {
        namespaces: ["user", "mount", "pid", "ipc", "uts", "net"]
            .map(String::from)
            .to_vec(),
        proc,
        seccomp: true,
        landlock,
        no_new_privs: true,
        capabilities_dropped: true,
        host_uid: if request.build_user {
            super::BUILD_USER
        } else {
            request.caller_uid
        },
    }));
    let child = match Command::new(&spec.command[0])
        .args(&spec.command[1..])
        .env_clear()
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(stderr_for_child())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            eprintln!("sandbox: cannot run {}: {error}", spec.command[0]);
            return 127;
        }
    };
    let command = Pid::from_raw(child.id() as i32);
    // PID 1 reaps every orphan; the command's end ends the sandbox.
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => {
                explain_limits(spec, code);
                return code;
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == command => {
                explain_limits(spec, 128 + signal as i32);
                return 128 + signal as i32;
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 125,
        }
    }
}

fn bind(source: &Path, target: &Path, writable: bool) -> Result<(), String> {
    bind_with(source, target, writable, MsFlags::MS_NODEV)
}

/// A bind mount; `extra` is `MS_NODEV` for everything but the device nodes.
fn bind_with(source: &Path, target: &Path, writable: bool, extra: MsFlags) -> Result<(), String> {
    let describe =
        |error: nix::Error| format!("{} on {}: {error}", source.display(), target.display());
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(describe)?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | extra;
    if !writable {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>).map_err(describe)
}

fn tmpfs(target: &Path, options: &str) -> Result<(), String> {
    mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(options),
    )
    .map_err(|error| format!("tmpfs on {}: {error}", target.display()))
}

fn make_directory(path: &Path) -> Result<(), String> {
    fs_err::create_dir_all(path).map_err(|error| error.to_string())
}

/// Builds the new root on `request.root` and moves into it. Returns whether `/proc` is a fresh
/// one of the new PID namespace.
fn build_root(request: &Request) -> Result<bool, String> {
    let spec = &request.spec;
    // Nothing mounted here may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|error| format!("making / private: {error}"))?;
    let root = &request.root;
    tmpfs(root, "mode=0755")?;
    for system in SYSTEM_DIRECTORIES {
        let host = Path::new(system);
        let inside = root.join(system.trim_start_matches('/'));
        match fs_err::symlink_metadata(host) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                // Merged /usr: `/bin -> usr/bin` stays a link.
                let target = fs_err::read_link(host).map_err(|error| error.to_string())?;
                fs_err::os::unix::fs::symlink(target, &inside)
                    .map_err(|error| error.to_string())?;
            }
            Ok(metadata) if metadata.is_dir() => {
                make_directory(&inside)?;
                bind(host, &inside, false)?;
            }
            _ => {}
        }
    }
    // The sandbox maps the caller to root, who may read root's files: hide the host's hashes.
    for secret in ["etc/shadow", "etc/gshadow", "etc/shadow-", "etc/gshadow-"] {
        let inside = root.join(secret);
        if inside.exists() {
            bind(Path::new("/dev/null"), &inside, false)?;
        }
    }
    for mount in &request.spec.mounts {
        let inside = root.join(mount.target.strip_prefix("/").unwrap_or(&mount.target));
        make_directory(&inside)?;
        bind(&mount.source, &inside, mount.writable)?;
    }
    let tmp = root.join("tmp");
    make_directory(&tmp)?;
    tmpfs(&tmp, &format!("mode=1777,size={}", spec.tmp_size))?;
    let dev = root.join("dev");
    make_directory(&dev)?;
    // Holds only links and bind-mounted device nodes.
    tmpfs(&dev, "mode=0755,size=1m")?;
    for device in ["null", "zero", "full", "random", "urandom"] {
        let inside = dev.join(device);
        fs_err::write(&inside, b"").map_err(|error| error.to_string())?;
        bind_with(
            &Path::new("/dev").join(device),
            &inside,
            true,
            MsFlags::MS_NOEXEC,
        )?;
    }
    make_directory(&dev.join("shm"))?;
    tmpfs(
        &dev.join("shm"),
        &format!("mode=1777,size={}", super::SHM_SIZE),
    )?;
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        fs_err::os::unix::fs::symlink(target, dev.join(link)).map_err(|error| error.to_string())?;
    }
    let proc_directory = root.join("proc");
    make_directory(&proc_directory)?;
    // Refused where the host's /proc is partly masked (some containers): then none at all
    // rather than the host's, which would show the host's processes.
    let proc = mount(
        Some("proc"),
        &proc_directory,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .is_ok();
    let old = root.join(".old-root");
    make_directory(&old)?;
    pivot_root(root, &old).map_err(|error| format!("pivot_root: {error}"))?;
    chdir("/").map_err(|error| format!("chdir /: {error}"))?;
    umount2("/.old-root", MntFlags::MNT_DETACH)
        .map_err(|error| format!("detaching the host's root: {error}"))?;
    fs_err::remove_dir("/.old-root").map_err(|error| error.to_string())?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(|error| format!("making / read-only: {error}"))?;
    Ok(proc)
}

fn limits(spec: &super::Spec) -> nix::Result<()> {
    setrlimit(
        Resource::RLIMIT_NPROC,
        spec.max_processes,
        spec.max_processes,
    )?;
    setrlimit(
        Resource::RLIMIT_CPU,
        spec.time_limit,
        spec.time_limit.saturating_add(1),
    )?;
    setrlimit(
        Resource::RLIMIT_FSIZE,
        spec.max_file_size,
        spec.max_file_size,
    )?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0)
}

/// Says which limit a command ran into, when it looks like one did: killed by `SIGXFSZ`
/// (directly, or as `sh` reports a child's death, 128 + 25), or `/tmp` or `/dev/shm` full.
fn explain_limits(spec: &super::Spec, code: i32) {
    let xfsz = Signal::SIGXFSZ as i32;
    if code == 128 + xfsz {
        eprintln!(
            "sandbox: a process was killed for writing a file past the limit of {} (RLIMIT_FSIZE)",
            mebibytes(spec.max_file_size)
        );
    }
    for (path, size) in [("/tmp", spec.tmp_size), ("/dev/shm", super::SHM_SIZE)] {
        if let Ok(stats) = nix::sys::statvfs::statvfs(path) {
            if stats.blocks_available() == 0 {
                eprintln!("sandbox: {path} is full (its limit is {})", mebibytes(size));
            }
        }
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// Every capability gone, for good; with `build_user`, uid and gid 1 and no supplementary
/// groups too.
fn drop_privileges(build_user: bool) -> Result<(), String> {
    let caps = |error: caps::errors::CapsError| error.to_string();
    // The bounding set first: it needs CAP_SETPCAP, which clearing the others takes away.
    caps::clear(None, caps::CapSet::Bounding).map_err(caps)?;
    caps::clear(None, caps::CapSet::Ambient).map_err(caps)?;
    caps::clear(None, caps::CapSet::Inheritable).map_err(caps)?;
    if build_user {
        use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
        let describe = |error: nix::Error| error.to_string();
        setgroups(&[]).map_err(describe)?;
        setresgid(Gid::from_raw(1), Gid::from_raw(1), Gid::from_raw(1)).map_err(describe)?;
        // Leaving uid 0 clears the permitted and effective sets.
        setresuid(Uid::from_raw(1), Uid::from_raw(1), Uid::from_raw(1)).map_err(describe)?;
        // Changing ids clears the parent-death signal: without it again, stage 1 dying would
        // leave this PID namespace running, holding the caller's pipe.
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(describe)?;
    }
    caps::clear(None, caps::CapSet::Effective).map_err(caps)?;
    caps::clear(None, caps::CapSet::Permitted).map_err(caps)
}

/// Gives a writable tree to uid and gid 1 inside (the build user outside).
fn hand_over(root: &Path) -> Result<(), String> {
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.map_err(|error| error.to_string())?;
        std::os::unix::fs::lchown(entry.path(), Some(1), Some(1))
            .map_err(|error| format!("{}: {error}", entry.path().display()))?;
    }
    Ok(())
}

/// Everything readable, only `writable` writable. Returns `full`, `partial` or `unsupported`.
fn landlock(writable: &[PathBuf]) -> Result<String, landlock::RulesetError> {
    use landlock::{
        path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr,
        RulesetStatus, ABI,
    };
    let abi = ABI::V5;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))?
        .create()?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))?
        .add_rules(path_beneath_rules(writable, AccessFs::from_all(abi)))?
        .restrict_self()?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => "full",
        RulesetStatus::PartiallyEnforced => "partial",
        RulesetStatus::NotEnforced => "unsupported",
    }
    .to_string())
}
