//! Fetching and trusting registry indexes over HTTP (a real server on 127.0.0.1) and file://.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use pandora::format::signing::SigningKey;
use pandora::registry::client::{load_index, IndexError, RegistrySource};
use pandora::registry::download::{DownloadPolicy, Downloader};
use pandora::registry::publish::now;
use registry_fixtures::server::FixtureServer;
use support::{package_source, Sandbox, ECHO_SCRIPT};

/// A registry directory with one package, indexed with the seed `registry`.
fn registry(sandbox: &Sandbox, extra: &[&str]) -> PathBuf {
    let directory = sandbox.home().join("registry");
    let source = sandbox.home().join("src");
    if !source.exists() {
        package_source(
            &source,
            "hello",
            "1.0.0",
            Some("bin/run"),
            &[("bin/run", ECHO_SCRIPT)],
        );
        sandbox
            .build(&source, &directory.join("hello-1.0.0.psp"), "pkg", &[])
            .success();
    }
    let mut args = vec![
        "registry",
        "index",
        directory.to_str().unwrap(),
        "--key-seed",
        "registry",
    ];
    args.extend_from_slice(extra);
    sandbox.run(&args).success();
    directory
}

fn source(url: &str, keys: &[&str], ttl: u64) -> RegistrySource {
    RegistrySource {
        name: "fixtures".into(),
        url: url::Url::parse(url).unwrap(),
        keys: keys
            .iter()
            .map(|seed| SigningKey::from_seed(seed).public_key())
            .collect(),
        mirrors: Vec::new(),
        require_signatures: false,
        ttl: Duration::from_secs(ttl),
    }
}

fn downloader() -> Downloader {
    Downloader::new(DownloadPolicy {
        attempts: 1,
        ..DownloadPolicy::default()
    })
    .unwrap()
}

fn index_requests(server: &FixtureServer) -> Vec<Option<String>> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/index.acl")
        .map(|r| r.if_none_match)
        .collect()
}

#[test]
fn fetches_caches_and_revalidates() {
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox, &[]);
    let server = FixtureServer::start(&directory).unwrap();
    let cache = sandbox.home().join("cache");
    let downloader = downloader();
    let fresh = source(&server.url(), &["registry"], 3600);
    let index = load_index(&downloader, &fresh, &cache, false, now()).unwrap();
    assert_eq!(index.package("hello").unwrap().latest, "1.0.0");
    // Within the TTL: no request.
    load_index(&downloader, &fresh, &cache, false, now()).unwrap();
    assert_eq!(index_requests(&server).len(), 1);
    // Past it: a conditional request, answered 304.
    let stale = source(&server.url(), &["registry"], 0);
    load_index(&downloader, &stale, &cache, false, now()).unwrap();
    let requests = index_requests(&server);
    assert_eq!(requests.len(), 2);
    assert!(requests[1].is_some(), "If-None-Match was sent");
    // Offline: only the cache.
    drop(server);
    load_index(&downloader, &stale, &cache, true, now()).unwrap();
    let error = load_index(
        &downloader,
        &stale,
        &sandbox.home().join("empty-cache"),
        true,
        now(),
    )
    .unwrap_err();
    assert!(matches!(error, IndexError::NotCached { .. }), "{error}");
}

#[test]
fn file_registries_work_the_same() {
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox, &[]);
    let url = url::Url::from_directory_path(&directory).unwrap();
    let index = load_index(
        &downloader(),
        &source(url.as_str(), &["registry"], 0),
        &sandbox.home().join("cache"),
        false,
        now(),
    )
    .unwrap();
    assert_eq!(index.packages.len(), 1);
}

fn expect(result: Result<pandora::registry::index::RegistryIndex, IndexError>, message: &str) {
    match result {
        Ok(_) => panic!("expected `{message}`"),
        Err(error) => assert!(
            error.to_string().contains(message),
            "expected `{message}`, got `{error}`"
        ),
    }
}

