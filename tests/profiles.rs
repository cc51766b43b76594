//! Profiles end to end through the real binary: activation into `vir` and `$HOME/bin`,
//! conflicts, switching, rollback and removal.

mod support;

use std::path::{Path, PathBuf};

use support::{package_source, Sandbox};

/// Builds and installs (into the store only) a package holding `files`.
fn install(sandbox: &Sandbox, name: &str, version: &str, files: &[(&str, &str)]) {
    let source = sandbox.home().join(format!("src-{name}-{version}"));
    package_source(&source, name, version, Some("bin/run"), files);
    let output: PathBuf = sandbox.home().join(format!("{name}-{version}.psp"));
    sandbox.build(&source, &output, "publisher", &[]).success();
    sandbox
        .run(&["install", output.to_str().unwrap()])
        .success();
}

fn script(text: &str) -> String {
    format!("#!/bin/sh\necho {text}\n")
}

fn run_tool(sandbox: &Sandbox, path: &Path) -> String {
    sandbox.run_file(path, &[], |_| {}).success().stdout.clone()
}

#[test]
fn activation_links_home_bin_and_leaves_user_files_alone() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.home().join("share")).unwrap();
    std::fs::write(sandbox.home().join("share/mine"), "user data").unwrap();
    install(
        &sandbox,
        "alpha",
        "1.0.0",
        &[
            ("bin/alpha", &script("alpha one")),
            ("share/alpha/doc", "a"),
        ],
    );
    install(
        &sandbox,
        "beta",
        "1.0.0",
        &[("bin/beta", &script("beta")), ("lib/beta.so", "b")],
    );

    let run = sandbox.run(&["activate", "alpha@1.0.0", "beta@1.0.0"]);
    run.success();
    assert!(run.stderr.contains("is yours"), "{}", run.stderr);
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/alpha")),
        "alpha one\n"
    );
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/beta")),
        "beta\n"
    );
    assert!(sandbox.home().join("lib/beta.so").exists());
    // The user's own directory is untouched; the package's files are reachable through vir.
    assert!(!sandbox.home().join("share").is_symlink());
    assert_eq!(
        std::fs::read_dir(sandbox.home().join("share"))
            .unwrap()
            .count(),
        1
    );
    assert!(sandbox.pandora_home().join("vir/share/alpha/doc").exists());

    // A second version replaces the first in the profile; the first stays in the store.
    install(
        &sandbox,
        "alpha",
        "2.0.0",
        &[("bin/alpha", &script("alpha two"))],
    );
    sandbox.run(&["activate", "alpha@2.0.0"]).success();
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/alpha")),
        "alpha two\n"
    );
    assert!(sandbox.pandora_home().join("store/alpha@1.0.0").is_dir());

    sandbox.run(&["rollback"]).success();
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/alpha")),
        "alpha one\n"
    );
    let history = sandbox.run(&["profile", "history"]);
    let lines: Vec<&str> = history.success().stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", history.stdout);
    assert!(
        lines[0].starts_with("*    1") && lines[0].ends_with("activated alpha@1.0.0, beta@1.0.0"),
        "{}",
        lines[0]
    );
    assert!(lines[1].ends_with("activated alpha@2.0.0"), "{}", lines[1]);
}

#[test]
fn conflicts_are_listed_and_settled_only_on_request() {
    let sandbox = Sandbox::new();
    install(
        &sandbox,
        "one",
        "1.0.0",
        &[("bin/tool", &script("one")), ("bin/one", &script("1"))],
    );
    install(&sandbox, "two", "1.0.0", &[("bin/tool", &script("two"))]);
    sandbox.run(&["activate", "one@1.0.0"]).success();

    let run = sandbox.run(&["activate", "two@1.0.0"]);
    run.failure(1);
    assert!(
        run.stderr.contains("bin/tool (one@1.0.0 and two@1.0.0)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--prefer new"), "{}", run.stderr);
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/tool")),
        "one\n"
    );

    sandbox
        .run(&["activate", "two@1.0.0", "--prefer", "new"])
        .success();
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/tool")),
        "two\n"
    );
    assert_eq!(run_tool(&sandbox, &sandbox.home().join("bin/one")), "1\n");
}

#[test]
fn profiles_switch_atomically_and_removal_unlinks_first() {
    let sandbox = Sandbox::new();
    install(
        &sandbox,
        "alpha",
        "1.0.0",
        &[("bin/alpha", &script("alpha"))],
    );
    sandbox.run(&["activate", "alpha@1.0.0"]).success();
    sandbox.run(&["profile", "create", "bare"]).success();
    sandbox
        .run(&["profile", "create", "copy", "--from", "default"])
        .success();
    let list = sandbox.run(&["profile", "list"]);
    let marked: Vec<(bool, String)> = list
        .success()
        .stdout
        .lines()
        .map(|line| {
            (
                line.starts_with('*'),
                line[2..].split_whitespace().next().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        marked,
        [
            (false, "bare".into()),
            (false, "copy".into()),
            (true, "default".into())
        ]
    );

    sandbox.run(&["profile", "switch", "bare"]).success();
    assert!(!sandbox.home().join("bin/alpha").exists());
    sandbox.run(&["profile", "switch", "copy"]).success();
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/alpha")),
        "alpha\n"
    );
    let run = sandbox.run(&["profile", "delete", "copy", "--yes"]);
    run.failure(1);
    assert!(
        run.stderr.contains("`copy` is the active profile"),
        "{}",
        run.stderr
    );
    sandbox
        .run(&["profile", "delete", "default", "--yes"])
        .success();

    let run = sandbox.run(&["remove", "alpha@1.0.0", "--yes"]);
    run.success();
    assert!(run.stderr.contains("from profile copy"), "{}", run.stderr);
    assert!(!sandbox.pandora_home().join("vir/bin/alpha").exists());
    // Rolling back to a generation whose package is gone is refused with the fix.
    let run = sandbox.run(&["rollback"]);
    run.failure(1);
    assert!(
        run.stderr.contains("pandora install alpha@1.0.0"),
        "{}",
        run.stderr
    );
}
