//! A registry that attacks: an index that expands to gigabytes, one that never ends or never
//! arrives, a package URL pointing at local files. Each is refused with a clear error, soon.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::Path;
use std::time::Duration;

use pandora::format::signing::SigningKey;
use pandora::registry::client::{load_index_within, IndexLimits, RegistrySource};
use pandora::registry::download::{DownloadPolicy, Downloader};
use pandora::registry::index::signature_file;
use pandora::registry::publish::now;
use registry_fixtures::server::Behavior;
use support::registry::fixture;

/// Replaces the registry's index with `text`, signed by the registry's key.
fn serve_index(registry: &Path, text: &str) {
    let key = SigningKey::from_seed("registry");
    std::fs::write(registry.join("index.acl"), text).unwrap();
    let signature = signature_file(&key.public_key(), &key.sign(text.as_bytes()));
    std::fs::write(registry.join("index.acl.sig"), signature).unwrap();
}

/// Runs `work` on a thread; a hang is a failure after `limit`, not a stuck test run.
fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    receiver
        .recv_timeout(limit)
        .expect("still running: it should have given up")
}

fn bomb() -> String {
    let mut text = String::from("a0 = \"xxxxxxxxxxxxxxxx\";\n");
    for level in 1..=40 {
        text.push_str(&format!(
            "a{level} = $.a{} + $.a{};\n",
            level - 1,
            level - 1
        ));
    }
    text.push_str(
        "Registry { string name = \"fixtures\"; int serial = 1; int expires = 4102444800; }\n",
    );
    text
}

#[test]
fn an_index_that_expands_to_gigabytes_is_an_error() {
    let fixture = fixture();
    serve_index(&fixture.registry, &bomb());
    let run = fixture.sandbox.run(&["search", "hello"]);
    run.failure(1);
    assert!(run.stderr.contains("over the limit"), "{}", run.stderr);
}

#[test]
fn a_lockfile_that_expands_to_gigabytes_is_an_error() {
    let fixture = fixture();
    let lockfile = fixture.sandbox.home().join("bomb.lock");
    std::fs::write(&lockfile, bomb()).unwrap();
    let run = fixture
        .sandbox
        .run(&["sync", "--lockfile", lockfile.to_str().unwrap()]);
    run.failure(1);
    assert!(run.stderr.contains("over the limit"), "{}", run.stderr);
}

#[test]
fn a_remote_index_cannot_point_at_local_files() {
    let fixture = fixture();
    let index = std::fs::read_to_string(fixture.registry.join("index.acl")).unwrap();
    let hostile = index.replace("pkgs/hello-1.1.0.psp", "file:///dev/zero");
    assert_ne!(
        hostile, index,
        "the fixture index names pkgs/hello-1.1.0.psp"
    );
    serve_index(&fixture.registry, &hostile);
    let sandbox = fixture.sandbox;
    let run = within(Duration::from_secs(60), move || {
        sandbox.run(&["install", "--yes", "hello"])
    });
    run.failure(1);
    assert!(run.stderr.contains("may not point at"), "{}", run.stderr);
}

fn source(url: &str) -> RegistrySource {
    RegistrySource {
        name: "fixtures".into(),
        url: url::Url::parse(url).unwrap(),
        mirrors: Vec::new(),
        keys: vec![SigningKey::from_seed("registry").public_key()],
        require_signatures: true,
        ttl: Duration::ZERO,
    }
}

fn quick() -> Downloader {
    Downloader::new(DownloadPolicy {
        attempts: 1,
        stall_timeout: Duration::from_millis(300),
        ..DownloadPolicy::default()
    })
    .unwrap()
}

#[test]
fn an_index_larger_than_the_limit_is_cut_off() {
    let fixture = fixture();
    fixture.server.set("/index.acl", Behavior::TooLong(1 << 20));
    let url = fixture.server.url();
    let cache = fixture.sandbox.home().join("cache");
    let limits = IndexLimits {
        index_bytes: 64 << 10,
        ..IndexLimits::default()
    };
    let error = within(Duration::from_secs(60), move || {
        load_index_within(&quick(), &source(&url), &cache, false, now(), &limits)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    });
    assert!(
        error.contains("larger than the 65536-byte limit"),
        "{error}"
    );
}

