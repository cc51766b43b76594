//! `pandora update`, `--refresh`, `pandora registry set`, and `registry index --expires-in 0`.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::registry::{fixture, index, key, publish, resign};
use support::ECHO_SCRIPT;

/// A loopback URL nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/")
}

#[test]
fn a_new_version_is_seen_after_update_or_with_refresh_not_within_the_ttl() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox
        .run(&["registry", "set", "fixtures", "--cache-ttl", "3600"])
        .success();
    sandbox.run(&["search", "hello"]).success();
    publish(
        sandbox,
        &fixture.registry,
        "hello",
        "1.2.0",
        &["libgreet@2.0.0"],
        ECHO_SCRIPT,
    );
    index(sandbox, &fixture.registry, &[]);
    // Within the TTL the cached index (serial 1) is used.
    let stale = sandbox.run(&["install", "--yes", "hello@1.2.0"]);
    stale.failure(1);
    assert!(stale.stderr.contains("hello@1.2.0"), "{}", stale.stderr);

    let update = sandbox.run(&["update"]);
    assert_eq!(update.success().stdout, "fixtures  serial 1 -> 2\n");
    let again = sandbox.run(&["update"]);
    assert_eq!(again.success().stdout, "fixtures  unchanged (serial 2)\n");
    sandbox.run(&["install", "--yes", "hello@1.2.0"]).success();

    publish(
        sandbox,
        &fixture.registry,
        "hello",
        "1.3.0",
        &["libgreet@2.0.0"],
        ECHO_SCRIPT,
    );
    index(sandbox, &fixture.registry, &[]);
    sandbox.run(&["install", "--yes", "hello@1.3.0"]).failure(1);
    let info = sandbox.run(&["info", "--refresh", "hello@1.3.0"]);
    assert!(
        info.success().stdout.contains("version      1.3.0"),
        "{}",
        info.stdout
    );
    // What --refresh fetched is the cache now.
    sandbox.run(&["install", "--yes", "hello@1.3.0"]).success();
    publish(
        sandbox,
        &fixture.registry,
        "hello",
        "1.4.0",
        &["libgreet@2.0.0"],
        ECHO_SCRIPT,
    );
    index(sandbox, &fixture.registry, &[]);
    sandbox.run(&["install", "--yes", "hello@1.4.0"]).failure(1);
    sandbox
        .run(&["install", "--yes", "--refresh", "hello@1.4.0"])
        .success();

    // --refresh and --offline say opposite things.
    for command in [
        &["install", "--refresh", "--offline", "hello"][..],
        &["search", "--refresh", "--offline", "hello"],
        &["info", "--refresh", "--offline", "hello"],
        &["list", "--remote", "--refresh", "--offline"],
        &["graph", "--refresh", "--offline", "hello"],
        &["sync", "--refresh", "--offline"],
    ] {
        let run = sandbox.run(command);
        run.failure(2);
        assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    }
    sandbox.run(&["list", "--remote", "--refresh"]).success();
}

#[test]
fn update_reports_each_registry_and_fails_only_when_all_fail() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let down = closed_port();
    sandbox
        .run(&["registry", "add", "down", &down, "--cache-ttl", "0"])
        .success();
    let update = sandbox.run(&["update"]);
    update.success();
    assert!(
        update.stdout.contains("fixtures  fetched (serial 1)"),
        "{}",
        update.stdout
    );
    let failed = update
        .stdout
        .lines()
        .find(|line| line.starts_with("down      failed: "))
        .unwrap_or_else(|| panic!("{}", update.stdout));
    assert!(failed.to_lowercase().contains("connect"), "{failed}");
    assert!(
        update.stderr.contains("1 of 2 registries"),
        "{}",
        update.stderr
    );

    sandbox
        .run(&["registry", "remove", "fixtures", "--yes"])
        .success();
    sandbox
        .run(&["registry", "add", "also-down", &closed_port()])
        .success();
    let update = sandbox.run(&["update"]);
    update.failure(1);
    assert!(
        update.stderr.contains("registry `down`")
            && update.stderr.contains("registry `also-down`")
            && update
                .stderr
                .contains("no configured registry could be read"),
        "{}",
        update.stderr
    );
}

