//! Trying to get out of the sandbox from a build step: writing outside, reading `~/.ssh`,
//! the network, ptrace, mount, namespaces, setuid, chown, a fork bomb, a step that never ends.
//! Each attempt is a real C program (tests/data/escape.c) compiled with `cc` inside; each must
//! fail, the failure must be reported, and nothing outside may change.
#![allow(clippy::disallowed_methods)] // tests use std::fs (the fs-err rule is for Pandora)

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use support::{Run, Sandbox};

const ESCAPE_C: &str = include_str!("data/escape.c");

fn sandbox_works() -> bool {
    let works = std::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--pid",
            "--fork",
            "--net",
            "true",
        ])
        .status()
        .is_ok_and(|status| status.success());
    let cc = std::process::Command::new("sh")
        .args(["-c", "command -v cc"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !works || !cc {
        eprintln!("SKIPPED: this machine does not allow user namespaces, or has no `cc`");
    }
    works && cc
}

/// A package whose build compiles escape.c and runs `steps` after it.
fn package(sandbox: &Sandbox, name: &str, steps: &[&str], time_limit: u64) -> PathBuf {
    let directory = sandbox.home().join(name);
    fs_err::create_dir_all(directory.join("src")).unwrap();
    fs_err::write(directory.join("src/escape.c"), ESCAPE_C).unwrap();
    let steps: Vec<String> = std::iter::once("cc -o escape src/escape.c")
        .chain(steps.iter().copied())
        .map(|step| format!("\"{}\"", step.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    fs_err::write(
        directory.join("manifest.acl"),
        format!(
            "manifest {{ string name = \"{name}\"; string version = \"1.0.0\";\n build {{ string[] sources = {{ \"src\" }}; int time_limit = {time_limit};\n string[] steps = {{ {} }}; }} }}\n",
            steps.join(", ")
        ),
    )
    .unwrap();
    directory
}

/// Builds a package whose second step runs `./escape ATTACK`; the build must fail with the
/// attempt reported as blocked.
#[track_caller]
fn blocked(sandbox: &Sandbox, attack: &str) -> Run {
    let name = format!("escape-{}", attack.split(' ').next().unwrap());
    let source = package(sandbox, &name, &[&format!("./escape {attack}")], 60);
    let output = sandbox.home().join(format!("{name}.psp"));
    let run = sandbox.build(&source, &output, "escape", &["--no-cache"]);
    run.failure(1);
    assert!(!run.stderr.contains("ESCAPED"), "{attack}: {}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("BLOCKED {}", attack.split(' ').next().unwrap())),
        "{attack}: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "error: build step 2 (`./escape {attack}`) exited with code 1"
        )),
        "{attack}: {}",
        run.stderr
    );
    assert!(!output.exists());
    run
}

#[test]
fn writing_outside_fails_and_changes_nothing() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    fs_err::create_dir_all(sandbox.home()).unwrap();
    let before = support::files_under(&sandbox.home());
    for target in [
        sandbox.home().join("pwned"),
        sandbox.pandora_home().join("pwned"),
        PathBuf::from("/usr/pwned"),
        PathBuf::from("/etc/pwned"),
    ] {
        blocked(&sandbox, &format!("write {}", target.display()));
        assert!(!target.exists(), "{} was written", target.display());
    }
    // /tmp inside is the sandbox's own: what a step writes there never reaches the host's.
    let marker = format!("/tmp/pandora-escape-{}", std::process::id());
    let source = package(
        &sandbox,
        "tmp-writer",
        &[
            &format!("./escape write {marker}"),
            "mkdir -p $OUT/share && cp escape $OUT/share/",
        ],
        60,
    );
    sandbox
        .build(&source, &sandbox.home().join("tmp.psp"), "escape", &[])
        .success();
    assert!(
        !Path::new(&marker).exists(),
        "{marker} appeared on the host"
    );
    let after: Vec<PathBuf> = support::files_under(&sandbox.home())
        .into_iter()
        .filter(|path| !path.starts_with(sandbox.home().join("tmp-writer")))
        .filter(|path| !path.starts_with(sandbox.pandora_home().join("cache")))
        .filter(|path| path.extension().is_none_or(|extension| extension != "psp"))
        .filter(|path| !path.starts_with(sandbox.home().join("escape-write")))
        .collect();
    assert_eq!(before, after, "files outside changed");
}

#[test]
fn reading_ssh_keys_fails() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let key = sandbox.home().join(".ssh/id_ed25519");
    fs_err::create_dir_all(key.parent().unwrap()).unwrap();
    fs_err::write(&key, "SECRET-KEY-MATERIAL").unwrap();
    let run = blocked(&sandbox, &format!("read {}", key.display()));
    assert!(!run.stderr.contains("SECRET-KEY-MATERIAL"));
    // Root's password hashes are hidden even from a sandbox started by root.
    let run = blocked(&sandbox, "read /etc/shadow");
    assert!(!run.stderr.contains("root:"), "{}", run.stderr);
}

