//! The compact form of cached registry indexes: used only when authentic and made from the
//! verified index the cache names, rebuilt from the verified ACL otherwise, and giving the same
//! answers as the ACL.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use pandora::format::signing::SigningKey;
use pandora::registry::client::{self, Freshness, IndexError, IndexLimits, RegistrySource};
use pandora::registry::compact;
use pandora::registry::download::{DownloadPolicy, Downloader};
use pandora::registry::index::RegistryIndex;
use pandora::registry::publish::now;
use support::registry::{fixture, resign};
use support::{package_source, Sandbox, ECHO_SCRIPT};

/// A file:// registry with `hello` and `libgreet`, signed with the seed `registry`.
fn registry(sandbox: &Sandbox) -> PathBuf {
    let directory = sandbox.home().join("registry");
    for (name, version) in [("hello", "1.0.0"), ("libgreet", "2.0.0")] {
        let source = sandbox.home().join(format!("src-{name}"));
        package_source(
            &source,
            name,
            version,
            Some("bin/run"),
            &[("bin/run", ECHO_SCRIPT)],
        );
        sandbox
            .build(
                &source,
                &directory.join(format!("{name}-{version}.psp")),
                "pkg",
                &[],
            )
            .success();
    }
    sandbox
        .run(&[
            "registry",
            "index",
            directory.to_str().unwrap(),
            "--key-seed",
            "registry",
        ])
        .success();
    directory
}

fn source(directory: &Path) -> RegistrySource {
    RegistrySource {
        name: "fixtures".into(),
        url: url::Url::from_directory_path(directory).unwrap(),
        keys: vec![SigningKey::from_seed("registry").public_key()],
        mirrors: Vec::new(),
        require_signatures: true,
        ttl: Duration::from_secs(3600),
    }
}

fn load(
    source: &RegistrySource,
    cache: &Path,
    freshness: Freshness,
    now: i64,
) -> Result<RegistryIndex, IndexError> {
    let downloader = Downloader::new(DownloadPolicy::default()).unwrap();
    client::load(
        &downloader,
        source,
        cache,
        freshness,
        now,
        &IndexLimits::default(),
    )
    .map(|loaded| loaded.index)
}

fn compact_file(cache: &Path) -> PathBuf {
    compact::path(&client::cache_directory(cache, "fixtures"))
}

/// Everything a command can ask an index, as plain values.
fn answers(index: &RegistryIndex) -> Vec<String> {
    let mut answers = vec![format!(
        "{} {:?} {:?} {} {}",
        index.name,
        index.serial,
        index.expires,
        index.priority,
        index.package_count()
    )];
    answers.extend(
        index
            .packages()
            .iter()
            .map(|package| format!("{package:?}")),
    );
    for term in ["hello", "GREET", "1.0", "nothing-matches"] {
        let found: Vec<&str> = index
            .search(term)
            .iter()
            .map(|package| package.name.as_str())
            .collect();
        answers.push(format!("search {term}: {found:?}"));
    }
    for name in ["hello", "libgreet", "absent"] {
        answers.push(format!("{name}: {:?}", index.package(name)));
    }
    answers
}

#[test]
fn the_compact_index_gives_the_answers_of_the_verified_acl() {
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox);
    let cache = sandbox.home().join("cache");
    let source = source(&directory);
    let fetched = load(&source, &cache, Freshness::Refresh, now()).unwrap();
    assert!(
        fetched.compact.is_none(),
        "a fetched index is the parsed ACL"
    );
    assert!(
        compact_file(&cache).is_file(),
        "fetching writes the compact form"
    );
    let cached = load(&source, &cache, Freshness::Cached, now()).unwrap();
    assert!(
        cached.compact.is_some(),
        "the cache is read from its compact form"
    );
    assert_eq!(answers(&cached), answers(&fetched));
    let offline = load(&source, &cache, Freshness::Offline, now()).unwrap();
    assert!(offline.compact.is_some());
    assert_eq!(answers(&offline), answers(&fetched));
}

