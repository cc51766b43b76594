//! A registry that is down does not stop the others: commands warn (which registry, why, with
//! the underlying cause) and go on; they fail only when what they need can come from nowhere,
//! and then say which registries could not be read.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::registry::fixture;

/// A loopback URL nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/")
}

#[test]
fn a_registry_that_is_down_does_not_stop_the_others() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox
        .run(&[
            "registry",
            "add",
            "down",
            &closed_port(),
            "--priority",
            "200",
            "--cache-ttl",
            "0",
        ])
        .success();
    let search = sandbox.run(&["search", "hello"]);
    assert!(
        search.success().stdout.contains("hello"),
        "{}",
        search.stdout
    );
    assert!(
        search.stderr.contains("registry `down`")
            && search.stderr.to_lowercase().contains("connect"),
        "{}",
        search.stderr
    );
    let listed = sandbox.run(&["list", "--remote"]);
    assert!(
        listed.success().stdout.contains("libgreet"),
        "{}",
        listed.stdout
    );
    let info = sandbox.run(&["info", "hello"]);
    assert!(
        info.success().stdout.contains("fixtures"),
        "{}",
        info.stdout
    );
    let install = sandbox.run(&["install", "--yes", "hello"]);
    install.success();
    assert!(
        install.stderr.contains("registry `down`"),
        "{}",
        install.stderr
    );
    // What no readable registry has: the error names the registries that could not be read.
    let missing = sandbox.run(&["install", "--yes", "nothere"]);
    missing.failure(1);
    assert!(
        missing.stderr.contains("could not be read") && missing.stderr.contains("registry `down`"),
        "{}",
        missing.stderr
    );
}

#[test]
fn when_no_registry_can_be_read_each_says_why() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox
        .run(&["registry", "remove", "fixtures", "--yes"])
        .success();
    sandbox
        .run(&["registry", "add", "one", &closed_port(), "--cache-ttl", "0"])
        .success();
    sandbox
        .run(&["registry", "add", "two", &closed_port(), "--cache-ttl", "0"])
        .success();
    let search = sandbox.run(&["search", "hello"]);
    search.failure(1);
    assert!(
        search.stderr.contains("registry `one`") && search.stderr.contains("registry `two`"),
        "{}",
        search.stderr
    );
}
