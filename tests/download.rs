//! Downloads against a real HTTP server on 127.0.0.1 that misbehaves on demand.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pandora::format::metadata::encode_hex;
use pandora::registry::download::{DownloadError, DownloadPolicy, DownloadRequest, Downloader};
use registry_fixtures::server::{get, Behavior, FixtureServer};
use sha2::Digest;

struct Setup {
    _directory: tempfile::TempDir,
    blobs: PathBuf,
    server: FixtureServer,
    content: Vec<u8>,
}

fn setup() -> Setup {
    let directory = tempfile::tempdir().unwrap();
    let served = directory.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    // Not very compressible, and several chunks long.
    let content: Vec<u8> = (0..300_000u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(served.join("pkg.psp"), &content).unwrap();
    for n in 0..6 {
        std::fs::write(
            served.join(format!("other{n}.psp")),
            format!("other package {n}").repeat(1000),
        )
        .unwrap();
    }
    let server = FixtureServer::start(&served).unwrap();
    Setup {
        blobs: directory.path().join("blobs"),
        _directory: directory,
        server,
        content,
    }
}

fn request(setup: &Setup, path: &str, content: &[u8]) -> DownloadRequest {
    DownloadRequest {
        url: url::Url::parse(&format!("{}{path}", setup.server.url())).unwrap(),
        sha256: sha2::Sha256::digest(content).into(),
        mirrors: Vec::new(),
        size: Some(content.len() as u64),
        registry: "fixtures".into(),
        launcher: None,
    }
}

fn downloader(attempts: u32) -> Downloader {
    Downloader::new(DownloadPolicy {
        parallel: 2,
        attempts,
        backoff: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_millis(400),
        ..DownloadPolicy::default()
    })
    .unwrap()
}

fn fetch(
    downloader: &Downloader,
    setup: &Setup,
    request: DownloadRequest,
) -> Result<PathBuf, DownloadError> {
    downloader
        .fetch_all(&[request], &setup.blobs, &quiet())
        .pop()
        .unwrap()
}

fn quiet() -> Arc<dyn Fn(usize, u64) + Send + Sync> {
    Arc::new(|_, _| {})
}

fn leftovers(blobs: &Path) -> Vec<String> {
    std::fs::read_dir(blobs)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.contains('.'))
                .collect()
        })
        .unwrap_or_default()
}

fn requests_for(setup: &Setup, path: &str) -> Vec<Option<String>> {
    setup
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.range)
        .collect()
}

#[test]
fn transient_failures_are_retried_and_interruptions_resumed() {
    let cases = [
        (Behavior::Normal, 1),
        (Behavior::FailFirst(2), 3),
        (Behavior::TooManyFirst(1), 2),
        (Behavior::TruncateFirst(100_000), 2),
        (Behavior::ResetFirst(120_000), 2),
    ];
    for (behavior, expected_requests) in cases {
        let setup = setup();
        setup.server.set("/pkg.psp", behavior.clone());
        let path = fetch(
            &downloader(4),
            &setup,
            request(&setup, "pkg.psp", &setup.content),
        )
        .unwrap_or_else(|error| panic!("{behavior:?}: {error}"));
        assert_eq!(std::fs::read(&path).unwrap(), setup.content, "{behavior:?}");
        assert_eq!(
            path.file_name().unwrap().to_string_lossy(),
            encode_hex(&sha2::Sha256::digest(&setup.content))
        );
        let requests = requests_for(&setup, "/pkg.psp");
        assert_eq!(
            requests.len(),
            expected_requests,
            "{behavior:?}: {requests:?}"
        );
        if behavior == Behavior::TruncateFirst(100_000) {
            assert_eq!(
                requests[1].as_deref(),
                Some("bytes=100000-"),
                "resumed where it stopped"
            );
        }
        assert!(
            leftovers(&setup.blobs).is_empty(),
            "{behavior:?}: {:?}",
            leftovers(&setup.blobs)
        );
    }
}

#[test]
fn bad_bytes_are_refused_at_once_and_leave_nothing() {
    for (behavior, message) in [
        (Behavior::WrongBytes, "the download hashes to"),
        (
            Behavior::TooLong(10),
            "the body is longer than the 300000 bytes the index promises",
        ),
        (Behavior::NotFound, "the server answered 404"),
    ] {
        let setup = setup();
        setup.server.set("/pkg.psp", behavior.clone());
        let error = fetch(
            &downloader(4),
            &setup,
            request(&setup, "pkg.psp", &setup.content),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains(message) && error.contains("/pkg.psp (registry `fixtures`)"),
            "{behavior:?}: {error}"
        );
        assert_eq!(
            requests_for(&setup, "/pkg.psp").len(),
            1,
            "{behavior:?} must not be retried"
        );
        assert!(
            std::fs::read_dir(&setup.blobs)
                .map(|e| e.count())
                .unwrap_or(0)
                == 0,
            "{behavior:?} left files"
        );
    }
}