#[test]
fn a_tampered_compact_index_is_detected_and_rebuilt() {
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox);
    let cache = sandbox.home().join("cache");
    let source = source(&directory);
    let fetched = load(&source, &cache, Freshness::Refresh, now()).unwrap();
    let path = compact_file(&cache);
    let good = std::fs::read(&path).unwrap();
    let hello = format!("{:?}", fetched.package("hello").unwrap());

    // A package's bytes changed (its version's URL), header and table left alone: opening
    // succeeds, reading the package does not, and the verified ACL answers instead.
    let mut bytes = good.clone();
    let at = find(&bytes, b"hello-1.0.0.psp");
    bytes[at] = b'j';
    std::fs::write(&path, &bytes).unwrap();
    let index = load(&source, &cache, Freshness::Cached, now()).unwrap();
    assert!(index.compact.is_some());
    assert_eq!(format!("{:?}", index.package("hello").unwrap()), hello);
    assert_eq!(answers(&index), answers(&fetched));
    assert_eq!(std::fs::read(&path).unwrap(), good, "rebuilt from the ACL");

    // The search text, the header and a forged file under another key: never opened.
    let key_path = compact::key_path(&cache);
    type Change = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "search text",
            Box::new(|bytes: &mut Vec<u8>| {
                // The first occurrence is in the text section (bodies come last).
                let at = find_first(bytes, b"libgreet");
                bytes[at] = b'x';
            }),
        ),
        ("header", Box::new(|bytes: &mut Vec<u8>| bytes[100] ^= 1)),
        (
            "truncated",
            Box::new(|bytes: &mut Vec<u8>| bytes.truncate(bytes.len() - 1)),
        ),
        ("magic", Box::new(|bytes: &mut Vec<u8>| bytes[0] = b'X')),
    ];
    for (what, change) in cases {
        let mut bytes = good.clone();
        change(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let index = load(&source, &cache, Freshness::Cached, now()).unwrap();
        assert!(index.compact.is_none(), "{what}: not used");
        assert_eq!(answers(&index), answers(&fetched), "{what}");
        assert_eq!(std::fs::read(&path).unwrap(), good, "{what}: rebuilt");
    }

    // Written under a key this home does not hold (the key replaced): refused, then rebuilt
    // under the new key.
    std::fs::write(&key_path, [7u8; 32]).unwrap();
    let index = load(&source, &cache, Freshness::Cached, now()).unwrap();
    assert!(index.compact.is_none());
    let rebuilt = std::fs::read(&path).unwrap();
    assert_ne!(rebuilt, good, "authenticated under the new key");
    let index = load(&source, &cache, Freshness::Cached, now()).unwrap();
    assert!(index.compact.is_some());
    assert_eq!(answers(&index), answers(&fetched));
}

#[test]
fn a_compact_index_of_another_index_is_ignored() {
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox);
    let cache = sandbox.home().join("cache");
    let source = source(&directory);
    load(&source, &cache, Freshness::Refresh, now()).unwrap();
    let path = compact_file(&cache);
    let old = std::fs::read(&path).unwrap();
    // A newer index: libgreet gone.
    resign(&directory, "registry", |index| {
        index.serial = Some(index.serial.unwrap() + 1);
        index.packages.retain(|package| package.name != "libgreet");
    });
    let fetched = load(&source, &cache, Freshness::Refresh, now()).unwrap();
    assert_eq!(fetched.package_count(), 1);
    // The compact form of the older index put back: authentic, but of another index.
    std::fs::write(&path, &old).unwrap();
    let index = load(&source, &cache, Freshness::Cached, now()).unwrap();
    assert!(
        index.compact.is_none(),
        "another index's compact form is not used"
    );
    assert_eq!(answers(&index), answers(&fetched));
    assert!(index.package("libgreet").is_none());
    assert_ne!(std::fs::read(&path).unwrap(), old, "rebuilt");
    // Under other keys (the registry's keys changed): not used either.
    let mut rotated = source;
    rotated
        .keys
        .push(SigningKey::from_seed("other").public_key());
    let index = load(&rotated, &cache, Freshness::Refresh, now()).unwrap();
    assert!(index.compact.is_none());
}

