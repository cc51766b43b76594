//! Everyday conveniences through the real binary: the names people type, messages that say
//! what they mean, no work for nothing.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::registry::fixture;

#[test]
fn uninstall_is_remove() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    sandbox.run(&["uninstall", "hello", "--yes"]).success();
    assert!(!sandbox.run(&["list", "--store"]).stdout.contains("hello"));
}

#[test]
fn a_package_asked_for_directly_is_not_needed_by_nothing() {
    let fixture = fixture();
    let run = fixture.sandbox.run(&["install", "--yes", "hello@9.9.9"]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("hello@9.9.9 is not in any configured registry"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("needed by )"), "{}", run.stderr);
}

#[test]
fn an_activation_that_changes_nothing_makes_no_generation() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let before = sandbox.run(&["profile", "history"]).stdout.lines().count();
    let again = sandbox.run(&["activate", "hello"]);
    assert!(
        again.success().stderr.contains("unchanged"),
        "{}",
        again.stderr
    );
    assert_eq!(
        sandbox.run(&["profile", "history"]).stdout.lines().count(),
        before
    );
}

#[test]
fn a_registry_without_a_key_is_called_unauthenticated() {
    let fixture = fixture();
    let run = fixture
        .sandbox
        .run(&["registry", "add", "open", "file:///srv/open/"]);
    run.success();
    assert!(
        run.stderr.contains("nothing from it is authenticated"),
        "{}",
        run.stderr
    );
}

#[test]
fn declining_activation_exits_3() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let (status, shown) = sandbox.on_terminal("install hello", "n\n");
    assert_eq!(status, Some(3), "{shown}");
    // The plan and the question come before the download: declining leaves nothing behind.
    assert!(shown.contains("hello@1.1.0"), "{shown}");
    assert!(shown.contains("to download"), "{shown}");
    assert!(shown.contains("nothing was downloaded"), "{shown}");
    let blobs = sandbox.pandora_home().join("blobs");
    assert!(
        support::files_under(&blobs).is_empty(),
        "declining downloaded: {:?}",
        support::files_under(&blobs)
    );
    assert!(sandbox
        .run(&["list", "--store"])
        .success()
        .stdout
        .is_empty());
}

#[test]
fn list_remote_works_offline_from_the_cache() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["list", "--remote"]).success();
    drop(fixture.server);
    let run = sandbox.run(&["list", "--remote", "--offline"]);
    assert!(run.success().stdout.contains("hello"), "{}", run.stdout);
}