#[test]
fn stalls_and_persistent_errors_give_up_with_the_cause() {
    let setup = setup();
    setup.server.set("/pkg.psp", Behavior::Stall(1000));
    let error = fetch(
        &downloader(2),
        &setup,
        request(&setup, "pkg.psp", &setup.content),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("no data for"), "{error}");
    setup.server.set("/pkg.psp", Behavior::FailFirst(100));
    let error = fetch(
        &downloader(3),
        &setup,
        request(&setup, "pkg.psp", &setup.content),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("the server answered 500"), "{error}");
}

/// A partial download from an earlier, interrupted run.
fn interrupted(setup: &Setup, keep: usize) {
    std::fs::create_dir_all(&setup.blobs).unwrap();
    let name = encode_hex(&sha2::Sha256::digest(&setup.content));
    std::fs::write(
        setup.blobs.join(format!("{name}.partial")),
        &setup.content[..keep],
    )
    .unwrap();
    let (_, headers, _) = get(&format!("{}pkg.psp", setup.server.url()), &[]).unwrap();
    std::fs::write(
        setup.blobs.join(format!("{name}.partial.validator")),
        &headers["etag"],
    )
    .unwrap();
}

#[test]
fn resuming_survives_servers_that_ignore_or_botch_ranges() {
    for behavior in [
        Behavior::Normal,
        Behavior::IgnoreRange,
        Behavior::WrongRangeOffset,
    ] {
        let setup = setup();
        interrupted(&setup, 200_000);
        setup.server.set("/pkg.psp", behavior.clone());
        let path = fetch(
            &downloader(4),
            &setup,
            request(&setup, "pkg.psp", &setup.content),
        )
        .unwrap_or_else(|error| panic!("{behavior:?}: {error}"));
        assert_eq!(std::fs::read(path).unwrap(), setup.content, "{behavior:?}");
        let ranges = requests_for(&setup, "/pkg.psp");
        // The first request is the probe `interrupted` made for the ETag.
        assert_eq!(ranges[1].as_deref(), Some("bytes=200000-"), "{behavior:?}");
        if behavior == Behavior::Normal {
            assert_eq!(ranges.len(), 2);
        }
        assert!(leftovers(&setup.blobs).is_empty());
    }
}

#[test]
fn cached_blobs_need_no_network_and_many_download_in_parallel() {
    let setup = setup();
    let downloader = downloader(2);
    fetch(
        &downloader,
        &setup,
        request(&setup, "pkg.psp", &setup.content),
    )
    .unwrap();
    setup.server.set("/pkg.psp", Behavior::NotFound);
    fetch(
        &downloader,
        &setup,
        request(&setup, "pkg.psp", &setup.content),
    )
    .unwrap();
    assert_eq!(requests_for(&setup, "/pkg.psp").len(), 1);

    let requests: Vec<DownloadRequest> = (0..6)
        .map(|n| {
            request(
                &setup,
                &format!("other{n}.psp"),
                format!("other package {n}").repeat(1000).as_bytes(),
            )
        })
        .collect();
    let progress = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = progress.clone();
    let report: Arc<dyn Fn(usize, u64) + Send + Sync> = Arc::new(move |_, bytes| {
        counter.fetch_max(bytes, std::sync::atomic::Ordering::Relaxed);
    });
    let results = downloader.fetch_all(&requests, &setup.blobs, &report);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(progress.load(std::sync::atomic::Ordering::Relaxed) > 0);

    // file:// sources are copied with the same checks.
    let local = setup._directory.path().join("served/pkg.psp");
    let other_blobs = setup._directory.path().join("blobs2");
    let mut file_request = request(&setup, "pkg.psp", &setup.content);
    file_request.url = url::Url::from_file_path(&local).unwrap();
    let path = downloader
        .fetch_all(&[file_request.clone()], &other_blobs, &quiet())
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), setup.content);
    file_request.sha256 = [0; 32];
    let error = downloader
        .fetch_all(
            &[file_request],
            &setup._directory.path().join("blobs3"),
            &quiet(),
        )
        .pop()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(error, DownloadError::HashMismatch { .. }),
        "{error}"
    );
}
