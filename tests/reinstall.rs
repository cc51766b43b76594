//! Crash safety of `pandora install --reinstall`: the command is killed (SIGKILL, by strace's
//! syscall fault injection) before each rename, unlink and directory creation it makes in turn.
//! After every kill the store entry must be whole, old or new, and described exactly by its
//! install record (`pandora verify --all` passes, the active profile's links included), and
//! running the same command again must finish the reinstall.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};

use support::{package_source, Sandbox};

/// `hello@1.0.0` whose `bin/hello` is `script`; both versions have the same name@version.
fn build(sandbox: &Sandbox, tag: &str, script: &str) -> PathBuf {
    let source = sandbox.home().join(format!("src-{tag}"));
    package_source(
        &source,
        "hello",
        "1.0.0",
        Some("bin/hello"),
        &[
            ("bin/hello", script),
            ("share/hello/doc", tag),
            (&format!("share/hello/only-in-{tag}"), tag),
        ],
    );
    let output = sandbox.home().join(format!("hello-{tag}.psp"));
    sandbox.build(&source, &output, "publisher", &[]).success();
    output
}

fn installed_script(sandbox: &Sandbox) -> String {
    let entry = sandbox.pandora_home().join("store/hello@1.0.0");
    std::fs::read_to_string(entry.join("bin/hello"))
        .unwrap_or_else(|error| panic!("store/hello@1.0.0/bin/hello: {error}"))
}

/// `verify --all` passes and covers hello (its record and tree agree, the profile's links lead
/// into it).
fn assert_verified(sandbox: &Sandbox, context: &str) {
    let verify = sandbox.run(&["verify", "--all"]);
    assert_eq!(
        verify.code, 0,
        "{context}: verify --all failed\nstdout:\n{}\nstderr:\n{}",
        verify.stdout, verify.stderr
    );
    assert!(
        verify.stdout.contains("hello@1.0.0"),
        "{context}: hello is not verified (no record?)\n{}",
        verify.stdout
    );
    assert!(
        verify.stdout.contains("profile"),
        "{context}: no profile was checked\n{}",
        verify.stdout
    );
}

#[test]
fn a_kill_at_any_step_of_a_reinstall_leaves_a_whole_verified_entry() {
    let strace = Path::new("/usr/bin/strace");
    assert!(
        strace.exists(),
        "this test needs strace (apt-get install strace); .ci/run installs it"
    );
    let sandbox = Sandbox::new();
    let scripts = ["#!/bin/sh\necho one\n", "#!/bin/sh\necho two\n"];
    let files = [
        build(&sandbox, "one", scripts[0]),
        build(&sandbox, "two", scripts[1]),
    ];
    // Installed and active, so the profile links into the entry being replaced.
    sandbox
        .run(&["install", "--yes", files[0].to_str().unwrap()])
        .success();
    assert_verified(&sandbox, "before");
    let pandora = env!("CARGO_BIN_EXE_pandora");
    // Each reinstall goes the other way: from `current` to `1 - current`.
    let mut current = 0;
    let mut kills = 0;
    for syscalls in [
        "rename,renameat,renameat2",
        "unlink,unlinkat,rmdir",
        "mkdir,mkdirat",
    ] {
        for step in 1.. {
            let next = 1 - current;
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
                        "install",
                        "--no-activate",
                        "--reinstall",
                        files[next].to_str().unwrap(),
                    ],
                )
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            let context = format!("killed before {syscalls} #{step}");
            let shown = installed_script(&sandbox);
            assert!(
                shown == scripts[current] || shown == scripts[next],
                "{context}: the entry holds {shown:?}"
            );
            assert_verified(&sandbox, &context);
            if status.success() {
                assert_eq!(shown, scripts[next], "{context}: finished but not replaced");
                current = next;
                break;
            }
            kills += 1;
            // Running it again finishes the job.
            sandbox
                .run(&[
                    "install",
                    "--no-activate",
                    "--reinstall",
                    files[next].to_str().unwrap(),
                ])
                .success();
            assert_eq!(
                installed_script(&sandbox),
                scripts[next],
                "{context}: the rerun did not converge"
            );
            assert_verified(&sandbox, &format!("{context}, then rerun"));
            current = next;
            assert!(step < 100, "the reinstall never finished under {syscalls}");
        }
    }
    eprintln!("{kills} kill points exercised");
    assert!(kills >= 6, "only {kills} kill points were exercised");
    // Nothing is left behind once the next store operation has swept.
    sandbox
        .run(&[
            "install",
            "--no-activate",
            "--reinstall",
            files[1 - current].to_str().unwrap(),
        ])
        .success();
    let home = sandbox.pandora_home();
    assert_eq!(std::fs::read_dir(home.join("tmp")).unwrap().count(), 0);
    let mut records: Vec<String> = std::fs::read_dir(home.join("records"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    records.sort();
    assert_eq!(
        records,
        [
            "hello@1.0.0.acl",
            "hello@1.0.0.attestation.json",
            "hello@1.0.0.summary"
        ]
    );
    let store: Vec<String> = std::fs::read_dir(home.join("store"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(store, ["hello@1.0.0"]);
}
