//! A registry with mirrors: its URLs are tried in order for the index and for every package,
//! each index is verified against the registry's keys whichever URL served it, and when every
//! URL fails the one-line warning names each URL's cause.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use registry_fixtures::server::{Behavior, FixtureServer};
use support::registry::{fixture, key, resign};
use support::Sandbox;

/// A loopback URL nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/")
}

/// Replaces the fixture's `fixtures` registry with one at `url` with `mirrors`, same keys.
fn configure(sandbox: &Sandbox, url: &str, mirrors: &[&str]) {
    sandbox
        .run(&["registry", "remove", "fixtures", "--yes"])
        .success();
    let (registry_key, publisher_key) = (key("registry"), key("publisher"));
    let mut args = vec![
        "registry",
        "add",
        "fixtures",
        url,
        "--key",
        &registry_key,
        "--key",
        &publisher_key,
        "--require-signatures",
        "--cache-ttl",
        "0",
    ];
    for mirror in mirrors {
        args.extend(["--mirror", mirror]);
    }
    sandbox.run(&args).success();
}

/// A copy of the registry directory, served by its own server.
fn copy_of(from: &std::path::Path, to: &std::path::Path) -> FixtureServer {
    std::fs::create_dir_all(to.join("pkgs")).unwrap();
    for entry in std::fs::read_dir(from.join("pkgs")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join("pkgs").join(entry.file_name())).unwrap();
    }
    for name in ["index.acl", "index.acl.sig"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
    FixtureServer::start(to).unwrap()
}

#[test]
fn a_mirror_serves_index_and_packages_when_the_primary_is_down() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let down = closed_port();
    configure(sandbox, &down, &[&fixture.server.url()]);
    let listed = sandbox.run(&["registry", "list"]);
    assert!(
        listed
            .success()
            .stdout
            .contains(&format!("{down} (mirrors: {})", fixture.server.url())),
        "{}",
        listed.stdout
    );
    let install = sandbox.run(&["install", "--yes", "hello"]);
    install.success();
    // Relative package URLs resolved against the mirror that served the index.
    let requests = fixture.server.requests();
    assert!(
        requests.iter().any(|r| r.path == "/pkgs/hello-1.1.0.psp"),
        "{requests:?}"
    );
    let info = sandbox.run(&["info", "hello"]);
    assert!(
        info.success()
            .stdout
            .contains(&format!("{}pkgs/hello-1.1.0.psp", fixture.server.url())),
        "{}",
        info.stdout
    );
}

#[test]
fn a_mirror_signed_by_another_key_is_refused_and_the_next_one_used() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let forged_directory = sandbox.home().join("forged");
    let forged = copy_of(&fixture.registry, &forged_directory);
    resign(&forged_directory, "intruder", |index| {
        index.serial = Some(99);
    });
    configure(sandbox, &forged.url(), &[&fixture.server.url()]);
    let search = sandbox.run(&["search", "hello"]);
    assert!(
        search.success().stdout.contains("hello"),
        "{}",
        search.stderr
    );
    assert!(
        forged.requests().iter().any(|r| r.path == "/index.acl"),
        "the forged mirror was not asked first"
    );
    // What the forged copy said was not remembered: serial 99 would lock the registry out.
    sandbox.run(&["install", "--yes", "hello"]).success();

    // When every URL fails, the error names each URL and why.
    let down = closed_port();
    configure(sandbox, &down, &[&forged.url()]);
    let search = sandbox.run(&["search", "hello"]);
    search.failure(1);
    let stderr = search.stderr.to_lowercase();
    assert!(
        stderr.contains(&format!("{down}index.acl"))
            && stderr.contains("connect")
            && stderr.contains(&format!("{}index.acl", forged.url()))
            && stderr.contains("not one of the registry's keys"),
        "{}",
        search.stderr
    );
}

