//! The machine-readable log (`--log FILE`, `PANDORA_LOG`): one `TIME EVENT key=value ...` line
//! per event, appended whole; and `-v`, which shows the same events in words on stderr.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::registry::fixture;

/// One parsed log line.
#[derive(Debug)]
struct Line {
    time: String,
    event: String,
    fields: BTreeMap<String, String>,
}

/// Parses a value as README's "Log format" describes: bare up to a space, or quoted with
/// `\"`, `\\`, `\n`, `\r`, `\t`, `\u{XXXX}` escapes.
fn parse_line(line: &str) -> Line {
    let mut rest = line;
    let mut word = || {
        let end = rest.find(' ').unwrap_or(rest.len());
        let word = rest[..end].to_string();
        rest = rest[end..].trim_start_matches(' ');
        word
    };
    let time = word();
    let event = word();
    let mut fields = BTreeMap::new();
    while !rest.is_empty() {
        let equals = rest.find('=').unwrap_or_else(|| panic!("no `=` in {line}"));
        let key = rest[..equals].to_string();
        assert!(
            key.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{key} in {line}"
        );
        rest = &rest[equals + 1..];
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                let (at, c) = chars
                    .next()
                    .unwrap_or_else(|| panic!("unterminated: {line}"));
                match c {
                    '"' => break at + 1,
                    '\\' => match chars.next().unwrap().1 {
                        'n' => value.push('\n'),
                        'r' => value.push('\r'),
                        't' => value.push('\t'),
                        'u' => {
                            let hex: String = chars
                                .by_ref()
                                .map(|(_, c)| c)
                                .skip(1)
                                .take_while(|c| *c != '}')
                                .collect();
                            value.push(
                                char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap(),
                            );
                        }
                        other => value.push(other),
                    },
                    c => value.push(c),
                }
            };
            rest = &quoted[end..];
            value
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let value = rest[..end].to_string();
            assert!(!value.contains('"') && !value.contains('='), "{line}");
            rest = &rest[end..];
            value
        };
        rest = rest.trim_start_matches(' ');
        fields.insert(key, value);
    }
    Line {
        time,
        event,
        fields,
    }
}

fn read_log(path: &Path) -> Vec<Line> {
    support::read(path).lines().map(parse_line).collect()
}

#[test]
fn install_writes_every_event_to_the_log() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let log = sandbox.home().join("events.log");
    let run = sandbox.run(&["--log", log.to_str().unwrap(), "install", "--yes", "hello"]);
    run.success();
    let lines = read_log(&log);
    for line in &lines {
        // 2025-06-01T12:00:00Z
        assert_eq!(line.time.len(), 20, "{line:?}");
        assert!(
            line.time.ends_with('Z') && line.time.as_bytes()[10] == b'T',
            "{line:?}"
        );
    }
    let events: Vec<&str> = lines.iter().map(|line| line.event.as_str()).collect();
    assert_eq!(events.first(), Some(&"command-start"), "{events:?}");
    assert_eq!(events.last(), Some(&"command-end"), "{events:?}");
    let start = &lines[0].fields;
    assert_eq!(start["command"], "install");
    assert!(start["args"].ends_with("install --yes hello"), "{start:?}");
    let end = &lines.last().unwrap().fields;
    assert_eq!(end["exit"], "0");

    let fetch = lines.iter().find(|line| line.event == "fetch").unwrap();
    assert_eq!(fetch.fields["registry"], "fixtures");
    assert_eq!(fetch.fields["status"], "fetched");
    assert!(fetch.fields["url"].ends_with("index.acl"), "{fetch:?}");

    let downloads: Vec<&Line> = lines
        .iter()
        .filter(|line| line.event == "download")
        .collect();
    let ids: Vec<&str> = downloads
        .iter()
        .map(|line| line.fields["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"hello@1.1.0") && ids.contains(&"libgreet@2.0.0"));
    // `bytes` is what travelled: only what follows the launcher the two start with, which
    // is the one beside this `pandora` (never downloaded).
    let mut whole = 0;
    for download in &downloads {
        assert_eq!(download.fields["status"], "ok");
        assert_eq!(download.fields["sha256"].len(), 64);
        let blob = sandbox
            .pandora_home()
            .join("blobs")
            .join(&download.fields["sha256"]);
        let size = std::fs::metadata(&blob).unwrap().len();
        let bytes: u64 = download.fields["bytes"].parse().unwrap();
        assert!(bytes <= size && bytes > 0, "{download:?}");
        whole += usize::from(bytes == size);
    }
    assert_eq!(whole, 0, "{downloads:?}");
    let stored: Vec<&str> = lines
        .iter()
        .filter(|line| line.event == "store-commit")
        .map(|line| line.fields["id"].as_str())
        .collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    let activate = lines.iter().find(|line| line.event == "activate").unwrap();
    assert_eq!(activate.fields["profile"], "default");
    assert_eq!(activate.fields["generation"], "1");
    assert!(activate.fields["added"].contains("hello@1.1.0"));
    assert_eq!(activate.fields["removed"], "");

    // A second run through PANDORA_LOG appends: the index is asked again (no cache TTL) and
    // the failing command logs its error and exit code.
    let again = sandbox.run_with(&["install", "--yes", "no-such-package"], |command| {
        command.env("PANDORA_LOG", &log);
    });
    again.failure(1);
    let all = read_log(&log);
    assert!(all.len() > lines.len());
    let tail = &all[lines.len()..];
    assert_eq!(tail[0].event, "command-start");
    assert!(tail.iter().any(|line| line.event == "fetch"));
    let error = tail.iter().find(|line| line.event == "error").unwrap();
    assert!(
        error.fields["message"].contains("no-such-package"),
        "{error:?}"
    );
    assert_eq!(tail.last().unwrap().fields["exit"], "1");

    // remove and prune are logged too.
    sandbox
        .run(&["--log", log.to_str().unwrap(), "remove", "--yes", "hello"])
        .success();
    sandbox
        .run(&["--log", log.to_str().unwrap(), "prune"])
        .success();
    let all = read_log(&log);
    assert!(all
        .iter()
        .any(|line| line.event == "remove" && line.fields["id"] == "hello@1.1.0"));
    let prune = all.iter().find(|line| line.event == "prune").unwrap();
    assert!(
        prune.fields["bytes"].parse::<u64>().unwrap() > 0,
        "{prune:?}"
    );
}

#[test]
fn a_failed_fetch_is_logged_with_its_cause() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox
        .run(&[
            "registry",
            "add",
            "dead",
            "http://127.0.0.1:9/",
            "--priority",
            "500",
        ])
        .success();
    let log = sandbox.home().join("events.log");
    sandbox
        .run(&["--log", log.to_str().unwrap(), "search", "hello"])
        .success();
    let lines = read_log(&log);
    let dead = lines
        .iter()
        .find(|line| line.event == "fetch" && line.fields["registry"] == "dead")
        .unwrap();
    assert_eq!(dead.fields["status"], "failed");
    assert!(!dead.fields["cause"].is_empty());
    assert!(lines
        .iter()
        .any(|line| line.event == "fetch" && line.fields["status"] == "fetched"));
}

