//! Metrics: the activity log every install, removal and activation appends to, `pandora
//! metrics`, `pandora registry metrics` over access logs and `pandora metrics --registry`.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use pandora::events::LogLine;
use support::registry::fixture;

fn activity(sandbox: &support::Sandbox) -> Vec<LogLine> {
    support::read(&sandbox.pandora_home().join("log/events.log"))
        .lines()
        .map(|line| LogLine::parse(line).unwrap_or_else(|| panic!("not a log line: {line}")))
        .collect()
}

/// The value column of the `pandora metrics` summary row called `key`.
fn summary<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(key).filter(|rest| rest.starts_with("  ")))
        .unwrap_or_else(|| panic!("no `{key}` in {stdout}"))
        .trim()
}

#[test]
fn installs_removals_and_activations_are_logged_and_counted() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let fresh = sandbox.run(&["metrics"]);
    fresh.success();
    assert_eq!(summary(&fresh.stdout, "installs"), "0");
    assert_eq!(summary(&fresh.stdout, "last activity"), "never");

    sandbox.run(&["install", "--yes", "hello"]).success();
    sandbox.run(&["install", "--yes", "hello"]).success();
    sandbox.run(&["deactivate", "--yes", "hello"]).success();
    sandbox.run(&["rollback", "--yes"]).success();
    sandbox.run(&["remove", "--yes", "hello"]).success();

    let lines = activity(sandbox);
    let events: Vec<&str> = lines.iter().map(|line| line.event.as_str()).collect();
    for expected in ["install", "activate", "rollback", "remove"] {
        assert!(events.contains(&expected), "{expected} in {events:?}");
    }
    assert!(
        !events.contains(&"fetch") && !events.contains(&"command-start"),
        "only activity is kept: {events:?}"
    );
    let first = &lines[0];
    assert_eq!(
        (first.event.as_str(), first.field("id")),
        ("install", Some("libgreet@2.0.0"))
    );

    // A publish line as `pandora publish` writes it (tests/registry_publish.rs runs the real one).
    let publish = pandora::events::Event::new("publish")
        .with("id", "hello@1.2.0")
        .with("registry", "fixtures")
        .with("sha256", "00")
        .line(1_900_000_000);
    let log = sandbox.pandora_home().join("log/events.log");
    let mut text = support::read(&log);
    text.push_str(&publish);
    text.push('\n');
    std::fs::write(&log, text).unwrap();

    let run = sandbox.run(&["metrics"]);
    run.success();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(summary(&run.stdout, "publishes"), "1");
    assert_eq!(
        summary(&run.stdout, "last activity"),
        "2030-03-17T17:46:40Z"
    );
    // hello twice (the second time already there), its dependency once.
    assert_eq!(summary(&run.stdout, "installs"), "3");
    assert_eq!(summary(&run.stdout, "removes"), "1");
    assert_ne!(summary(&run.stdout, "activations"), "0");
    assert_ne!(summary(&run.stdout, "downloads (blobs)"), "0 B");
    let hello = run
        .stdout
        .lines()
        .find(|line| line.starts_with("hello "))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    let columns: Vec<&str> = hello.split_whitespace().collect();
    assert_eq!(
        columns,
        ["hello", "2", "1", "1", "2030-03-17T17:46:40Z"],
        "{hello}"
    );
    assert!(run
        .stdout
        .lines()
        .any(|line| line.split_whitespace().collect::<Vec<_>>()
            == ["PACKAGE", "INSTALLS", "REMOVES", "PUBLISHES", "LAST"]));
}

#[test]
fn an_activity_log_that_cannot_be_written_only_warns() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    // A file where the log's directory would be: nothing can be appended.
    std::fs::create_dir_all(sandbox.pandora_home()).unwrap();
    std::fs::write(sandbox.pandora_home().join("log"), "in the way").unwrap();
    let run = sandbox.run(&["install", "--yes", "hello"]);
    run.success();
    assert_eq!(
        run.stderr
            .matches("the activity log was not written")
            .count(),
        1,
        "one warning for the whole command: {}",
        run.stderr
    );
    assert!(
        sandbox
            .pandora_home()
            .join("store")
            .read_dir()
            .unwrap()
            .count()
            >= 2
    );
}

