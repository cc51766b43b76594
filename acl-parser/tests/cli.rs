//! The `acl` tool: exit codes and output of `check`, `eval` and `get`.

use std::io::Write;
use std::process::{Command, Stdio};

fn acl(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_acl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn file(text: &str) -> tempfile_path::TempFile {
    tempfile_path::TempFile::new(text)
}

/// A file that removes itself, without a dependency for it.
mod tempfile_path {
    pub struct TempFile(pub std::path::PathBuf);
    impl TempFile {
        pub fn new(text: &str) -> TempFile {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "acl-cli-{}-{}.acl",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
        pub fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[test]
fn check_reports_every_bad_file_and_exits_1() {
    let good = file("A { x = 1; }");
    let bad = file("A {\n  int x = \"no\";\n}\n");
    let (code, stdout, stderr) = acl(&["check", good.path(), bad.path()], "");
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(&format!("--> {}:2:11", bad.path())),
        "{stderr}"
    );
    assert!(stderr.contains("^^^^"), "{stderr}");
    assert_eq!(acl(&["check", good.path()], "").0, 0);
    let (code, _, stderr) = acl(&["check", "/nonexistent/file.acl"], "");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read /nonexistent/file.acl"),
        "{stderr}"
    );
}

#[test]
fn eval_prints_canonical_values() {
    let (code, stdout, _) = acl(&["eval", "-"], "B { y = $A.x * 2; } A { int x = 20 + 1; }");
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "B {\n    int y = 42;\n}\n\nA {\n    int x = 21;\n}\n"
    );
}

#[test]
fn get_prints_raw_values() {
    let text =
        "Registry { Package \"jq\" { versions = { \"1.6\", \"1.7.1\" }; latest = \"1.7.1\"; } }";
    assert_eq!(
        acl(&["get", "-", "Registry.Package[\"jq\"].latest"], text).1,
        "1.7.1\n"
    );
    assert_eq!(
        acl(&["get", "-", "Registry.Package[\"jq\"].versions"], text).1,
        "1.6\n1.7.1\n"
    );
    let (code, _, stderr) = acl(&["get", "-", "Registry.Package[\"yq\"].latest"], text);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no `Package` block is labelled \"yq\""),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(acl(&[], "").0, 2);
    assert_eq!(acl(&["frobnicate"], "").0, 2);
    assert_eq!(acl(&["get", "-"], "").0, 2);
    assert_eq!(acl(&["--help"], "").0, 0);
}

#[test]
fn check_accepts_the_spec_examples_with_bare_names() {
    let spec = file(
        "System {\n    bool debug = true;\n}\nServer {\n    string name = \"web\";\n    int port = 8080;\n    string welcome = \"Hi \" + name;\n    bool ok = ($System.debug && (port > 1024));\n}\n",
    );
    let (code, stdout, stderr) = acl(&["check", spec.path()], "");
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
    let (code, stdout, _) = acl(&["get", spec.path(), "Server.welcome"], "");
    assert_eq!((code, stdout.as_str()), (0, "Hi web\n"));
    let (code, _, stderr) = acl(
        &["check", "-"],
        "Server {\n    string welcome = \"Hi \" + nmae;\n}\n",
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("unknown name `nmae`") && stderr.contains("--> <stdin>:2:30"),
        "{stderr}"
    );
}

#[test]
fn check_refuses_an_expansion_bomb_quickly() {
    let mut bomb = String::from("a0 = \"xx\";\n");
    for n in 1..=40 {
        bomb.push_str(&format!("a{n} = $.a{} + $.a{};\n", n - 1, n - 1));
    }
    let (code, _, stderr) = acl(&["check", "-"], &bomb);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("over the limit of 1048576 bytes for one value")
            && stderr.contains("--> <stdin>:21:7"),
        "{stderr}"
    );
}