#[test]
fn verbose_shows_the_events_in_words_on_stderr_only() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let quiet = sandbox.run(&["search", "hello"]);
    quiet.success();
    let verbose = sandbox.run(&["-v", "search", "hello"]);
    verbose.success();
    // The data is the same; the events went to stderr.
    assert_eq!(quiet.stdout, verbose.stdout);
    assert!(
        verbose
            .stderr
            .contains("index of registry `fixtures` from http://")
            && verbose
                .stderr
                .contains("not modified since the last fetch: the cached copy is used"),
        "{}",
        verbose.stderr
    );
    assert!(
        !quiet.stderr.contains("index of registry"),
        "{}",
        quiet.stderr
    );
    let install = sandbox.run(&["-v", "install", "--yes", "hello"]);
    install.success();
    assert!(
        install
            .stderr
            .contains("downloaded hello@1.1.0 from http://"),
        "{}",
        install.stderr
    );
    assert!(install
        .stderr
        .contains("profile `default` is now generation 1"));
    assert!(
        install.stderr.contains("installed hello@1.1.0\n")
            && install
                .stderr
                .contains("installed libgreet@2.0.0 as a dependency"),
        "{}",
        install.stderr
    );
    assert!(!install.stdout.contains("downloaded"));
}

#[test]
fn concurrent_runs_interleave_whole_lines() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let log = sandbox.home().join("events.log");
    let children: Vec<std::process::Child> = (0..6)
        .map(|_| {
            sandbox
                .command(&["--log", log.to_str().unwrap(), "search", "hello"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let lines = read_log(&log);
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.event == "command-start")
            .count(),
        6
    );
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.event == "command-end")
            .count(),
        6
    );
}

#[test]
fn rollback_and_switch_are_logged() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let log = sandbox.home().join("events.log");
    let logged = |args: &[&str]| {
        let mut all = vec!["--log", log.to_str().unwrap()];
        all.extend_from_slice(args);
        sandbox.run(&all).success();
    };
    logged(&["install", "--yes", "hello"]);
    logged(&["deactivate", "hello"]);
    logged(&["rollback"]);
    logged(&["profile", "create", "other"]);
    logged(&["profile", "switch", "other"]);
    let lines = read_log(&log);
    let rollback = lines
        .iter()
        .find(|line| line.event == "rollback")
        .expect("a rollback event");
    assert_eq!(rollback.fields["profile"], "default");
    assert_eq!(rollback.fields["from"], "2");
    assert_eq!(rollback.fields["generation"], "1");
    let switch = lines
        .iter()
        .find(|line| line.event == "switch")
        .expect("a switch event");
    assert_eq!(switch.fields["from"], "default");
    assert_eq!(switch.fields["profile"], "other");
    let fetch = lines.iter().find(|line| line.event == "fetch").unwrap();
    assert!(fetch.fields["serial"].parse::<u64>().is_ok(), "{fetch:?}");
}