#[test]
fn the_network_is_unreachable() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    blocked(&sandbox, &format!("connect {port}"));
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "something connected to the listener"
    );
}

#[test]
fn privileged_system_calls_fail() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    for attack in ["ptrace", "mount", "unshare", "setuid", "chown"] {
        blocked(&sandbox, attack);
    }
}

#[test]
fn a_fork_bomb_stops_at_the_process_limit() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let run = blocked(&sandbox, "forkbomb");
    let count: u64 = run
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("fork failed after "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(count < 512, "{count} processes");
}

#[test]
fn a_step_that_never_ends_is_killed_with_everything_it_started() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(&sandbox, "forever", &["sleep 4242 & exec sleep 4243"], 1);
    let output = sandbox.home().join("forever.psp");
    let run = sandbox.build(&source, &output, "escape", &[]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("ran past its time limit and was killed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("time_limit"), "{}", run.stderr);
    assert!(!output.exists());
    for entry in fs_err::read_dir("/proc").unwrap().flatten() {
        let cmdline = fs_err::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !cmdline.contains("sleep 4242") && !cmdline.contains("sleep 4243"),
            "still running: {cmdline}"
        );
    }
}

/// A package shipping escape.c compiled on the host, whose post-install hook runs
/// `bin/escape ATTACK`; installing it must fail with the attempt reported as blocked, and
/// leave nothing installed.
#[track_caller]
fn blocked_in_hook(sandbox: &Sandbox, attack: &str) -> Run {
    let directory = sandbox.home().join("hooked");
    fs_err::create_dir_all(directory.join("files/bin")).unwrap();
    fs_err::create_dir_all(directory.join("src")).unwrap();
    fs_err::write(directory.join("src/escape.c"), ESCAPE_C).unwrap();
    let compiled = std::process::Command::new("cc")
        .arg("-o")
        .arg(directory.join("files/bin/escape"))
        .arg(directory.join("src/escape.c"))
        .status()
        .unwrap();
    assert!(compiled.success());
    fs_err::write(
        directory.join("manifest.acl"),
        format!(
            "manifest {{ string name = \"hooked\"; string version = \"1.0.0\";\n hooks {{ string[] post_install = {{ \"./bin/escape {attack}\" }}; int time_limit = 60; }} }}\n"
        ),
    )
    .unwrap();
    let file = sandbox.home().join("hooked.psp");
    sandbox.build(&directory, &file, "escape", &[]).success();
    let run = sandbox.run(&["install", file.to_str().unwrap(), "--yes"]);
    assert_ne!(run.code, 0, "{attack}: {}", run.stderr);
    let name = attack.split(' ').next().unwrap();
    assert!(!run.stderr.contains("ESCAPED"), "{attack}: {}", run.stderr);
    assert!(
        run.stderr.contains(&format!("BLOCKED {name}")),
        "{attack}: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "a hook of hooked@1.0.0 failed: `./bin/escape {attack}` exited with code 1"
        )),
        "{attack}: {}",
        run.stderr
    );
    assert!(!sandbox.pandora_home().join("store/hooked@1.0.0").exists());
    run
}

#[test]
fn a_hook_cannot_get_out_either() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let key = sandbox.home().join(".ssh/id_ed25519");
    fs_err::create_dir_all(key.parent().unwrap()).unwrap();
    fs_err::write(&key, "SECRET-KEY-MATERIAL").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pwned = sandbox.home().join("pwned");
    let profile_file = sandbox.pandora_home().join("pwned");
    for attack in [
        format!("write {}", pwned.display()),
        format!("write {}", profile_file.display()),
        format!("read {}", key.display()),
        format!("connect {port}"),
        "ptrace".to_string(),
        "mount".to_string(),
        "unshare".to_string(),
        "setuid".to_string(),
        "forkbomb".to_string(),
    ] {
        let run = blocked_in_hook(&sandbox, &attack);
        assert!(!run.stderr.contains("SECRET-KEY-MATERIAL"));
    }
    assert!(!pwned.exists() && !profile_file.exists());
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "a hook connected to the listener"
    );
}

