//! Output that cannot be written: a closed pipe ends quietly (never a panic, never after a
//! commit a failure), any other write error is an ordinary error.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::Sandbox;

/// Runs `pandora ARGS | head -c1` and returns pandora's own exit status and stderr.
fn into_closed_pipe(sandbox: &Sandbox, args: &str) -> (i32, String) {
    let stderr = sandbox.home().join("stderr");
    std::fs::create_dir_all(sandbox.home()).unwrap();
    let script = format!(
        "\"$0\" {args} 2>\"{}\" | head -c1 >/dev/null; exit ${{PIPESTATUS[0]}}",
        stderr.display()
    );
    let pandora = sandbox.command(&[]).get_program().to_owned();
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(pandora)
        .env("HOME", sandbox.home())
        .env("PANDORA_HOME", sandbox.pandora_home())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        std::fs::read_to_string(stderr).unwrap_or_default(),
    )
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let sandbox = Sandbox::new();
    for args in [
        "completions bash",
        "completions zsh",
        "--help",
        "registry list",
    ] {
        let (code, stderr) = into_closed_pipe(&sandbox, args);
        assert_eq!(code, 0, "pandora {args}: {stderr}");
        assert!(!stderr.contains("panicked"), "pandora {args}: {stderr}");
    }
}

#[test]
fn a_full_disk_behind_stdout_is_an_error() {
    let sandbox = Sandbox::new();
    let output = sandbox
        .command(&["completions", "bash"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