#[test]
fn concurrent_commands_append_whole_lines() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let children: Vec<_> = (0..6)
        .map(|_| {
            sandbox
                .command(&["install", "--yes", "hello"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let lines = activity(sandbox);
    let hello = lines
        .iter()
        .filter(|line| line.event == "install" && line.field("id") == Some("hello@1.1.0"))
        .count();
    assert_eq!(hello, 7);
}

fn nginx_line(address: &str, time: &str, request: &str, status: u16) -> String {
    format!(
        "{address} - - [01/Dec/2026:{time} +0000] \"{request}\" {status} 100 \"-\" \"pandora\"\n"
    )
}

#[test]
fn registry_metrics_are_signed_published_and_shown() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let registry = &fixture.registry;
    let missing = sandbox.run(&["metrics", "--registry", "fixtures"]);
    missing.success();
    assert!(
        missing.stderr.contains("publishes no metrics.acl")
            && missing.stderr.contains("pandora registry metrics"),
        "{}",
        missing.stderr
    );
    assert!(missing.stdout.is_empty());

    let log = sandbox.home().join("access.log");
    let mut text = String::new();
    text += &nginx_line(
        "10.0.0.1",
        "10:00:00",
        "GET /pkgs/hello-1.1.0.psp HTTP/1.1",
        200,
    );
    text += &nginx_line(
        "10.0.0.1",
        "10:00:01",
        "GET /pkgs/hello-1.1.0.psp HTTP/1.1",
        206,
    );
    text += &nginx_line(
        "10.0.0.2",
        "10:00:02",
        "GET /pkgs/hello-1.1.0.psp HTTP/1.1",
        200,
    );
    text += &nginx_line(
        "10.0.0.2",
        "10:00:03",
        "GET /pkgs/libgreet-2.0.0.psp HTTP/1.1",
        200,
    );
    text += &nginx_line("10.0.0.2", "10:00:04", "GET /index.acl HTTP/1.1", 200);
    text += "this is not a log line\n\u{1b}[31m\"[\n";
    // A line far too long to be one, and bytes that are not text.
    text += &"x".repeat(200_000);
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe\x00 - - [\n");
    std::fs::write(&log, bytes).unwrap();
    let log = log.to_str().unwrap();
    let directory = registry.to_str().unwrap();

    let unindexed = sandbox.home().join("empty");
    std::fs::create_dir_all(&unindexed).unwrap();
    let refused = sandbox.run(&[
        "registry",
        "metrics",
        unindexed.to_str().unwrap(),
        "--access-log",
        log,
        "--key-seed",
        "registry",
    ]);
    refused.failure(1);
    assert!(
        refused.stderr.contains("has no index.acl")
            && refused.stderr.contains("hint: index it first"),
        "{}",
        refused.stderr
    );

    std::fs::write(unindexed.join("index.acl"), "Registry {").unwrap();
    let invalid = sandbox.run(&[
        "registry",
        "metrics",
        unindexed.to_str().unwrap(),
        "--access-log",
        log,
        "--key-seed",
        "registry",
    ]);
    invalid.failure(1);
    assert!(
        invalid.stderr.contains("is not a valid index")
            && invalid.stderr.contains("hint: write it again"),
        "{}",
        invalid.stderr
    );

    let wrong = sandbox.run(&[
        "registry",
        "metrics",
        directory,
        "--access-log",
        log,
        "--key-seed",
        "someone",
    ]);
    wrong.failure(1);
    assert!(
        wrong.stderr.contains("not by the key given"),
        "{}",
        wrong.stderr
    );
    assert!(!registry.join("metrics.acl").exists());

    let written = sandbox.run(&[
        "registry",
        "metrics",
        directory,
        "--access-log",
        log,
        "--key-seed",
        "registry",
    ]);
    written.success();
    assert_eq!(
        written.stdout.trim(),
        registry.join("metrics.acl").to_str().unwrap()
    );
    assert_eq!(
        written.stderr.matches("warning:").count(),
        1,
        "one warning for the skipped lines: {}",
        written.stderr
    );
    assert!(written.stderr.contains("4 of 9"), "{}", written.stderr);
    assert!(
        written.stderr.contains("3 download(s)"),
        "{}",
        written.stderr
    );

    // An empty log (just rotated) or one in no known format leaves the counts as they are.
    let counted = std::fs::read(registry.join("metrics.acl")).unwrap();
    let empty = sandbox.home().join("rotated.log");
    std::fs::write(&empty, "").unwrap();
    let junk = sandbox.home().join("junk.log");
    std::fs::write(&junk, "not a log line\n\x00\x01\n").unwrap();
    for log in [&empty, &junk] {
        let refused = sandbox.run(&[
            "registry",
            "metrics",
            directory,
            "--access-log",
            log.to_str().unwrap(),
            "--key-seed",
            "registry",
        ]);
        refused.failure(1);
        assert!(
            refused.stderr.contains("is an access-log line")
                && refused.stderr.contains("was left as it was"),
            "{}",
            refused.stderr
        );
        assert_eq!(
            std::fs::read(registry.join("metrics.acl")).unwrap(),
            counted
        );
    }

    // The same log rotated and gzipped counts the same.
    let gzipped = sandbox.home().join("access.log.2.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &std::fs::read(log).unwrap()).unwrap();
    std::fs::write(&gzipped, encoder.finish().unwrap()).unwrap();
    let again = sandbox.run(&[
        "registry",
        "metrics",
        directory,
        "--access-log",
        gzipped.to_str().unwrap(),
        "--key-seed",
        "registry",
    ]);
    again.success();
    assert!(
        again.stderr.contains("4 of 9") && again.stderr.contains("3 download(s)"),
        "{}",
        again.stderr
    );

    let shown = sandbox.run(&["metrics", "--registry", "fixtures"]);
    shown.success();
    let row = |prefix: &str| -> Vec<String> {
        shown
            .stdout
            .lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {}", shown.stdout))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("hello "), ["hello", "2", "1", "-"]);
    assert_eq!(row("  hello@1.1.0"), ["hello@1.1.0", "2"]);
    assert_eq!(row("libgreet "), ["libgreet", "1", "1", "-"]);
    assert_eq!(row("tool "), ["tool", "0", "1", "-"]);
    assert!(
        shown.stderr.contains("2026-12-01T10:00:00Z"),
        "{}",
        shown.stderr
    );

    // The page was written again with the counts.
    let data: serde_json::Value =
        serde_json::from_str(&support::read(&registry.join("index-data.json"))).unwrap();
    let hello = data["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row[0] == "hello")
        .unwrap();
    assert_eq!(hello[4], 2);

    // The same over the file transport: a registry configured as a directory.
    sandbox
        .run(&[
            "registry",
            "add",
            "local",
            directory,
            "--key",
            &support::registry::key("registry"),
        ])
        .success();
    let local = sandbox.run(&["metrics", "--registry", "local"]);
    local.success();
    assert_eq!(local.stdout, shown.stdout);

    // Tampered with on the server: refused, with the registry named.
    let metrics = registry.join("metrics.acl");
    let tampered = support::read(&metrics).replace("downloads = 2;", "downloads = 2000;");
    std::fs::write(&metrics, tampered).unwrap();
    let refused = sandbox.run(&["metrics", "--registry", "fixtures"]);
    refused.failure(1);
    assert!(
        refused.stderr.contains("registry `fixtures`") && refused.stderr.contains("signature"),
        "{}",
        refused.stderr
    );
}

#[test]
fn registry_index_writes_a_page_beside_the_index() {
    let fixture = fixture();
    let registry = &fixture.registry;
    let page = support::read(&registry.join("index.html"));
    assert!(page.contains("<title>fixtures — Pandora registry</title>"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "nothing external"
    );
    let data: serde_json::Value =
        serde_json::from_str(&support::read(&registry.join("index-data.json"))).unwrap();
    let names: Vec<&str> = data["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hello", "libgreet", "tool"]);
    let shard: serde_json::Value =
        serde_json::from_str(&support::read(&registry.join("index-data/h.json"))).unwrap();
    let version = &shard["hello"][0];
    assert_eq!(version["version"], "1.1.0");
    assert_eq!(version["dependencies"][0], "libgreet@2.0.0");
    assert!(version["signer"].as_str().unwrap().starts_with("sha256:"));
    assert!(data["signer"].as_str().unwrap().starts_with("sha256:"));

    // Indexed again: a shard no package needs any more goes, files of others stay.
    std::fs::write(registry.join("index-data/z.json"), "{}").unwrap();
    std::fs::write(registry.join("index-data/README"), "mine").unwrap();
    support::registry::index(&fixture.sandbox, registry, &[]);
    assert!(!registry.join("index-data/z.json").exists());
    assert_eq!(support::read(&registry.join("index-data/README")), "mine");
}

#[test]
fn an_index_html_pandora_did_not_write_is_left_alone() {
    let fixture = fixture();
    let registry = &fixture.registry;
    std::fs::write(registry.join("index.html"), "<h1>my own page</h1>").unwrap();
    let run = fixture.sandbox.run(&[
        "registry",
        "index",
        registry.to_str().unwrap(),
        "--key-seed",
        "registry",
    ]);
    run.success();
    assert!(
        run.stderr.contains("was not written by Pandora") && run.stderr.contains("hint:"),
        "{}",
        run.stderr
    );
    assert_eq!(
        support::read(&registry.join("index.html")),
        "<h1>my own page</h1>"
    );
}
