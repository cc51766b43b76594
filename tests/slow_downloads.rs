//! Slow retrieval: a download that trickles gives up, by the minimum throughput over a sliding
//! window or by the overall deadline scaled to the indexed size, instead of running for ever
//! (DESIGN.md invariant 9). Driven with a tiny policy against a loopback server that trickles.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pandora::env_vars;
use pandora::registry::download::{DownloadError, DownloadPolicy, DownloadRequest, Downloader};
use registry_fixtures::server::{Behavior, FixtureServer};
use sha2::Digest;
use support::registry::fixture;

struct Setup {
    directory: tempfile::TempDir,
    server: FixtureServer,
    content: Vec<u8>,
}

fn setup() -> Setup {
    let directory = tempfile::tempdir().unwrap();
    let served = directory.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let content: Vec<u8> = (0..300_000u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(served.join("pkg.psp"), &content).unwrap();
    let server = FixtureServer::start(&served).unwrap();
    Setup {
        directory,
        server,
        content,
    }
}

/// Windows of 300 ms; nothing here is meant to take long.
fn tiny(min_rate: u64, timeout: Duration) -> DownloadPolicy {
    DownloadPolicy {
        parallel: 1,
        attempts: 2,
        backoff: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_secs(5),
        min_rate,
        rate_window: Duration::from_millis(300),
        rate_grace: Duration::from_millis(300),
        timeout,
    }
}

/// Fetches `pkg.psp` on another thread; fails the test if that takes longer than a minute.
fn fetch(setup: &Setup, policy: DownloadPolicy) -> Result<PathBuf, DownloadError> {
    let request = DownloadRequest {
        url: url::Url::parse(&format!("{}pkg.psp", setup.server.url())).unwrap(),
        sha256: sha2::Sha256::digest(&setup.content).into(),
        mirrors: Vec::new(),
        size: Some(setup.content.len() as u64),
        registry: "fixtures".into(),
        launcher: None,
    };
    let blobs = setup.directory.path().join("blobs");
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let downloader = Downloader::new(policy).unwrap();
        let quiet: Arc<dyn Fn(usize, u64) + Send + Sync> = Arc::new(|_, _| {});
        let _ = send.send(
            downloader
                .fetch_all(&[request], &blobs, &quiet)
                .pop()
                .unwrap(),
        );
    });
    receive
        .recv_timeout(Duration::from_secs(60))
        .expect("the download was still running after a minute")
}

#[test]
fn a_trickle_below_the_minimum_rate_gives_up() {
    let setup = setup();
    // 20 bytes/s against a floor of 1000 bytes/s.
    setup.server.set("/pkg.psp", Behavior::Trickle(2, 100));
    let error = fetch(&setup, tiny(1000, Duration::from_secs(600)))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("slower than 1000 bytes/s")
            && error.contains("/pkg.psp (registry `fixtures`)"),
        "{error}"
    );
    // Both attempts were made, the second resuming what the first left.
    let requests = setup.server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
}

#[test]
fn the_overall_deadline_is_the_timeout_plus_the_size_at_the_minimum_rate() {
    let setup = setup();
    // 100 KB/s: the body takes 3 s, and the deadline is 0.5 s + 300 KB at 1 MB/s = 0.8 s. The
    // floor is out of the way (its grace period outlasts the test).
    setup.server.set("/pkg.psp", Behavior::Trickle(1000, 10));
    let mut policy = tiny(1_000_000, Duration::from_millis(500));
    policy.rate_grace = Duration::from_secs(600);
    policy.attempts = 5;
    let error = fetch(&setup, policy).unwrap_err().to_string();
    assert!(error.contains("not finished within"), "{error}");
    // A partial download is kept for the next run to resume.
    let blobs: Vec<String> = std::fs::read_dir(setup.directory.path().join("blobs"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        blobs.iter().any(|name| name.ends_with(".partial")),
        "{blobs:?}"
    );
}

#[test]
fn a_fast_download_passes_the_floor_and_the_deadline() {
    let setup = setup();
    let path = fetch(&setup, tiny(1000, Duration::from_secs(60))).unwrap();
    assert!(std::fs::read(&path).unwrap() == setup.content);
    // Pieces 50 ms apart, the rate looked at every 37 ms: waits that end between pieces lose
    // no bytes (the hash would say so), and a slow link above the floor finishes.
    std::fs::remove_file(&path).unwrap();
    setup.server.set("/pkg.psp", Behavior::Trickle(30_000, 50));
    let path = fetch(&setup, tiny(1000, Duration::from_secs(60))).unwrap();
    assert!(std::fs::read(&path).unwrap() == setup.content);
    // The defaults are documented and sane.
    let defaults = DownloadPolicy::default();
    assert_eq!(defaults.min_rate, 1024);
    assert!(defaults.rate_window >= Duration::from_secs(10));
    assert!(defaults.timeout >= Duration::from_secs(60));
}

#[test]
fn the_environment_sets_the_floor_and_the_deadline() {
    let policy = DownloadPolicy::from_environment(|name| match name {
        env_vars::PANDORA_DOWNLOAD_MIN_RATE => Some("2048".into()),
        env_vars::PANDORA_DOWNLOAD_TIMEOUT => Some("7".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(policy.min_rate, 2048);
    assert_eq!(policy.timeout, Duration::from_secs(7));
    let defaults = DownloadPolicy::from_environment(|_| None).unwrap();
    assert_eq!(defaults.min_rate, DownloadPolicy::default().min_rate);
    let error = DownloadPolicy::from_environment(|name| {
        (name == env_vars::PANDORA_DOWNLOAD_MIN_RATE).then(|| "fast".into())
    })
    .unwrap_err();
    assert!(error.contains("PANDORA_DOWNLOAD_MIN_RATE"), "{error}");
}

#[test]
fn pandora_install_gives_up_on_a_trickling_registry() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    for path in ["/pkgs/libgreet-2.0.0.psp", "/pkgs/hello-1.1.0.psp"] {
        fixture.server.set(path, Behavior::Trickle(2, 100));
    }
    // A one-second base and a floor so high the size adds almost nothing: about a second.
    let mut child = sandbox
        .command(&["install", "--no-activate", "hello"])
        .env(env_vars::PANDORA_DOWNLOAD_TIMEOUT, "1")
        .env(env_vars::PANDORA_DOWNLOAD_MIN_RATE, "100000000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pandora install was still downloading after a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not finished within"), "{stderr}");
    assert!(stderr.contains("PANDORA_DOWNLOAD_TIMEOUT"), "{stderr}");
}