#[test]
fn expiry_and_rollback_are_checked_on_the_compact_index_too() {
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox);
    let cache = sandbox.home().join("cache");
    let source = source(&directory);
    let fetched = load(&source, &cache, Freshness::Refresh, now()).unwrap();
    let expires = fetched.expires.unwrap();
    match load(&source, &cache, Freshness::Offline, expires + 1) {
        Err(IndexError::Expired { .. }) => {}
        other => panic!("expected an expiry, got {other:?}"),
    }
    // A higher serial seen since (the cache's state says so): the cached index is a rollback.
    let state = client::cache_directory(&cache, "fixtures").join("state.acl");
    let text = std::fs::read_to_string(&state).unwrap();
    let serial = fetched.serial.unwrap();
    std::fs::write(
        &state,
        text.replace(
            &format!("max_serial = {serial};"),
            &format!("max_serial = {};", serial + 5),
        ),
    )
    .unwrap();
    assert!(compact_file(&cache).is_file());
    match load(&source, &cache, Freshness::Offline, now()) {
        Err(IndexError::Rollback { seen, .. }) => assert_eq!(seen, serial + 5),
        other => panic!("expected a rollback, got {other:?}"),
    }
}

#[test]
fn a_cache_written_before_compact_indexes_still_works() {
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox);
    let cache = sandbox.home().join("cache");
    let source = source(&directory);
    let fetched = load(&source, &cache, Freshness::Refresh, now()).unwrap();
    // What an older Pandora left: no compact file, no digest in the state.
    std::fs::remove_file(compact_file(&cache)).unwrap();
    let state = client::cache_directory(&cache, "fixtures").join("state.acl");
    let text = std::fs::read_to_string(&state).unwrap();
    let without: String = text
        .lines()
        .filter(|line| !line.contains("index_sha256"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&state, without).unwrap();
    let index = load(&source, &cache, Freshness::Cached, now()).unwrap();
    assert!(index.compact.is_none());
    assert_eq!(answers(&index), answers(&fetched));
    let index = load(&source, &cache, Freshness::Cached, now()).unwrap();
    assert!(
        index.compact.is_some(),
        "the compact form was written on first use"
    );
    assert_eq!(answers(&index), answers(&fetched));
}

#[test]
fn search_info_and_install_print_the_same_from_the_compact_index() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    // A TTL: the commands after the first read the cache.
    sandbox
        .run(&["registry", "set", "fixtures", "--cache-ttl", "3600"])
        .success();
    let cache = sandbox.pandora_home().join("cache");
    let path = compact_file(&cache);
    let commands: [&[&str]; 4] = [
        &["search", "greet"],
        &["info", "hello"],
        &["list", "--remote"],
        &["graph", "hello"],
    ];
    let outputs = |label: &str| -> Vec<String> {
        commands
            .iter()
            .map(|args| {
                // The slow path: no compact form, so the ACL is verified and parsed.
                let _ = std::fs::remove_file(&path);
                let slow = sandbox.run(args).success().stdout.clone();
                assert!(!slow.is_empty(), "{label} {args:?}");
                // (`graph` of what is installed reads no index.)
                if args[0] != "graph" || label == "before install" {
                    assert!(
                        path.is_file(),
                        "{label} {args:?}: the compact form was written"
                    );
                }
                let fast = sandbox.run(args).success().stdout.clone();
                assert_eq!(fast, slow, "{label} {args:?}");
                fast
            })
            .collect()
    };
    let before = outputs("before install");
    assert!(before[0].contains("libgreet"), "{}", before[0]);
    sandbox.run(&["install", "--yes", "hello"]).success();
    let installed = sandbox.pandora_home().join("store");
    assert!(installed.join("hello@1.1.0").is_dir());
    outputs("after install");
    // Installing again from the compact index resolves to what is there.
    let again = sandbox
        .run(&["install", "--yes", "hello"])
        .success()
        .stderr
        .clone();
    let _ = std::fs::remove_file(&path);
    let slow = sandbox
        .run(&["install", "--yes", "hello"])
        .success()
        .stderr
        .clone();
    // The elapsed time at the end of the summary differs from run to run.
    let untimed = |text: &str| -> Vec<String> {
        text.lines()
            .map(|line| line.split(" in ").next().unwrap_or(line).to_string())
            .collect()
    };
    assert_eq!(untimed(&again), untimed(&slow));
}

fn find_first(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .unwrap_or_else(|| panic!("{} not found", String::from_utf8_lossy(needle)))
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
        .unwrap_or_else(|| panic!("{} not found", String::from_utf8_lossy(needle)))
}