#[test]
fn packages_fail_over_to_a_mirror() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let mirror = copy_of(&fixture.registry, &sandbox.home().join("mirror"));
    configure(sandbox, &fixture.server.url(), &[&mirror.url()]);
    // The primary serves the index, but not the package (a partial sync, say).
    fixture
        .server
        .set("/pkgs/hello-1.1.0.psp", Behavior::NotFound);
    // And serves libgreet with other bytes: the signed SHA-256 refuses them, the mirror's pass.
    fixture
        .server
        .set("/pkgs/libgreet-2.0.0.psp", Behavior::WrongBytes);
    let install = sandbox.run(&["install", "--yes", "hello"]);
    install.success();
    let fetched: Vec<String> = mirror.requests().into_iter().map(|r| r.path).collect();
    assert!(
        fetched.contains(&"/pkgs/hello-1.1.0.psp".to_string())
            && fetched.contains(&"/pkgs/libgreet-2.0.0.psp".to_string()),
        "{fetched:?}"
    );
    // The record says where the bytes came from: the mirror, not the primary that failed.
    let info = sandbox.run(&["info", "hello"]);
    assert!(
        info.success()
            .stdout
            .contains(&format!("{}pkgs/hello-1.1.0.psp", mirror.url())),
        "{}",
        info.stdout
    );

    // Nowhere to be had: the error names every URL tried and what each did.
    mirror.set("/pkgs/tool-1.0.0.psp", Behavior::NotFound);
    fixture
        .server
        .set("/pkgs/libgreet-2.0.0.psp", Behavior::Normal);
    sandbox
        .run(&["registry", "set", "fixtures", "--cache-ttl", "0"])
        .success();
    std::fs::remove_file(fixture.registry.join("pkgs/tool-1.0.0.psp")).unwrap();
    publish_tool_without_dependencies(&fixture);
    std::fs::copy(
        fixture.registry.join("pkgs/tool-1.0.0.psp"),
        sandbox.home().join("mirror/pkgs/tool-1.0.0.psp"),
    )
    .unwrap();
    for name in ["index.acl", "index.acl.sig"] {
        std::fs::copy(
            fixture.registry.join(name),
            sandbox.home().join("mirror").join(name),
        )
        .unwrap();
    }
    fixture
        .server
        .set("/pkgs/tool-1.0.0.psp", Behavior::NotFound);
    let install = sandbox.run(&["install", "--yes", "tool"]);
    install.failure(1);
    assert!(
        install.stderr.contains(&format!(
            "{}pkgs/tool-1.0.0.psp (registry `fixtures`): the server answered 404",
            fixture.server.url()
        )) && install.stderr.contains(&format!(
            "{}pkgs/tool-1.0.0.psp (registry `fixtures`): the server answered 404",
            mirror.url()
        )),
        "{}",
        install.stderr
    );
}

/// Replaces the fixture's `tool` (which pins a libgreet nobody has) with one that needs nothing.
/// Re-publishes tool@1.0.0 (its file already removed) with other bytes: the index drops it
/// first, as a published version is never replaced in place.
fn publish_tool_without_dependencies(fixture: &support::registry::Fixture) {
    support::registry::index(&fixture.sandbox, &fixture.registry, &[]);
    support::registry::publish(
        &fixture.sandbox,
        &fixture.registry,
        "tool",
        "1.0.0",
        &[],
        support::ECHO_SCRIPT,
    );
    support::registry::index(&fixture.sandbox, &fixture.registry, &[]);
}

#[test]
fn a_registry_whose_every_url_is_down_is_one_warning_naming_each() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let (first, second) = (closed_port(), closed_port());
    sandbox
        .run(&[
            "registry",
            "add",
            "down",
            &first,
            "--mirror",
            &second,
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
    let warning: Vec<&str> = search
        .stderr
        .lines()
        .filter(|line| line.contains("registry `down`"))
        .collect();
    assert_eq!(warning.len(), 1, "{}", search.stderr);
    assert!(
        warning[0].contains(&format!("{first}index.acl"))
            && warning[0].contains(&format!("{second}index.acl"))
            && warning[0].to_lowercase().matches("connect").count() >= 2,
        "{}",
        search.stderr
    );
}
