//! The commands of everyday upkeep, through the binary: `outdated` and `upgrade`, `why`,
//! `owner`, `autoremove` (which knows what was asked for and what came as a dependency) and
//! `doctor`.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::registry::{fixture, index, publish};
use support::ECHO_SCRIPT;

#[test]
fn outdated_and_upgrade_follow_what_was_asked_for() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello@1.1.0"]).success();
    let current = sandbox.run(&["outdated"]);
    assert!(current.success().stdout.is_empty(), "{}", current.stdout);
    assert!(current.stderr.contains("Up to date"), "{}", current.stderr);
    // A new hello pinning a new libgreet is published.
    publish(
        sandbox,
        &fixture.registry,
        "libgreet",
        "2.1.0",
        &[],
        "#!/bin/sh\necho libgreet\n",
    );
    publish(
        sandbox,
        &fixture.registry,
        "hello",
        "1.2.0",
        &["libgreet@2.1.0"],
        ECHO_SCRIPT,
    );
    index(sandbox, &fixture.registry, &[]);
    let outdated = sandbox.run(&["outdated"]);
    let lines: Vec<Vec<&str>> = outdated
        .success()
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        vec![
            vec!["hello@1.1.0", "1.2.0", "fixtures"],
            vec!["libgreet@2.0.0", "2.1.0", "fixtures", "(dependency)"],
        ],
        "{}",
        outdated.stdout
    );
    // Without a terminal and without --yes, nothing changes.
    sandbox.run(&["upgrade"]).failure(3);
    assert!(sandbox.run(&["list"]).stdout.contains("hello@1.1.0"));
    let upgraded = sandbox.run(&["upgrade", "--yes"]);
    upgraded.success();
    assert!(
        upgraded
            .stderr
            .contains("Replace hello@1.1.0 -> hello@1.2.0"),
        "{}",
        upgraded.stderr
    );
    let listed = sandbox.run(&["list"]).stdout;
    assert!(
        listed.contains("hello@1.2.0") && listed.contains("libgreet@2.1.0"),
        "{listed}"
    );
    let again = sandbox.run(&["upgrade", "--yes"]);
    assert!(
        again.success().stderr.contains("Up to date"),
        "{}",
        again.stderr
    );
    let unknown = sandbox.run(&["upgrade", "--yes", "nothere"]);
    unknown.failure(1);
    assert!(
        unknown.stderr.contains("nothere is not in profile"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn why_owner_and_autoremove_know_what_was_asked_for() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let why = sandbox.run(&["why", "libgreet"]);
    assert_eq!(why.success().stdout, "hello@1.1.0 -> libgreet@2.0.0\n");
    let asked = sandbox.run(&["why", "hello"]);
    assert!(
        asked.success().stderr.contains("you asked for hello@1.1.0"),
        "{}",
        asked.stderr
    );

    // owner: by command name, by a path through ~/bin, and refused outside the store.
    let by_name = sandbox.run(&["owner", "hello"]);
    assert_eq!(by_name.success().stdout, "hello@1.1.0  bin/hello\n");
    let through_home = sandbox.home().join("bin/hello");
    let by_path = sandbox.run(&["owner", through_home.to_str().unwrap()]);
    assert_eq!(by_path.success().stdout, "hello@1.1.0  bin/hello\n");
    let unknown = sandbox.run(&["owner", "nosuchcommand"]);
    unknown.failure(1);
    assert!(
        unknown
            .stderr
            .contains("no command `nosuchcommand` in the active profile"),
        "{}",
        unknown.stderr
    );
    let elsewhere = sandbox.run(&["owner", "/bin/sh"]);
    elsewhere.failure(1);
    assert!(
        elsewhere
            .stderr
            .contains("not a file of any installed package"),
        "{}",
        elsewhere.stderr
    );

    // Nothing to take out while hello is active.
    let nothing = sandbox.run(&["autoremove", "--yes"]);
    assert!(
        nothing.success().stderr.contains("needs everything"),
        "{}",
        nothing.stderr
    );
    sandbox.run(&["deactivate", "hello"]).success();
    let orphan = sandbox.run(&["why", "libgreet"]);
    assert!(orphan.success().stdout.is_empty());
    assert!(
        orphan.stderr.contains("nothing you asked for needs"),
        "{}",
        orphan.stderr
    );
    // Refused without --yes where nobody can be asked; then done, as one generation.
    sandbox.run(&["autoremove"]).failure(3);
    assert!(sandbox.run(&["list"]).stdout.contains("libgreet@2.0.0"));
    let removed = sandbox.run(&["autoremove", "--yes"]);
    assert!(
        removed.success().stderr.contains("- libgreet@2.0.0"),
        "{}",
        removed.stderr
    );
    assert!(sandbox.run(&["list"]).stdout.is_empty());
    // A dependency asked for by name is kept.
    sandbox.run(&["install", "--yes", "hello"]).success();
    sandbox.run(&["activate", "libgreet"]).success();
    sandbox.run(&["deactivate", "hello"]).success();
    let kept = sandbox.run(&["autoremove", "--yes"]);
    assert!(
        kept.success().stderr.contains("needs everything"),
        "{}",
        kept.stderr
    );
    // Rolling back brings back what was asked for with the generation.
    sandbox.run(&["rollback"]).success();
    let why = sandbox.run(&["why", "hello"]);
    assert!(
        why.success().stderr.contains("you asked for hello@1.1.0"),
        "{}",
        why.stderr
    );
}

#[test]
fn doctor_reports_what_is_off_and_fails_only_on_what_is_broken() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let bin = sandbox.home().join("bin");
    let healthy = sandbox.run_with(&["doctor"], |command| {
        command.env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    });
    healthy.success();
    for expected in [
        "ok    PATH",
        "ok    ~/bin",
        "ok    registry fixtures",
        "ok    profile",
        "ok    clock",
    ] {
        assert!(
            healthy.stdout.contains(expected),
            "{expected} missing:\n{}",
            healthy.stdout
        );
    }
    // Off PATH and a registry that is down: warnings, still exit 0.
    drop(fixture.server);
    let warned = sandbox.run_with(&["doctor"], |command| {
        command.env("PATH", "/usr/bin:/bin");
    });
    warned.success();
    assert!(warned.stdout.contains("warn  PATH"), "{}", warned.stdout);
    assert!(
        warned.stdout.contains("warn  registry fixtures"),
        "{}",
        warned.stdout
    );
    assert!(warned.stderr.contains("pandora env"), "{}", warned.stderr);
    // A store entry a generation holds is gone: broken, exit 1.
    make_writable(&sandbox.pandora_home().join("store/libgreet@2.0.0"));
    std::fs::remove_dir_all(sandbox.pandora_home().join("store/libgreet@2.0.0")).unwrap();
    let broken = sandbox.run(&["doctor", "--offline"]);
    broken.failure(1);
    assert!(broken.stdout.contains("FAIL  profile"), "{}", broken.stdout);
}

fn make_writable(root: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in walk(root) {
        if entry.symlink_metadata().unwrap().is_dir() {
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![root.to_path_buf()];
    let mut index = 0;
    while index < found.len() {
        let path = found[index].clone();
        if path.symlink_metadata().unwrap().is_dir() {
            for entry in std::fs::read_dir(&path).unwrap().flatten() {
                found.push(entry.path());
            }
        }
        index += 1;
    }
    found
}
