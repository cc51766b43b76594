//! The blob cache under concurrency and damage: many `pandora` processes fetching the same
//! blob, one of them killed, `prune` running while a download is in flight, and blobs whose
//! bytes no longer match their name. A blob appears under its hash name only once its hash is
//! verified, a partial download belongs to one process at a time, and a damaged blob is
//! fetched again instead of failing every later install.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pandora::format::metadata::encode_hex;
use pandora::layout::Layout;
use pandora::registry::download::{DownloadPolicy, DownloadRequest, Downloader};
use pandora::store::Store;
use registry_fixtures::server::{Behavior, FixtureServer};
use sha2::Digest;
use support::registry::{fixture, fixture_of_another_release};
use support::Sandbox;

/// The fixture registry's two package files, as the server's paths.
const PACKAGES: [&str; 2] = ["/pkgs/libgreet-2.0.0.psp", "/pkgs/hello-1.1.0.psp"];

fn slow_down(server: &FixtureServer, piece: usize, every_ms: u64) {
    for path in PACKAGES {
        server.set(path, Behavior::Trickle(piece, every_ms));
    }
}

fn spawn_install(sandbox: &Sandbox) -> Child {
    sandbox
        .command(&["install", "--no-activate", "hello"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pandora")
}

/// Waits for a child, killing it (and failing) if it runs past `limit`.
fn finish(mut child: Child, limit: Duration) -> (bool, String) {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            return (
                output.status.success(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            );
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pandora was still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn blob_names(sandbox: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sandbox.pandora_home().join("blobs"))
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                // Launchers kept once for split blobs (checked through the blobs).
                .filter(|name| name != "launchers")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every blob is named by the SHA-256 of its bytes, and nothing else is left in `blobs/`.
fn assert_blobs_intact(sandbox: &Sandbox) {
    let names = blob_names(sandbox);
    assert!(!names.is_empty());
    for name in names {
        assert!(
            name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()),
            "leftover in blobs/: {name}"
        );
        // The whole file the blob stands for (its launcher read from `launchers/` if split).
        let path = sandbox.pandora_home().join("blobs").join(&name);
        assert_eq!(
            encode_hex(&pandora::registry::launchers::blob_sha256(&path).unwrap()),
            name,
            "a blob does not hash to its name"
        );
    }
}

fn wait_for_partial(sandbox: &Sandbox) {
    let started = Instant::now();
    while !blob_names(sandbox)
        .iter()
        .any(|name| name.ends_with(".partial"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no download started: {:?}",
            blob_names(sandbox)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn eight_concurrent_installs_of_one_package_all_succeed() {
    // Downloads long enough to be caught in flight: not only the bodies after this
    // release's launcher.
    let fixture = fixture_of_another_release();
    let sandbox = &fixture.sandbox;
    // Slow enough that the eight downloads overlap.
    slow_down(&fixture.server, 256 << 10, 10);
    let children: Vec<Child> = (0..8).map(|_| spawn_install(sandbox)).collect();
    let results: Vec<(bool, String)> = children
        .into_iter()
        .map(|child| finish(child, Duration::from_secs(120)))
        .collect();
    let failures: Vec<&String> = results
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, stderr)| stderr)
        .collect();
    assert!(
        failures.is_empty(),
        "{} of 8 failed:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
    let verify = sandbox.run(&["verify", "--all"]);
    verify.success();
    assert!(
        verify.stdout.contains("hello@1.1.0") && verify.stdout.contains("libgreet@2.0.0"),
        "{}",
        verify.stdout
    );
    assert_blobs_intact(sandbox);
}

#[test]
fn killing_one_of_two_installs_leaves_no_damaged_blob() {
    // Downloads long enough to be caught in flight: not only the bodies after this
    // release's launcher.
    let fixture = fixture_of_another_release();
    let sandbox = &fixture.sandbox;
    slow_down(&fixture.server, 64 << 10, 10);
    let mut first = spawn_install(sandbox);
    wait_for_partial(sandbox);
    let second = spawn_install(sandbox);
    std::thread::sleep(Duration::from_millis(300));
    first.kill().unwrap();
    first.wait().unwrap();
    let (ok, stderr) = finish(second, Duration::from_secs(120));
    assert!(ok, "the surviving install failed:\n{stderr}");
    sandbox.run(&["verify", "--all"]).success();
    assert_blobs_intact(sandbox);
    // And every later install works.
    sandbox
        .run(&["remove", "--yes", "hello@1.1.0", "libgreet@2.0.0"])
        .success();
    fixture.server.set(PACKAGES[0], Behavior::Normal);
    fixture.server.set(PACKAGES[1], Behavior::Normal);
    sandbox
        .run(&["install", "--no-activate", "hello"])
        .success();
}

#[test]
fn prune_leaves_a_download_in_flight_alone() {
    // Downloads long enough to be caught in flight: not only the bodies after this
    // release's launcher.
    let fixture = fixture_of_another_release();
    let sandbox = &fixture.sandbox;
    // About three seconds per package.
    slow_down(&fixture.server, 32 << 10, 10);
    let install = spawn_install(sandbox);
    wait_for_partial(sandbox);
    let partials: Vec<String> = blob_names(sandbox)
        .into_iter()
        .filter(|name| name.ends_with(".partial"))
        .collect();
    sandbox.run(&["prune"]).success();
    let after = blob_names(sandbox);
    for partial in &partials {
        let blob = partial.trim_end_matches(".partial");
        assert!(
            after.contains(partial) || after.iter().any(|name| name == blob),
            "prune deleted {partial} while it was being written: {after:?}"
        );
    }
    let (ok, stderr) = finish(install, Duration::from_secs(120));
    assert!(ok, "the install failed after prune ran:\n{stderr}");
    sandbox.run(&["verify", "--all"]).success();
    assert_blobs_intact(sandbox);
    // What a killed download leaves, nobody holding its lock any more, prune does delete.
    let blobs = sandbox.pandora_home().join("blobs");
    let stale = "a".repeat(64);
    for suffix in [".lock", ".partial", ".partial.validator"] {
        std::fs::write(blobs.join(format!("{stale}{suffix}")), "x").unwrap();
    }
    sandbox.run(&["prune"]).success();
    assert_blobs_intact(sandbox);
}

#[test]
fn a_damaged_blob_under_its_hash_name_is_fetched_again() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox
        .run(&["install", "--no-activate", "hello"])
        .success();
    let names = blob_names(sandbox);
    assert_eq!(names.len(), 2, "{names:?}");
    sandbox
        .run(&["remove", "--yes", "hello@1.1.0", "libgreet@2.0.0"])
        .success();
    // What an older version's race (a short file) or the disk (a flipped bit) leaves.
    let damages: [fn(&mut Vec<u8>); 2] = [
        |bytes| {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
        },
        |bytes| bytes.truncate(bytes.len() / 3),
    ];
    for damage in damages {
        for name in &names {
            let path = sandbox.pandora_home().join("blobs").join(name);
            let mut bytes = std::fs::read(&path).unwrap();
            damage(&mut bytes);
            std::fs::write(&path, bytes).unwrap();
        }
        let run = sandbox.run(&["install", "--no-activate", "hello"]);
        run.success();
        assert_eq!(run.stdout, "libgreet@2.0.0\nhello@1.1.0\n");
        sandbox.run(&["verify", "--all"]).success();
        assert_blobs_intact(sandbox);
        sandbox
            .run(&["remove", "--yes", "hello@1.1.0", "libgreet@2.0.0"])
            .success();
    }
}

fn content() -> Vec<u8> {
    (0..200_000u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

#[test]
fn the_downloader_replaces_a_damaged_cached_blob() {
    let directory = tempfile::tempdir().unwrap();
    let served = directory.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let content = content();
    std::fs::write(served.join("pkg.psp"), &content).unwrap();
    let server = FixtureServer::start(&served).unwrap();
    let sha256: [u8; 32] = sha2::Sha256::digest(&content).into();
    let blobs = directory.path().join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let target = blobs.join(encode_hex(&sha256));
    std::fs::write(&target, &content[..1000]).unwrap();
    let downloader = Downloader::new(DownloadPolicy::default()).unwrap();
    let request = DownloadRequest {
        url: url::Url::parse(&format!("{}pkg.psp", server.url())).unwrap(),
        sha256,
        mirrors: Vec::new(),
        size: Some(content.len() as u64),
        registry: "fixtures".into(),
        launcher: None,
    };
    let quiet: Arc<dyn Fn(usize, u64) + Send + Sync> = Arc::new(|_, _| {});
    let path = downloader
        .fetch_all(&[request], &blobs, &quiet)
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(path, target);
    assert!(
        std::fs::read(&target).unwrap() == content,
        "the damaged blob was returned as it was"
    );
}

#[test]
fn adding_a_local_file_replaces_a_damaged_blob() {
    let directory = tempfile::tempdir().unwrap();
    let layout = Layout::new(directory.path().join("home"));
    let store = Store::new(&layout);
    let content = content();
    let file: PathBuf = directory.path().join("local.psp");
    std::fs::write(&file, &content).unwrap();
    let sha256: [u8; 32] = sha2::Sha256::digest(&content).into();
    std::fs::create_dir_all(layout.blobs_dir()).unwrap();
    let target = layout.blobs_dir().join(encode_hex(&sha256));
    let mut damaged = content.clone();
    damaged[100] ^= 0xff;
    std::fs::write(&target, &damaged).unwrap();
    let added = store.add_blob(&file).unwrap();
    assert_eq!(added.bytes(), &sha256);
    assert!(
        std::fs::read(&target).unwrap() == content,
        "the damaged blob was kept"
    );
    assert_eq!(only_blob(&layout.blobs_dir()), target);
}

fn only_blob(blobs: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(blobs)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}