#[test]
fn an_index_that_stalls_gives_up() {
    let fixture = fixture();
    fixture.server.set("/index.acl", Behavior::Stall(10));
    let url = fixture.server.url();
    let cache = fixture.sandbox.home().join("cache");
    let error = within(Duration::from_secs(60), move || {
        load_index_within(
            &quick(),
            &source(&url),
            &cache,
            false,
            now(),
            &IndexLimits::default(),
        )
        .map(|_| ())
        .unwrap_err()
        .to_string()
    });
    assert!(error.contains("no data for"), "{error}");
}

/// The fixture's index with another serial, signed by `seed`.
fn resign(registry: &Path, seed: &str, serial: i64) {
    let index = std::fs::read_to_string(registry.join("index.acl")).unwrap();
    let start = index.find("serial = ").unwrap() + "serial = ".len();
    let end = start + index[start..].find(';').unwrap();
    let text = format!("{}{serial}{}", &index[..start], &index[end..]);
    let key = SigningKey::from_seed(seed);
    std::fs::write(registry.join("index.acl"), &text).unwrap();
    let signature = signature_file(&key.public_key(), &key.sign(text.as_bytes()));
    std::fs::write(registry.join("index.acl.sig"), signature).unwrap();
}

/// The index as a client with the default limits and a quick downloader loads it.
fn load(
    source: &RegistrySource,
    cache: &Path,
) -> Result<pandora::registry::index::RegistryIndex, String> {
    load_index_within(
        &quick(),
        source,
        cache,
        false,
        now(),
        &IndexLimits::default(),
    )
    .map_err(|error| error.to_string())
}

fn keyed(url: &str, seed: &str) -> RegistrySource {
    RegistrySource {
        keys: vec![SigningKey::from_seed(seed).public_key()],
        ..source(url)
    }
}

#[test]
fn a_key_rotation_ends_a_fast_forward_lockout() {
    let fixture = fixture();
    let url = fixture.server.url();
    let cache = fixture.sandbox.home().join("cache");
    // A stolen key signs an index with the largest serial there is; clients remember it.
    resign(&fixture.registry, "registry", i64::MAX);
    load(&keyed(&url, "registry"), &cache).unwrap();
    // The operator rotates the key and starts again at serial 2.
    resign(&fixture.registry, "rotated", 2);
    let index = load(&keyed(&url, "rotated"), &cache).unwrap();
    assert_eq!(index.serial, Some(2));
    // Under the same keys, an older serial is still a rollback.
    resign(&fixture.registry, "rotated", 1);
    let error = load(&keyed(&url, "rotated"), &cache)
        .map(|_| ())
        .unwrap_err();
    assert!(error.contains("a rollback"), "{error}");
}

#[test]
fn removing_a_registry_forgets_what_was_seen() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    resign(&fixture.registry, "registry", i64::MAX);
    sandbox.run(&["search", "hello"]).success();
    resign(&fixture.registry, "registry", 3);
    let refused = sandbox.run(&["search", "hello"]);
    refused.failure(1);
    assert!(
        refused.stderr.contains("registry remove fixtures"),
        "{}",
        refused.stderr
    );
    sandbox
        .run(&["registry", "remove", "fixtures", "--yes"])
        .success();
    support::registry::configure(sandbox, &fixture.server);
    let run = sandbox.run(&["search", "hello"]);
    assert!(run.success().stdout.contains("hello"), "{}", run.stdout);
}

#[test]
fn indexing_after_the_largest_serial_is_an_error_not_a_panic() {
    let fixture = fixture();
    resign(&fixture.registry, "registry", i64::MAX);
    let run = fixture.sandbox.run(&[
        "registry",
        "index",
        fixture.registry.to_str().unwrap(),
        "--key-seed",
        "registry",
    ]);
    run.failure(1);
    assert!(
        run.stderr.contains("the largest there is"),
        "{}",
        run.stderr
    );
}

#[test]
fn adding_a_key_for_a_rotation_keeps_replay_protection() {
    let fixture = fixture();
    let url = fixture.server.url();
    let cache = fixture.sandbox.home().join("cache");
    resign(&fixture.registry, "registry", 5);
    load(&keyed(&url, "registry"), &cache).unwrap();
    // The operator announces a second key; the old one is still trusted meanwhile.
    let both = RegistrySource {
        keys: vec![
            SigningKey::from_seed("registry").public_key(),
            SigningKey::from_seed("rotated").public_key(),
        ],
        ..source(&url)
    };
    // An older index signed by the still-trusted key is a replay, not a fresh start.
    resign(&fixture.registry, "registry", 4);
    let error = load(&both, &cache).map(|_| ()).unwrap_err();
    assert!(error.contains("a rollback"), "{error}");
}