#[test]
fn a_step_cannot_type_into_the_callers_terminal() {
    if !sandbox_works() {
        return;
    }
    let have_script = std::process::Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !have_script {
        eprintln!("SKIPPED: no `script` (util-linux) to run pandora on a terminal");
        return;
    }
    let legacy = fs_err::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").unwrap_or_default();
    if legacy.trim() == "0" {
        eprintln!("note: this kernel refuses TIOCSTI anyway (dev.tty.legacy_tiocsti=0)");
    }
    let sandbox = Sandbox::new();
    let source = package(&sandbox, "escape-tiocsti", &["./escape tiocsti"], 60);
    let output = sandbox.home().join("tiocsti.psp");
    // `script` makes its pseudo-terminal pandora's controlling terminal, as a shell's is.
    let (code, shown) = sandbox.on_terminal(
        &format!(
            "build {} -o {} --key-seed escape --no-cache",
            source.display(),
            output.display()
        ),
        "",
    );
    assert_eq!(code, Some(1), "{shown}");
    // The step gets no terminal at all: not as its output (a pipe pandora copies from), not as
    // its controlling terminal (a session of its own).
    assert!(!shown.contains("is a terminal"), "{shown}");
    assert!(shown.contains("no controlling terminal"), "{shown}");
    assert!(shown.contains("BLOCKED tiocsti"), "{shown}");
    // And were one reachable, the seccomp filter refuses the request before the kernel looks.
    assert!(
        shown.contains("TIOCSTI on a file: Operation not permitted"),
        "{shown}"
    );
    // Injected keystrokes are echoed by the terminal; none arrived.
    assert!(!shown.contains("INJECTED-BY-THE-BUILD"), "{shown}");
    assert!(!shown.contains("ESCAPED"), "{shown}");
    assert!(!output.exists());
}

/// A package whose one step is `step`, with the build block's size limits (MiB).
fn limited(sandbox: &Sandbox, name: &str, step: &str, max_file_size: u64, tmp_size: u64) -> Run {
    let directory = sandbox.home().join(name);
    fs_err::create_dir_all(directory.join("src")).unwrap();
    fs_err::write(directory.join("src/empty"), "").unwrap();
    fs_err::write(
        directory.join("manifest.acl"),
        format!(
            "manifest {{ string name = \"{name}\"; string version = \"1.0.0\";\n build {{ string[] sources = {{ \"src\" }}; int max_file_size = {max_file_size}; int tmp_size = {tmp_size};\n string[] steps = {{ \"{step}\" }}; }} }}\n"
        ),
    )
    .unwrap();
    let output = sandbox.home().join(format!("{name}.psp"));
    let run = sandbox.build(&directory, &output, "escape", &["--no-cache"]);
    assert!(!output.exists());
    run
}

#[test]
fn disk_use_stops_at_the_recipes_limits() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let run = limited(
        &sandbox,
        "big-file",
        "head -c 3145728 /dev/zero > $OUT/big",
        1,
        8,
    );
    run.failure(1);
    assert!(
        run.stderr.contains(
            "sandbox: a process was killed for writing a file past the limit of 1 MiB (RLIMIT_FSIZE)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("int max_file_size = MIB;"),
        "{}",
        run.stderr
    );
    let big = support::files_under(&sandbox.pandora_home())
        .into_iter()
        .filter_map(|path| fs_err::metadata(path).ok())
        .any(|metadata| metadata.len() > 1 << 20);
    assert!(!big, "a file past the limit was left behind");

    let run = limited(
        &sandbox,
        "full-tmp",
        "head -c 3145728 /dev/zero > /tmp/big",
        8,
        1,
    );
    run.failure(1);
    assert!(
        run.stderr
            .contains("sandbox: /tmp is full (its limit is 1 MiB)"),
        "{}",
        run.stderr
    );
    for (field, value) in [("max_file_size", "0"), ("tmp_size", "2000000")] {
        let directory = sandbox.home().join(format!("bad-{field}"));
        fs_err::create_dir_all(&directory).unwrap();
        fs_err::write(
            directory.join("manifest.acl"),
            format!("manifest {{ string name = \"bad\"; string version = \"1.0.0\";\n build {{ int {field} = {value}; string[] steps = {{ \"true\" }}; }} }}\n"),
        )
        .unwrap();
        let run = sandbox.build(&directory, &sandbox.home().join("bad.psp"), "escape", &[]);
        run.failure(1);
        assert!(
            run.stderr
                .contains(&format!("`{field}` must be a number of MiB from 1 to")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_steps_output_cannot_drive_the_terminal() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(&sandbox, "control", &[r"printf 'A\033[2JB\rC\n'"], 60);
    let run = sandbox.build(
        &source,
        &sandbox.home().join("control.psp"),
        "escape",
        &["--no-cache"],
    );
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    assert!(
        run.stderr.contains(r"A\u{1b}[2JB\u{d}C"),
        "{:?}",
        run.stderr
    );
}
