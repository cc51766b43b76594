//! Crash and fault injection over Pandora's mutating workflows. Each scenario's command runs
//! under strace, which either kills it (SIGKILL) at the Nth call of one class of mutating
//! syscall, or makes that call fail (ENOSPC, EIO). After every run: no panic, the exit code is
//! the command's own (or the kill), `pandora verify --all` passes (the store holds only
//! complete, verified entries; `vir` leads to a whole generation), and running the command
//! again, untouched, converges to the state it promises.
//!
//! In CI every kill point of the rare syscalls (rename, symlink, mkdir, unlink, chmod, fsync) is
//! tried and the frequent ones (write, openat) are sampled; `PANDORA_CRASH_FULL=1` tries every
//! single one.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use support::registry::fixture;
use support::{package_source, Sandbox};

const STRACE: &str = "/usr/bin/strace";

/// One class of syscalls and what is done to its Nth call.
struct Fault {
    syscalls: &'static str,
    /// `signal=SIGKILL` or `error=ENOSPC` ...
    action: &'static str,
    /// In CI, only every `stride`-th call is tried (1: all of them).
    stride: usize,
}

const FAULTS: &[Fault] = &[
    Fault {
        syscalls: "rename,renameat,renameat2",
        action: "signal=SIGKILL",
        stride: 1,
    },
    Fault {
        syscalls: "symlink,symlinkat",
        action: "signal=SIGKILL",
        stride: 1,
    },
    Fault {
        syscalls: "mkdir,mkdirat",
        action: "signal=SIGKILL",
        stride: 1,
    },
    Fault {
        syscalls: "unlink,unlinkat,rmdir",
        action: "signal=SIGKILL",
        stride: 1,
    },
    Fault {
        syscalls: "chmod,fchmod,fchmodat",
        action: "signal=SIGKILL",
        stride: 3,
    },
    Fault {
        syscalls: "fsync,fdatasync,syncfs",
        action: "signal=SIGKILL",
        stride: 1,
    },
    Fault {
        syscalls: "write,pwrite64,writev",
        action: "signal=SIGKILL",
        stride: 7,
    },
    Fault {
        syscalls: "write,pwrite64,writev",
        action: "error=ENOSPC",
        stride: 7,
    },
    Fault {
        syscalls: "fsync,fdatasync,syncfs",
        action: "error=EIO",
        stride: 1,
    },
    Fault {
        syscalls: "rename,renameat,renameat2",
        action: "error=EIO",
        stride: 1,
    },
    Fault {
        syscalls: "mkdir,mkdirat,symlink,symlinkat",
        action: "error=ENOSPC",
        stride: 2,
    },
];

/// A workflow to break: how to bring the sandbox to its starting state, the command, and the
/// state a clean rerun must reach.
struct Scenario<'a> {
    name: &'a str,
    command: Vec<String>,
    prepare: &'a dyn Fn(&Sandbox),
    converged: &'a dyn Fn(&Sandbox) -> bool,
    /// Whether running the command again is the way to finish it (not for `rollback`, which
    /// steps back once more each time: its state is checked without a rerun).
    rerun: bool,
    /// Whether the command talks to a registry. Then failures are not injected into `write`:
    /// tokio's runtime wakes itself with writes to an eventfd, which no disk can fill, and
    /// panics by design when they fail.
    network: bool,
}

fn full() -> bool {
    std::env::var("PANDORA_CRASH_FULL").is_ok_and(|value| value == "1")
}

fn pandora() -> &'static str {
    env!("CARGO_BIN_EXE_pandora")
}