#[test]
fn untrusted_indexes_are_refused() {
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox, &[]);
    let server = FixtureServer::start(&directory).unwrap();
    let cache = |name: &str| sandbox.home().join(format!("cache-{name}"));
    let downloader = downloader();
    // Signed by a key the registry is not configured with.
    expect(
        load_index(
            &downloader,
            &source(&server.url(), &["someone-else"], 0),
            &cache("key"),
            false,
            now(),
        ),
        "which is not one of the registry's keys",
    );
    // Tampered after signing.
    let index_path = directory.join("index.acl");
    let original = std::fs::read_to_string(&index_path).unwrap();
    std::fs::write(&index_path, format!("{original}// an extra line\n")).unwrap();
    expect(
        load_index(
            &downloader,
            &source(&server.url(), &["registry"], 0),
            &cache("tampered"),
            false,
            now(),
        ),
        "does not match its contents",
    );
    std::fs::write(&index_path, &original).unwrap();
    // Not signed at all.
    let signature = directory.join("index.acl.sig");
    let saved = std::fs::read(&signature).unwrap();
    std::fs::remove_file(&signature).unwrap();
    expect(
        load_index(
            &downloader,
            &source(&server.url(), &["registry"], 0),
            &cache("unsigned"),
            false,
            now(),
        ),
        "is not signed",
    );
    // Without keys configured, an unsigned index is accepted.
    load_index(
        &downloader,
        &source(&server.url(), &[], 0),
        &cache("keyless"),
        false,
        now(),
    )
    .unwrap();
    std::fs::write(&signature, saved).unwrap();
    // A tampered cache is caught when it is used.
    let trusting = source(&server.url(), &["registry"], 3600);
    load_index(&downloader, &trusting, &cache("cached"), false, now()).unwrap();
    let cached = cache("cached").join("registries/fixtures/index.acl");
    std::fs::write(
        &cached,
        std::fs::read_to_string(&cached)
            .unwrap()
            .replace("1.0.0", "6.6.6"),
    )
    .unwrap();
    // The compact form made from the verified index answers, never the tampered text ...
    let index = load_index(&downloader, &trusting, &cache("cached"), false, now()).unwrap();
    assert_eq!(index.package("hello").unwrap().latest, "1.0.0");
    // ... and without it the tampered index itself is checked, and refused.
    std::fs::remove_file(cache("cached").join("registries/fixtures/index.compact")).unwrap();
    expect(
        load_index(&downloader, &trusting, &cache("cached"), false, now()),
        "does not match its contents",
    );
}

fn copy(directory: &Path, suffix: &str) {
    for name in ["index.acl", "index.acl.sig"] {
        std::fs::copy(
            directory.join(name),
            directory.join(format!("{name}{suffix}")),
        )
        .unwrap();
    }
}

fn restore(directory: &Path, suffix: &str) {
    for name in ["index.acl", "index.acl.sig"] {
        std::fs::copy(
            directory.join(format!("{name}{suffix}")),
            directory.join(name),
        )
        .unwrap();
    }
}

#[test]
fn rollback_and_freeze_are_refused() {
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox, &[]);
    copy(&directory, ".serial1");
    registry(&sandbox, &[]);
    let server = FixtureServer::start(&directory).unwrap();
    let cache = sandbox.home().join("cache");
    let downloader = downloader();
    let client = source(&server.url(), &["registry"], 0);
    assert_eq!(
        load_index(&downloader, &client, &cache, false, now())
            .unwrap()
            .serial,
        Some(2)
    );
    // A mirror serving the older, validly signed index.
    restore(&directory, ".serial1");
    expect(
        load_index(&downloader, &client, &cache, false, now()),
        "serial 1, older than serial 2 already seen",
    );
    // An index past its expiry.
    let frozen = Sandbox::new();
    let directory = registry(&frozen, &[]);
    support::registry::expire(&directory, "registry");
    let server = FixtureServer::start(&directory).unwrap();
    expect(
        load_index(
            &downloader,
            &source(&server.url(), &["registry"], 0),
            &frozen.home().join("cache"),
            false,
            now(),
        ),
        "the index expired at",
    );
}

#[test]
fn an_index_caught_between_its_two_files_is_fetched_again() {
    // A publisher to an object store writes index.acl, then index.acl.sig: a client in between
    // sees a new index with the old signature, and must not fail for it.
    let sandbox = Sandbox::new();
    let directory = registry(&sandbox, &[]);
    let server = FixtureServer::start(&directory).unwrap();
    let signature = directory.join("index.acl.sig");
    let old_signature = std::fs::read(&signature).unwrap();
    registry(&sandbox, &[]);
    let new_signature = std::fs::read(&signature).unwrap();
    assert_ne!(old_signature, new_signature);
    std::fs::write(&signature, &old_signature).unwrap();
    let publisher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        std::fs::write(&signature, new_signature).unwrap();
    });
    let index = load_index(
        &downloader(),
        &source(&server.url(), &["registry"], 0),
        &sandbox.home().join("cache"),
        false,
        now(),
    );
    publisher.join().unwrap();
    assert_eq!(index.unwrap().serial, Some(2));
}
