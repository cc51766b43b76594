//! Crash safety of activation: `pandora activate` is killed (SIGKILL, by strace's syscall
//! fault injection) before each rename, symlink and directory creation it makes in turn, and
//! after every kill `vir` must show a complete generation, old or new, never a mix, and
//! `pandora verify --all` must pass. The next command sweeps what the kill left behind.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};

use support::{package_source, Sandbox};

fn install(sandbox: &Sandbox, name: &str, files: &[(&str, &str)]) {
    let source = sandbox.home().join(format!("src-{name}"));
    package_source(&source, name, "1.0.0", None, files);
    let output: PathBuf = sandbox.home().join(format!("{name}.psp"));
    sandbox.build(&source, &output, "publisher", &[]).success();
    sandbox
        .run(&["install", "--no-activate", output.to_str().unwrap()])
        .success();
}

/// Which of the two packages `vir` shows; panics on anything but a whole generation.
fn visible(home: &Path) -> Vec<&'static str> {
    let vir = home.join("pandora/vir");
    let mut seen = Vec::new();
    for (name, files) in [
        ("alpha", ["bin/alpha", "share/alpha/doc"]),
        ("beta", ["bin/beta", "share/beta/doc"]),
    ] {
        let present: Vec<bool> = files.iter().map(|f| vir.join(f).is_file()).collect();
        assert!(
            present.iter().all(|p| *p == present[0]),
            "{name} is half there: {present:?}"
        );
        if present[0] {
            seen.push(name);
        }
    }
    seen
}

#[test]
fn a_kill_at_any_step_of_activation_leaves_a_whole_generation() {
    let strace = Path::new("/usr/bin/strace");
    assert!(
        strace.exists(),
        "this test needs strace (apt-get install strace); .ci/run installs it"
    );
    let sandbox = Sandbox::new();
    install(
        &sandbox,
        "alpha",
        &[
            ("bin/alpha", "#!/bin/sh\necho alpha\n"),
            ("share/alpha/doc", "a"),
        ],
    );
    install(
        &sandbox,
        "beta",
        &[
            ("bin/beta", "#!/bin/sh\necho beta\n"),
            ("share/beta/doc", "b"),
        ],
    );
    sandbox.run(&["activate", "alpha@1.0.0"]).success();
    let pandora = env!("CARGO_BIN_EXE_pandora");
    let mut kills = 0;
    for syscalls in [
        "rename,renameat,renameat2",
        "symlink,symlinkat",
        "mkdir,mkdirat",
    ] {
        for step in 1.. {
            let injection = format!("inject={syscalls}:signal=SIGKILL:when={step}");
            let status = sandbox
                .command_for(
                    strace,
                    &[
                        "-f",
                        "-qq",
                        "-o",
                        "/dev/null",
                        "-e",
                        &injection,
                        pandora,
                        "activate",
                        "beta@1.0.0",
                    ],
                )
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            let shown = visible(&sandbox.home());
            assert!(
                shown == ["alpha"] || shown == ["alpha", "beta"],
                "killed before {syscalls} #{step}: vir shows {shown:?}"
            );
            sandbox.run(&["verify", "--all"]).success();
            if shown.contains(&"beta") {
                sandbox.run(&["deactivate", "beta"]).success();
            }
            if status.success() {
                break;
            }
            kills += 1;
            assert!(step < 100, "activation never finished under {syscalls}");
        }
    }
    assert!(kills >= 6, "only {kills} kill points were exercised");
    // After all that, the profile still works and `tmp/` holds nothing once swept.
    sandbox.run(&["activate", "beta@1.0.0"]).success();
    assert_eq!(visible(&sandbox.home()), ["alpha", "beta"]);
    let tmp = sandbox.pandora_home().join("tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
}