/// Runs every fault against `scenario`; returns how many faulted runs were checked.
fn exercise(sandbox: &Sandbox, scenario: &Scenario<'_>) -> usize {
    assert!(
        Path::new(STRACE).exists(),
        "this test needs strace (apt-get install strace); .ci/run installs it"
    );
    let mut checked = 0;
    for fault in FAULTS {
        if scenario.network
            && fault.syscalls.starts_with("write")
            && fault.action.starts_with("error")
        {
            continue;
        }
        let stride = if full() { 1 } else { fault.stride };
        let mut step = 1;
        loop {
            (scenario.prepare)(sandbox);
            let injection = format!("inject={}:{}:when={step}", fault.syscalls, fault.action);
            let mut args = vec!["-f", "-qq", "-o", "/dev/null", "-e", &injection, pandora()];
            args.extend(scenario.command.iter().map(String::as_str));
            let output = sandbox
                .command_for(Path::new(STRACE), &args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            let what = format!(
                "{}: {} at call {step} of {}",
                scenario.name, fault.action, fault.syscalls
            );
            assert!(!stderr.contains("panicked"), "{what}: a panic\n{stderr}");
            match output.status.code() {
                None | Some(0) | Some(1) | Some(3) => {}
                Some(code) => panic!("{what}: exit {code}\n{stderr}"),
            }
            let verify = sandbox.run(&["verify", "--all"]);
            assert_eq!(
                verify.code, 0,
                "{what}: verify --all fails\n{}{}",
                verify.stdout, verify.stderr
            );
            if scenario.rerun {
                let command: Vec<&str> = scenario.command.iter().map(String::as_str).collect();
                let rerun = sandbox.run(&command);
                assert!(
                    (scenario.converged)(sandbox),
                    "{what}: a clean rerun does not converge\n{}{}",
                    rerun.stdout,
                    rerun.stderr
                );
            } else {
                assert!(
                    (scenario.converged)(sandbox),
                    "{what}: not in a state it promises"
                );
            }
            checked += 1;
            // strace injected nothing: the command ran to its end, every point was tried.
            if output.status.success() {
                break;
            }
            step += stride;
            assert!(step < 5000, "{what}: the command never finished");
        }
    }
    eprintln!("{}: {checked} faulted runs checked", scenario.name);
    checked
}

fn build(sandbox: &Sandbox, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let source = sandbox.home().join(format!("src-{name}"));
    package_source(&source, name, "1.0.0", Some(&format!("bin/{name}")), files);
    let output = sandbox.home().join(format!("{name}.psp"));
    sandbox.build(&source, &output, "publisher", &[]).success();
    output
}

fn alpha(sandbox: &Sandbox) -> PathBuf {
    build(
        sandbox,
        "alpha",
        &[
            ("bin/alpha", "#!/bin/sh\necho alpha\n"),
            ("share/alpha/doc", "a"),
            ("share/alpha/more/deep", "d"),
        ],
    )
}

fn installed(sandbox: &Sandbox) -> String {
    sandbox.run(&["list", "--store"]).stdout
}

fn active(sandbox: &Sandbox) -> String {
    sandbox.run(&["list"]).stdout
}

fn quiet(sandbox: &Sandbox, args: &[&str]) {
    let _ = sandbox.run(args);
}

#[test]
fn installing_a_file() {
    let sandbox = Sandbox::new();
    let package = alpha(&sandbox);
    let path = package.to_str().unwrap().to_string();
    let checked = exercise(
        &sandbox,
        &Scenario {
            name: "install FILE",
            command: vec!["install".into(), "--no-activate".into(), path],
            prepare: &|sandbox| {
                quiet(sandbox, &["remove", "alpha@1.0.0", "--yes"]);
                quiet(sandbox, &["prune"]);
            },
            converged: &|sandbox| installed(sandbox).contains("alpha"),
            rerun: true,
            network: false,
        },
    );
    assert!(checked >= 20, "only {checked} faults were checked");
}

#[test]
fn installing_from_a_registry() {
    let fixture = fixture();
    let checked = exercise(
        &fixture.sandbox,
        &Scenario {
            name: "install NAME",
            command: vec!["install".into(), "--no-activate".into(), "hello".into()],
            prepare: &|sandbox| {
                quiet(
                    sandbox,
                    &["remove", "hello@1.1.0", "libgreet@2.0.0", "--yes"],
                );
                quiet(sandbox, &["prune"]);
            },
            converged: &|sandbox| {
                let listed = installed(sandbox);
                listed.contains("hello") && listed.contains("libgreet")
            },
            rerun: true,
            network: true,
        },
    );
    assert!(checked >= 20, "only {checked} faults were checked");
}

#[test]
fn activating_deactivating_and_removing() {
    let sandbox = Sandbox::new();
    let package = alpha(&sandbox);
    sandbox
        .run(&["install", "--no-activate", package.to_str().unwrap()])
        .success();
    let mut checked = exercise(
        &sandbox,
        &Scenario {
            name: "activate",
            command: vec!["activate".into(), "alpha@1.0.0".into()],
            prepare: &|sandbox| quiet(sandbox, &["deactivate", "alpha"]),
            converged: &|sandbox| active(sandbox).contains("alpha"),
            rerun: true,
            network: false,
        },
    );
    checked += exercise(
        &sandbox,
        &Scenario {
            name: "deactivate",
            command: vec!["deactivate".into(), "alpha".into()],
            prepare: &|sandbox| quiet(sandbox, &["activate", "alpha@1.0.0"]),
            converged: &|sandbox| !active(sandbox).contains("alpha"),
            rerun: true,
            network: false,
        },
    );
    let path = package.to_str().unwrap().to_string();
    checked += exercise(
        &sandbox,
        &Scenario {
            name: "remove",
            command: vec!["remove".into(), "alpha@1.0.0".into(), "--yes".into()],
            prepare: &|sandbox| {
                quiet(sandbox, &["install", "--yes", &path]);
            },
            converged: &|sandbox| !installed(sandbox).contains("alpha"),
            rerun: true,
            network: false,
        },
    );
    assert!(checked >= 40, "only {checked} faults were checked");
}

#[test]
fn rolling_back_switching_and_pruning() {
    let sandbox = Sandbox::new();
    let package = alpha(&sandbox);
    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    sandbox.run(&["profile", "create", "other"]).success();
    let mut checked = exercise(
        &sandbox,
        &Scenario {
            name: "rollback",
            command: vec!["rollback".into()],
            prepare: &|sandbox| {
                quiet(sandbox, &["activate", "alpha@1.0.0"]);
                quiet(sandbox, &["deactivate", "alpha"]);
            },
            // Killed or failed, the profile shows the generation before or after: never less.
            converged: &|sandbox| sandbox.run(&["list"]).code == 0,
            rerun: false,
            network: false,
        },
    );
    checked += exercise(
        &sandbox,
        &Scenario {
            name: "profile switch",
            command: vec!["profile".into(), "switch".into(), "other".into()],
            prepare: &|sandbox| quiet(sandbox, &["profile", "switch", "default"]),
            converged: &|sandbox| {
                let listed = sandbox.run(&["profile", "list"]).stdout;
                listed.lines().any(|line| line.starts_with("* other"))
            },
            rerun: true,
            network: false,
        },
    );
    quiet(&sandbox, &["profile", "switch", "default"]);
    checked += exercise(
        &sandbox,
        &Scenario {
            name: "prune --generations 1",
            command: vec![
                "prune".into(),
                "--generations".into(),
                "1".into(),
                "--yes".into(),
            ],
            prepare: &|sandbox| {
                quiet(sandbox, &["deactivate", "alpha"]);
                quiet(sandbox, &["activate", "alpha@1.0.0"]);
            },
            converged: &|sandbox| {
                let history = sandbox.run(&["profile", "history"]).stdout;
                history.lines().count() == 1 && active(sandbox).contains("alpha")
            },
            rerun: true,
            network: false,
        },
    );
    assert!(checked >= 20, "only {checked} faults were checked");
}