#[test]
fn registry_set_edits_in_place_and_key_changes_reach_the_cache() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let file = sandbox.registries_file();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("// my registries\n{text}")).unwrap();
    sandbox
        .run(&[
            "registry",
            "set",
            "fixtures",
            "--priority",
            "150",
            "--cache-ttl",
            "3600",
            "--mirror",
            "https://mirror.example/pandora",
        ])
        .success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("// my registries\n"), "{text}");
    assert!(
        text.contains("int priority = 150;")
            && text.contains("int cache_ttl = 3600;")
            && text.contains("string[] mirrors = { \"https://mirror.example/pandora/\" };"),
        "{text}"
    );
    let listed = sandbox.run(&["registry", "list"]);
    assert!(
        listed.success().stdout.contains("150")
            && listed
                .stdout
                .contains("(mirrors: https://mirror.example/pandora/)"),
        "{}",
        listed.stdout
    );
    sandbox
        .run(&["registry", "set", "fixtures", "--no-mirrors"])
        .success();
    assert!(!sandbox
        .run(&["registry", "list"])
        .stdout
        .contains("mirrors"));

    // Unknown names, nothing to change, and a contradiction.
    let unknown = sandbox.run(&["registry", "set", "nope", "--priority", "1"]);
    unknown.failure(1);
    assert!(
        unknown.stderr.contains("no registry named `nope`")
            && unknown.stderr.contains("configured registries: fixtures"),
        "{}",
        unknown.stderr
    );
    sandbox.run(&["registry", "set", "fixtures"]).failure(2);
    let keyless = sandbox.run(&[
        "registry",
        "set",
        "fixtures",
        "--remove-key",
        &key("registry"),
        "--remove-key",
        &key("publisher"),
    ]);
    keyless.failure(1);
    assert!(
        keyless
            .stderr
            .contains("would require signatures but trust no key"),
        "{}",
        keyless.stderr
    );

    // The registry rotates its key. Within the TTL the old cache would do, but the cache is
    // keyed by the key set: trusting the new key fetches the new index at once.
    sandbox.run(&["search", "hello"]).success();
    resign(&fixture.registry, "rotated", |index| {
        index.serial = Some(2);
    });
    sandbox
        .run(&["registry", "set", "fixtures", "--cache-ttl", "0"])
        .success();
    let refused = sandbox.run(&["search", "hello"]);
    refused.failure(1);
    assert!(
        refused
            .stderr
            .contains("pandora registry set fixtures --add-key ed25519:NEW"),
        "{}",
        refused.stderr
    );
    sandbox
        .run(&["registry", "set", "fixtures", "--cache-ttl", "3600"])
        .success();
    sandbox
        .run(&["registry", "set", "fixtures", "--add-key", &key("rotated")])
        .success();
    let update = sandbox.run(&["search", "hello"]);
    update.success();
    // The old registry key still trusted: an index it signed with an older serial is a replay.
    resign(&fixture.registry, "registry", |index| {
        index.serial = Some(1);
    });
    sandbox
        .run(&["registry", "set", "fixtures", "--cache-ttl", "0"])
        .success();
    let replay = sandbox.run(&["search", "hello"]);
    replay.failure(1);
    assert!(
        replay.stderr.contains("older than serial 2 already seen"),
        "{}",
        replay.stderr
    );
}

#[test]
fn an_index_cannot_be_written_already_expired() {
    let fixture = fixture();
    let run = fixture.sandbox.run(&[
        "registry",
        "index",
        fixture.registry.to_str().unwrap(),
        "--key-seed",
        "registry",
        "--expires-in",
        "0",
    ]);
    run.failure(2);
    assert!(
        run.stderr.contains("--expires-in") && run.stderr.contains("0 is not in 1.."),
        "{}",
        run.stderr
    );
}
