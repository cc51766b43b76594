//! Downloading `.psp` blobs: several at once under a cap, each streamed to `blobs/<sha>.partial`
//! while hashed and counted, refused the moment it exceeds the indexed size, retried with
//! backoff when the network or server fails (never when the hash is wrong), and resumed with
//! `Range` + `If-Range` when interrupted (restarted when the server ignores the range). An
//! attempt that brings less than a minimum throughput over a sliding window fails (and is
//! retried), and each blob has an overall deadline scaled to its indexed size. Every URL scheme
//! goes through the same path, over its [`Transport`].
//!
//! # The blob cache under concurrency
//!
//! `blobs/<sha>` is published only by a rename of a file whose SHA-256 was just verified, so a
//! name always promises its bytes; a blob found damaged anyway (disk trouble, an older
//! version's bug) is deleted and fetched again. Everything else about one blob (its
//! `.partial`, the `.partial.validator` that lets a later run resume it, the check of a
//! finished blob) is done by one process at a time, holding [`BlobLock`] on `<sha>.lock`: a
//! second process fetching the same blob waits, then finds it finished; `prune` tries the same
//! lock without waiting and leaves alone what it cannot take.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use sha2::{Digest, Sha256};
use url::Url;

use super::index::{LauncherRef, UNSIZED_PACKAGE_LIMIT};
use super::launchers;
use super::transport::{
    GetRequest, Response, Resume, Served, Transport, TransportError, Transports,
};
use crate::env_vars;
use crate::format::metadata::encode_hex;

impl DownloadRequest {
    /// The most bytes accepted: the promised size, else [`UNSIZED_PACKAGE_LIMIT`].
    pub fn limit(&self) -> u64 {
        self.size.unwrap_or(UNSIZED_PACKAGE_LIMIT)
    }

    /// Every URL to try, in order.
    fn urls(&self) -> impl Iterator<Item = &Url> {
        std::iter::once(&self.url).chain(&self.mirrors)
    }
}

/// One blob to fetch.
#[derive(Debug, Clone)]
pub struct DownloadRequest {
    /// Where it is.
    pub url: Url,
    /// Other places with the same bytes (a registry's mirrors), tried in order when `url`
    /// fails: the SHA-256 decides what is right, whoever serves it.
    pub mirrors: Vec<Url>,
    /// The SHA-256 the index promises.
    pub sha256: [u8; 32],
    /// The size the index promises; `None` when it does not say, and then the download is cut
    /// off past [`UNSIZED_PACKAGE_LIMIT`].
    pub size: Option<u64>,
    /// The registry, for messages.
    pub registry: String,
    /// The launcher stub the index says the file starts with. When the blob directory holds
    /// it, only the rest of the file is fetched (`Range: bytes=N-`) and the whole file's
    /// SHA-256 is checked as always; a server that sends the whole file anyway is fine too.
    pub launcher: Option<LauncherRef>,
}

/// A fetched blob.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where it is.
    pub path: PathBuf,
    /// The bytes the network brought in the attempt that finished it (0 when it was already
    /// there or another process fetched it).
    pub downloaded: u64,
    /// The URL that served it (the request's own or a mirror); `None` when nothing was
    /// fetched.
    pub served_by: Option<Url>,
}

/// Why a download failed, after any retries.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server refused (4xx other than 429, or 5xx after every retry).
    #[error("{url} (registry `{registry}`): the server answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The registry.
        registry: String,
        /// The HTTP status.
        status: u16,
    },
    /// Connection, reset, stall or truncation, after every retry.
    #[error("{url} (registry `{registry}`): {detail}")]
    Transport {
        /// The URL.
        url: String,
        /// The registry.
        registry: String,
        /// What happened last.
        detail: String,
    },
    /// More bytes than the index promised.
    #[error("{url} (registry `{registry}`): the body is longer than the {size} bytes the index promises")]
    TooLong {
        /// The URL.
        url: String,
        /// The registry.
        registry: String,
        /// The promised size.
        size: u64,
    },
    /// More bytes than the cap for a package whose index gives no size.
    #[error("{url} (registry `{registry}`): the body is longer than {limit} bytes, the most Pandora downloads for a package whose index gives no size")]
    OverLimit {
        /// The URL.
        url: String,
        /// The registry.
        registry: String,
        /// The cap ([`UNSIZED_PACKAGE_LIMIT`]).
        limit: u64,
    },
    /// Every URL of the package (the registry's and its mirrors') failed.
    #[error(
        "registry `{registry}`: no URL could serve the package: {}",
        describe(failures)
    )]
    EveryUrl {
        /// The registry.
        registry: String,
        /// Why each URL failed, in the order tried.
        failures: Vec<DownloadError>,
    },
    /// The right size, the wrong bytes.
    #[error(
        "{url} (registry `{registry}`): the download hashes to {actual}, the index says {expected}"
    )]
    HashMismatch {
        /// The URL.
        url: String,
        /// The registry.
        registry: String,
        /// The promised hash.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// Slower than the policy's minimum throughput (after every retry), or not finished
    /// within the blob's overall deadline.
    #[error("{url} (registry `{registry}`): {detail}")]
    TooSlow {
        /// The URL.
        url: String,
        /// The registry.
        registry: String,
        /// What was too slow.
        detail: String,
    },
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] pandora_core::IoError),
}

fn describe(failures: &[DownloadError]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl pandora_core::Hint for DownloadError {
    fn hint(&self) -> Option<String> {
        match self {
            DownloadError::TooSlow { .. } => Some(format!(
                "nothing was installed; run the same command again to resume (what arrived is kept), or allow slower links: {}=BYTES_PER_SECOND (0: no floor), {}=SECONDS",
                env_vars::PANDORA_DOWNLOAD_MIN_RATE,
                env_vars::PANDORA_DOWNLOAD_TIMEOUT
            )),
            // A cached index can keep pointing at a server that is gone: `--refresh` asks again.
            _ => Some("nothing was installed; run the same command again to retry (finished downloads are kept), with `--refresh` if the registry may have moved its files".into()),
        }
    }
}

/// How hard to try, and how slow is too slow.
///
/// | field | default | variable |
/// |---|---|---|
/// | `parallel` | 8 | |
/// | `attempts` | 5 | |
/// | `backoff` | 250 ms, doubled each retry | |
/// | `connect_timeout` | 10 s | |
/// | `stall_timeout` | 30 s | |
/// | `min_rate` | 1024 bytes/s | `PANDORA_DOWNLOAD_MIN_RATE` (bytes per second; 0: no floor) |
/// | `rate_window` | 30 s | |
/// | `rate_grace` | 10 s | |
/// | `timeout` | 120 s | `PANDORA_DOWNLOAD_TIMEOUT` (seconds; 0: no deadline) |
///
/// A blob's overall deadline, every attempt, backoff and wait for another process included, is
/// `timeout + size / min_rate` ([`DownloadPolicy::deadline`]): 120 s plus one second per KiB
/// by default, so a link that keeps just above the floor still finishes, and nothing runs for
/// ever.
#[derive(Debug, Clone, Copy)]
pub struct DownloadPolicy {
    /// Downloads at once.
    pub parallel: usize,
    /// Attempts per download.
    pub attempts: u32,
    /// First backoff; doubled each retry.
    pub backoff: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a body.
    pub stall_timeout: Duration,
    /// The minimum throughput, in bytes per second: once an attempt's body has been arriving
    /// for `rate_grace`, the attempt fails (and is retried, resuming) when the last
    /// `rate_window` (or the whole attempt, if shorter) brought fewer bytes than this rate
    /// over that time. 0 turns the floor off.
    pub min_rate: u64,
    /// The sliding window the minimum throughput is measured over.
    pub rate_window: Duration,
    /// How long an attempt's body may arrive before the minimum throughput applies
    /// (connection ramp-up).
    pub rate_grace: Duration,
    /// The fixed part of a blob's overall deadline (see [`DownloadPolicy::deadline`]); zero
    /// means no deadline.
    pub timeout: Duration,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        DownloadPolicy {
            parallel: 8,
            attempts: 5,
            backoff: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            min_rate: 1024,
            rate_window: Duration::from_secs(30),
            rate_grace: Duration::from_secs(10),
            timeout: Duration::from_secs(120),
        }
    }
}

impl DownloadPolicy {
    /// The defaults, with `PANDORA_DOWNLOAD_MIN_RATE` (bytes per second) and
    /// `PANDORA_DOWNLOAD_TIMEOUT` (seconds) from `get` when set and not empty. An error names
    /// the variable whose value is not a whole number.
    pub fn from_environment(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<DownloadPolicy, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            match get(name).filter(|value| !value.trim().is_empty()) {
                None => Ok(None),
                Some(value) => value
                    .trim()
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| format!("{name} is `{value}`, not a whole number")),
            }
        };
        let mut policy = DownloadPolicy::default();
        if let Some(rate) = number(env_vars::PANDORA_DOWNLOAD_MIN_RATE)? {
            policy.min_rate = rate;
        }
        if let Some(seconds) = number(env_vars::PANDORA_DOWNLOAD_TIMEOUT)? {
            policy.timeout = Duration::from_secs(seconds);
        }
        Ok(policy)
    }

    /// How long one blob of `size` bytes may take in all: `timeout + size / min_rate`
    /// (`timeout` alone when there is no floor); `None` when `timeout` is zero.
    pub fn deadline(&self, size: u64) -> Option<Duration> {
        if self.timeout.is_zero() {
            return None;
        }
        let transfer = if self.min_rate == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(size as f64 / self.min_rate as f64)
        };
        Some(self.timeout.saturating_add(transfer))
    }
}

/// An exclusive, advisory claim on one blob of a cache directory (`<sha>.lock` beside it),
/// held while the blob, its partial download or its validator is written, checked or deleted.
/// The holder deletes the lock file before letting go; whoever locked a file that was deleted
/// meanwhile opens the new one and tries again, so two processes never both hold a blob.
#[derive(Debug)]
pub struct BlobLock {
    /// Released when the file is closed.
    _file: std::fs::File,
    path: PathBuf,
}

impl BlobLock {
    fn open(blobs: &Path, name: &str) -> std::io::Result<(std::fs::File, PathBuf)> {
        let path = blobs.join(format!("{name}.lock"));
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?
            .into_parts()
            .0;
        Ok((file, path))
    }

    /// Whether the file still has its name (its holder had not deleted it before we locked it).
    fn named(file: &std::fs::File, path: &Path) -> std::io::Result<bool> {
        let held = file.metadata()?;
        Ok(match fs_err::metadata(path) {
            Ok(named) => named.dev() == held.dev() && named.ino() == held.ino(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
            Err(error) => return Err(error),
        })
    }

    /// The blob `name` (its hex SHA-256) of `blobs`, or `None` at once if another holds it.
    pub fn try_acquire(blobs: &Path, name: &str) -> std::io::Result<Option<BlobLock>> {
        loop {
            let (file, path) = BlobLock::open(blobs, name)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(error)) => return Err(error),
            }
            if BlobLock::named(&file, &path)? {
                return Ok(Some(BlobLock { _file: file, path }));
            }
        }
    }

    /// The blob `name` of `blobs`, waiting for whoever holds it.
    pub fn acquire(blobs: &Path, name: &str) -> std::io::Result<BlobLock> {
        loop {
            let (file, path) = BlobLock::open(blobs, name)?;
            file.lock()?;
            if BlobLock::named(&file, &path)? {
                return Ok(BlobLock { _file: file, path });
            }
        }
    }

    /// [`BlobLock::acquire`] without blocking the runtime: polls, 5 ms to 100 ms apart.
    async fn acquire_async(blobs: &Path, name: &str) -> std::io::Result<BlobLock> {
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(lock) = BlobLock::try_acquire(blobs, name)? {
                return Ok(lock);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

impl Drop for BlobLock {
    fn drop(&mut self) {
        // Deleted while still locked; the lock goes when `file` closes, just after.
        let _ = fs_err::remove_file(&self.path);
    }
}

/// The SHA-256 of a file's bytes.
pub fn file_sha256(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buffer[..read]);
    }
}

/// Whether `path` is a blob whose whole file (its launcher read from `launchers/` when it is
/// kept split) hashes to `sha256`: a blob that keeps its name's promise.
pub fn blob_is_intact(path: &Path, sha256: &[u8; 32]) -> bool {
    path.is_file() && launchers::blob_sha256(path).is_ok_and(|actual| actual == *sha256)
}

/// [`blob_is_intact`] off the runtime's thread.
async fn intact(path: &Path, sha256: [u8; 32]) -> bool {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || blob_is_intact(&path, &sha256))
        .await
        .unwrap_or(false)
}

/// Fetches blobs into a content-addressed directory.
#[derive(Debug)]
pub struct Downloader {
    runtime: tokio::runtime::Runtime,
    transports: Transports,
    policy: DownloadPolicy,
}

enum Attempt {
    /// Finished, with the bytes this attempt brought.
    Done(u64),
    /// Worth another try (after the delay, if the server asked for one).
    Retry(TransportError, Option<Duration>),
    /// Below the minimum throughput: worth another try, resuming.
    Slow(String),
    Fail(DownloadError),
}

impl Downloader {
    /// A downloader with its own runtime.
    pub fn new(policy: DownloadPolicy) -> Result<Downloader, std::io::Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .user_agent(concat!("pandora/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(no_downgrade))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Downloader {
            runtime,
            transports: Transports::new(client),
            policy,
        })
    }

    /// The transports, one per URL scheme (shared with index fetches).
    pub fn transports(&self) -> &Transports {
        &self.transports
    }

    /// How hard to try.
    pub fn policy(&self) -> &DownloadPolicy {
        &self.policy
    }

    /// Runs a future on the downloader's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Fetches every request into `blobs/`, at most `parallel` at once; results in request order.
    /// `on_progress(index, bytes)` is called as bytes arrive.
    pub fn fetch_all(
        &self,
        requests: &[DownloadRequest],
        blobs: &Path,
        on_progress: &Arc<dyn Fn(usize, u64) + Send + Sync>,
    ) -> Vec<Result<PathBuf, DownloadError>> {
        self.fetch_all_counted(requests, blobs, on_progress)
            .into_iter()
            .map(|result| result.map(|fetched| fetched.path))
            .collect()
    }

    /// [`Downloader::fetch_all`], saying how many bytes each download brought.
    pub fn fetch_all_counted(
        &self,
        requests: &[DownloadRequest],
        blobs: &Path,
        on_progress: &Arc<dyn Fn(usize, u64) + Send + Sync>,
    ) -> Vec<Result<Fetched, DownloadError>> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(self.policy.parallel.max(1)));
        let mut launchers = LauncherLeaders::default();
        self.runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for (index, request) in requests.iter().cloned().enumerate() {
                let (transports, policy, blobs_dir, semaphore, progress) = (
                    self.transports.clone(),
                    self.policy,
                    blobs.to_path_buf(),
                    semaphore.clone(),
                    on_progress.clone(),
                );
                let turn = launchers.turn(blobs, request.launcher.as_ref());
                let blobs = blobs_dir;
                tasks.spawn(async move {
                    // Before taking a permit: the leader must be able to get one.
                    let _done = turn.wait().await;
                    let _permit = semaphore.acquire_owned().await;
                    let report = move |bytes| progress(index, bytes);
                    (
                        index,
                        fetch(&transports, &policy, &request, &blobs, &report).await,
                    )
                });
            }
            let mut results: Vec<Option<Result<Fetched, DownloadError>>> =
                requests.iter().map(|_| None).collect();
            while let Some(joined) = tasks.join_next().await {
                if let Ok((index, result)) = joined {
                    results[index] = Some(result);
                }
            }
            results
                .into_iter()
                .zip(requests)
                .map(|(result, request)| {
                    result.unwrap_or_else(|| {
                        Err(DownloadError::Transport {
                            url: request.url.to_string(),
                            registry: request.registry.clone(),
                            detail: "the download task stopped".into(),
                        })
                    })
                })
                .collect()
        })
    }
}

/// Files that start with the same launcher stub, not held here yet: the first (the leader)
/// downloads whole, so its launcher lands in `launchers/`; the others wait for it and then
/// fetch only what follows the launcher. Twenty small packages move one launcher, not eight
/// (as many as download at once) before the first is stored.
#[derive(Default)]
struct LauncherLeaders {
    leaders: std::collections::HashMap<[u8; 32], tokio::sync::watch::Receiver<()>>,
}

/// A download's place among those sharing its launcher.
enum Turn {
    /// Nothing to wait for; a leader holds the sender, closed (dropped) when its download ends.
    Now(Option<tokio::sync::watch::Sender<()>>),
    /// Wait until the leader's download ends, however it ends.
    After(tokio::sync::watch::Receiver<()>),
}

impl LauncherLeaders {
    fn turn(&mut self, blobs: &Path, launcher: Option<&LauncherRef>) -> Turn {
        let Some(launcher) = launcher else {
            return Turn::Now(None);
        };
        if let Some(leader) = self.leaders.get(&launcher.sha256) {
            return Turn::After(leader.clone());
        }
        if launchers::launcher_path(blobs, &launcher.sha256).exists() {
            return Turn::Now(None);
        }
        let (sender, receiver) = tokio::sync::watch::channel(());
        self.leaders.insert(launcher.sha256, receiver);
        Turn::Now(Some(sender))
    }
}

impl Turn {
    /// Waits for the leader, if any; the value returned is the leader's own sender, to keep
    /// until its download ends.
    async fn wait(self) -> Option<tokio::sync::watch::Sender<()>> {
        match self {
            Turn::Now(sender) => sender,
            Turn::After(mut receiver) => {
                // Err once the leader's sender is dropped: its download has ended.
                while receiver.changed().await.is_ok() {}
                None
            }
        }
    }
}

/// Redirects are followed (at most 10) but never from HTTPS to anything else: a registry
/// served over HTTPS is fetched over HTTPS all the way, as `registry::index::package_url`
/// requires of the URLs its index names.
fn no_downgrade(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let downgrade = attempt.previous().iter().any(|url| url.scheme() == "https")
        && attempt.url().scheme() != "https";
    if downgrade {
        let url = attempt.url().to_string();
        attempt.error(format!("refused a redirect from https to {url}"))
    } else if attempt.previous().len() > 10 {
        attempt.error("more than 10 redirects")
    } else {
        attempt.follow()
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> DownloadError + '_ {
    move |source| {
        DownloadError::Io(pandora_core::IoError {
            action: "access",
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Fetches one blob, retrying and resuming as the policy allows, within its overall deadline.
async fn fetch(
    transports: &Transports,
    policy: &DownloadPolicy,
    request: &DownloadRequest,
    blobs: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Fetched, DownloadError> {
    let target = blobs.join(encode_hex(&request.sha256));
    // Content-addressed, and checked: a blob that hashes to its name needs nothing.
    if target.is_file() && intact(&target, request.sha256).await {
        return Ok(Fetched {
            path: target,
            downloaded: 0,
            served_by: None,
        });
    }
    fs_err::create_dir_all(blobs).map_err(io_error(blobs))?;
    let Some(deadline) = policy.deadline(request.limit()) else {
        return fetch_locked(transports, policy, request, blobs, progress).await;
    };
    // Each URL gets the whole deadline: a stalled primary must not use up its mirrors' time.
    let urls = u32::try_from(request.urls().count()).unwrap_or(u32::MAX);
    match tokio::time::timeout(
        deadline.saturating_mul(urls),
        fetch_locked(transports, policy, request, blobs, progress),
    )
    .await
    {
        Ok(result) => result,
        // The partial download stays, for the next run to resume.
        Err(_) => Err(past_deadline(policy, request, &request.url, deadline)),
    }
}

/// The error for a blob not finished within its overall deadline.
fn past_deadline(
    policy: &DownloadPolicy,
    request: &DownloadRequest,
    url: &Url,
    deadline: Duration,
) -> DownloadError {
    DownloadError::TooSlow {
        url: url.to_string(),
        registry: request.registry.clone(),
        detail: format!(
            "not finished within {:.1?}, the deadline for {} bytes ({} of {} s + the size at {} of {} bytes/s)",
            deadline,
            request.limit(),
            env_vars::PANDORA_DOWNLOAD_TIMEOUT,
            policy.timeout.as_secs_f64(),
            env_vars::PANDORA_DOWNLOAD_MIN_RATE,
            policy.min_rate,
        ),
    }
}

/// [`fetch`] under the blob's lock: waits for any other process fetching it, takes what that
/// one finished, else downloads (resuming what an earlier run left) and publishes the verified
/// blob under its name.
async fn fetch_locked(
    transports: &Transports,
    policy: &DownloadPolicy,
    request: &DownloadRequest,
    blobs: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Fetched, DownloadError> {
    let name = encode_hex(&request.sha256);
    let target = blobs.join(&name);
    let _lock = BlobLock::acquire_async(blobs, &name)
        .await
        .map_err(io_error(blobs))?;
    if target.symlink_metadata().is_ok() {
        if intact(&target, request.sha256).await {
            return Ok(Fetched {
                path: target,
                downloaded: 0,
                served_by: None,
            });
        }
        // Bytes that are not what their name says: never used, fetched again.
        fs_err::remove_file(&target).map_err(io_error(&target))?;
    }
    let partial = blobs.join(format!("{name}.partial"));
    let validator_path = blobs.join(format!("{name}.partial.validator"));
    // What a resumed download continues is only ever a regular file of ours: a link or
    // anything else at these names goes, so nothing is written where it points.
    for path in [&partial, &validator_path] {
        if fs_err::symlink_metadata(path).is_ok_and(|metadata| !metadata.is_file()) {
            crate::fs::remove_tree(path).map_err(io_error(path))?;
        }
    }
    let urls: Vec<&Url> = request.urls().collect();
    let deadline = policy.deadline(request.limit());
    // The launcher this file starts with, when it is here and intact: then only the rest of
    // the file needs to travel.
    let launcher = match request.launcher {
        Some(launcher) => launchers::launcher_prefix(blobs, &launcher)
            .map_err(io_error(&launchers::launcher_path(blobs, &launcher.sha256)))?
            .map(|state| (launcher, state)),
        None => None,
    };
    let mut failures = Vec::new();
    for (position, url) in urls.iter().enumerate() {
        if position > 0 {
            // Another server: start afresh rather than continue what the last one sent.
            let _ = fs_err::remove_file(&partial);
            let _ = fs_err::remove_file(&validator_path);
        }
        let from = FetchFrom {
            transports,
            policy,
            request,
            url,
            partial: &partial,
            validator_path: &validator_path,
            launcher: launcher.clone(),
        };
        let result = match deadline {
            Some(deadline) if urls.len() > 1 => {
                match tokio::time::timeout(deadline, from.fetch(progress)).await {
                    Ok(result) => result,
                    Err(_) => Err(past_deadline(policy, request, url, deadline)),
                }
            }
            _ => from.fetch(progress).await,
        };
        match result {
            Ok(downloaded) => {
                let _ = fs_err::remove_file(&validator_path);
                // Verified whole: its launcher goes to `launchers/` (once) and the blob keeps
                // the rest. A failure half way leaves bytes that are not the package's.
                if let Some(launcher) = &request.launcher {
                    if let Err(source) = launchers::split_in_place(blobs, &partial, launcher) {
                        let _ = fs_err::remove_file(&partial);
                        return Err(io_error(&partial)(source));
                    }
                }
                // Not flushed: a blob is a cache, and every use hashes it first (`intact`, the
                // store's staging), so one a crash left torn is fetched again, never used. The
                // store entry made from it is what install makes durable.
                fs_err::rename(&partial, &target).map_err(io_error(&target))?;
                return Ok(Fetched {
                    path: target,
                    downloaded,
                    served_by: Some((*url).clone()),
                });
            }
            // A local failure: no other server would help.
            Err(error @ DownloadError::Io(_)) => return Err(error),
            Err(error) => failures.push(error),
        }
    }
    if failures.len() == 1 {
        return Err(failures.remove(0));
    }
    Err(DownloadError::EveryUrl {
        registry: request.registry.clone(),
        failures,
    })
}

/// Fetching one blob from one of its URLs, with the policy's attempts.
struct FetchFrom<'a> {
    transports: &'a Transports,
    policy: &'a DownloadPolicy,
    request: &'a DownloadRequest,
    url: &'a Url,
    partial: &'a Path,
    validator_path: &'a Path,
    /// The launcher the file starts with and the hash state after its bytes, when held here.
    launcher: Option<(LauncherRef, Sha256)>,
}

impl FetchFrom<'_> {
    /// Leaves the verified blob in `partial` and says how many bytes came, or says why it
    /// could not.
    async fn fetch(&self, progress: &(dyn Fn(u64) + Send + Sync)) -> Result<u64, DownloadError> {
        let (policy, request, url) = (self.policy, self.request, self.url);
        let transport = self
            .transports
            .for_url(url)
            .map_err(|error| DownloadError::Transport {
                url: url.to_string(),
                registry: request.registry.clone(),
                detail: error.to_string(),
            })?;
        let mut last = None;
        let mut slow = None;
        // Asking for the rest of the file is tried until it goes wrong once; then the whole.
        let mut launcher = self.launcher.clone();
        for attempt in 0..policy.attempts.max(1) {
            let once = Once {
                transport: transport.as_ref(),
                policy,
                request,
                url,
                partial: self.partial,
                validator_path: self.validator_path,
                launcher: launcher.as_ref(),
            };
            let outcome = once.attempt(progress).await;
            if !matches!(outcome, Attempt::Done(_)) && launcher.is_some() {
                // Whatever went wrong, the next try fetches the whole file.
                launcher = None;
                let _ = fs_err::remove_file(self.partial);
                let _ = fs_err::remove_file(self.validator_path);
                if let Attempt::Fail(_) = outcome {
                    continue;
                }
            }
            let wait = match outcome {
                Attempt::Done(downloaded) => return Ok(downloaded),
                Attempt::Fail(error) => {
                    let _ = fs_err::remove_file(self.partial);
                    let _ = fs_err::remove_file(self.validator_path);
                    return Err(error);
                }
                Attempt::Retry(error, wait) => {
                    last = Some(error);
                    slow = None;
                    wait
                }
                Attempt::Slow(detail) => {
                    slow = Some(detail);
                    None
                }
            };
            if attempt + 1 < policy.attempts {
                let backoff = policy.backoff * 2u32.saturating_pow(attempt);
                tokio::time::sleep(wait.unwrap_or(backoff).min(Duration::from_secs(30))).await;
            }
        }
        if let Some(detail) = slow {
            return Err(DownloadError::TooSlow {
                url: url.to_string(),
                registry: request.registry.clone(),
                detail,
            });
        }
        Err(match last {
            Some(TransportError::Status { status, .. }) => DownloadError::Status {
                url: url.to_string(),
                registry: request.registry.clone(),
                status,
            },
            other => DownloadError::Transport {
                url: url.to_string(),
                registry: request.registry.clone(),
                detail: other.map(|error| error.to_string()).unwrap_or_default(),
            },
        })
    }
}

/// Bytes over time in one attempt, for the minimum throughput over a sliding window.
struct Meter {
    min_rate: u64,
    window: Duration,
    grace: Duration,
    started: Instant,
    /// `(when, bytes so far)`, oldest first; the first is at or before the window's start.
    samples: VecDeque<(Instant, u64)>,
}

impl Meter {
    fn new(policy: &DownloadPolicy, received: u64) -> Meter {
        let started = Instant::now();
        Meter {
            min_rate: policy.min_rate,
            window: policy.rate_window.max(Duration::from_millis(1)),
            grace: policy.rate_grace,
            started,
            samples: VecDeque::from([(started, received)]),
        }
    }

    /// How long to wait for data before looking at the rate again.
    fn tick(&self) -> Duration {
        if self.min_rate == 0 {
            return Duration::MAX;
        }
        (self.window / 8).max(Duration::from_millis(10))
    }

    fn record(&mut self, now: Instant, received: u64) {
        // Samples closer together than 1/64 of the window add nothing but memory.
        let close = self
            .samples
            .back()
            .is_some_and(|(last, _)| now.duration_since(*last) < self.window / 64);
        if close && self.samples.len() > 1 {
            if let Some(last) = self.samples.back_mut() {
                *last = (now, received);
            }
        } else {
            self.samples.push_back((now, received));
        }
    }

    /// Why the attempt is too slow, if it is.
    fn check(&mut self, now: Instant, received: u64) -> Option<String> {
        let elapsed = now.duration_since(self.started);
        if self.min_rate == 0 || elapsed < self.grace {
            return None;
        }
        let span = self.window.min(elapsed);
        let from = now - span;
        while self.samples.len() > 1 && self.samples[1].0 <= from {
            self.samples.pop_front();
        }
        let before = self.samples.front().map_or(0, |(_, bytes)| *bytes);
        let arrived = received.saturating_sub(before);
        let needed = self.min_rate as f64 * span.as_secs_f64();
        ((arrived as f64) < needed).then(|| {
            format!(
                "slower than {} bytes/s ({}): {arrived} bytes in the last {span:.1?}",
                self.min_rate,
                env_vars::PANDORA_DOWNLOAD_MIN_RATE
            )
        })
    }
}

/// One attempt at one blob, continuing a partial download when the server allows it.
struct Once<'a> {
    transport: &'a dyn Transport,
    policy: &'a DownloadPolicy,
    request: &'a DownloadRequest,
    url: &'a Url,
    partial: &'a Path,
    validator_path: &'a Path,
    /// Fetch only what follows this launcher (held here, with the hash state after its
    /// bytes), unless a partial download is there to resume.
    launcher: Option<&'a (LauncherRef, Sha256)>,
}

impl Once<'_> {
    fn retry(detail: impl Into<String>) -> Attempt {
        Attempt::Retry(TransportError::Network(detail.into()), None)
    }

    fn io_failure(&self, source: std::io::Error) -> Attempt {
        Attempt::Fail(DownloadError::Io(pandora_core::IoError {
            action: "access",
            path: self.partial.to_path_buf(),
            source,
        }))
    }

    /// Drops the partial download so the next attempt starts from byte 0 without a range.
    fn restart(&self, reason: &str) -> Attempt {
        let _ = fs_err::remove_file(self.partial);
        let _ = fs_err::remove_file(self.validator_path);
        Once::retry(reason)
    }

    async fn attempt(&self, progress: &(dyn Fn(u64) + Send + Sync)) -> Attempt {
        let request = self.request;
        let have = fs_err::metadata(self.partial)
            .map(|metadata| metadata.len())
            .unwrap_or(0);
        let validator = fs_err::read_to_string(self.validator_path).ok();
        let resumable = validator.is_some() && have > 0 && have < request.limit();
        let rest = self.launcher.filter(|_| !resumable);
        let resume = match (validator, rest) {
            (_, Some((launcher, _))) => Some(Resume {
                from: launcher.size,
                validator: None,
            }),
            (Some(validator), None) if resumable => Some(Resume {
                from: have,
                validator: Some(validator),
            }),
            _ => None,
        };
        let get = GetRequest {
            resume,
            ..GetRequest::default()
        };
        let response = match tokio::time::timeout(
            self.policy.stall_timeout,
            self.transport.get(self.url, &get),
        )
        .await
        {
            Err(_) => return Once::retry("no response before the timeout"),
            Ok(Err(error)) if error.is_transient() => {
                let wait = match &error {
                    TransportError::Status { retry_after, .. } => *retry_after,
                    _ => None,
                };
                return Attempt::Retry(error, wait);
            }
            Ok(Err(TransportError::Status { status, .. })) => {
                return Attempt::Fail(DownloadError::Status {
                    url: self.url.to_string(),
                    registry: request.registry.clone(),
                    status,
                })
            }
            Ok(Err(error)) => {
                return Attempt::Fail(DownloadError::Transport {
                    url: self.url.to_string(),
                    registry: request.registry.clone(),
                    detail: error.to_string(),
                })
            }
            Ok(Ok(response)) => response,
        };
        if let Some((launcher, state)) = rest {
            return match response.served {
                Served::Partial { start }
                    if start == launcher.size
                        && response.length.is_none_or(|length| {
                            request
                                .size
                                .is_none_or(|size| length == size - launcher.size)
                        }) =>
                {
                    self.receive(response, Start::After(launcher, state.clone()), progress)
                        .await
                }
                Served::Partial { .. } => {
                    self.restart("the server answered the range from the wrong offset")
                }
                // The server sent the whole file anyway: take it.
                Served::Full | Served::NotModified => {
                    self.receive(response, Start::Fresh, progress).await
                }
            };
        }
        // A continuation must start where we asked and carry exactly the missing bytes;
        // anything else starts over from byte 0.
        let continuing = match response.served {
            Served::Partial { start } => {
                if start != have
                    || response.length.is_some_and(|length| {
                        request.size.is_some_and(|size| length != size - have)
                    })
                {
                    return self.restart("the server answered the range from the wrong offset");
                }
                true
            }
            Served::Full | Served::NotModified => false,
        };
        let start = if continuing {
            Start::Continuing(have)
        } else {
            Start::Fresh
        };
        self.receive(response, start, progress).await
    }

    async fn receive(
        &self,
        mut response: Response,
        start: Start<'_>,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Attempt {
        let (have, continuing) = match &start {
            Start::Continuing(have) => (*have, true),
            Start::Fresh | Start::After(..) => (0, false),
        };
        let request = self.request;
        let mut file = match fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(self.partial)
        {
            Ok(file) => file,
            Err(source) => return self.io_failure(source),
        };
        let mut hasher = Sha256::new();
        let mut received = if let Start::After(launcher, state) = start {
            // The launcher's bytes are hashed already (`state`); the file gets the reference
            // a split blob starts with and a hole, then the rest at its own offset.
            if let Err(source) =
                emptied(&file).and_then(|()| launchers::write_reference(file.file(), launcher))
            {
                return self.io_failure(source);
            }
            let _ = fs_err::remove_file(self.validator_path);
            hasher = state;
            launcher.size
        } else if continuing {
            // Hash what is already there, then continue after it.
            let mut buffer = vec![0u8; 256 << 10];
            let mut done = 0u64;
            let _ = file.seek(SeekFrom::Start(0));
            while done < have {
                match file.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(read) => {
                        let read = read.min((have - done) as usize);
                        hasher.update(&buffer[..read]);
                        done += read as u64;
                    }
                }
            }
            have
        } else {
            if let Err(source) = emptied(&file) {
                return self.io_failure(source);
            }
            // Written in place: only the lock's holder reads or writes it, and a torn one only
            // makes the next resumption start over.
            match response.etag.as_ref().or(response.last_modified.as_ref()) {
                Some(validator) => {
                    let _ = fs_err::write(self.validator_path, validator.as_bytes());
                }
                None => {
                    let _ = fs_err::remove_file(self.validator_path);
                }
            }
            0
        };
        let _ = file.seek(SeekFrom::Start(received));
        let first = received;
        let mut meter = Meter::new(self.policy, received);
        let mut last_data = Instant::now();
        loop {
            let now = Instant::now();
            if let Some(slow) = meter.check(now, received) {
                return Attempt::Slow(slow);
            }
            let stall_at = last_data + self.policy.stall_timeout;
            let wait = stall_at.saturating_duration_since(now).min(meter.tick());
            // `chunk` loses nothing when a wait ends first: the next call continues the body.
            let chunk = match tokio::time::timeout(wait, response.chunk()).await {
                Err(_) if Instant::now() >= stall_at => {
                    return Once::retry(format!(
                        "no data for {:?} after {received} bytes",
                        self.policy.stall_timeout
                    ))
                }
                Err(_) => continue,
                Ok(Err(error)) => return Attempt::Retry(error, None),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            last_data = Instant::now();
            received += chunk.len() as u64;
            if received > request.limit() {
                if continuing {
                    return self.restart("the resumed body ran past the promised size");
                }
                return Attempt::Fail(match request.size {
                    Some(size) => DownloadError::TooLong {
                        url: self.url.to_string(),
                        registry: request.registry.clone(),
                        size,
                    },
                    None => DownloadError::OverLimit {
                        url: self.url.to_string(),
                        registry: request.registry.clone(),
                        limit: request.limit(),
                    },
                });
            }
            hasher.update(&chunk);
            if let Err(source) = file.write_all(&chunk) {
                return self.io_failure(source);
            }
            meter.record(last_data, received);
            progress(received);
        }
        if let Some(size) = request.size.filter(|size| received < *size) {
            return Once::retry(format!("the body ended after {received} of {size} bytes"));
        }
        let actual: [u8; 32] = hasher.finalize().into();
        if actual != request.sha256 && continuing {
            // The resume may be what went wrong: one more try, from scratch, decides.
            return self.restart("the resumed download did not match its hash");
        }
        if actual != request.sha256 {
            return Attempt::Fail(DownloadError::HashMismatch {
                url: self.url.to_string(),
                registry: request.registry.clone(),
                expected: encode_hex(&request.sha256),
                actual: encode_hex(&actual),
            });
        }
        Attempt::Done(received - first)
    }
}

/// Empties `file` unless it is empty already (a new partial file is): on ext4, truncating a
/// file, even an empty one, makes its `close` start writing it out (the guard for files
/// rewritten in place), a flush a blob, checked whenever used, does not need.
fn emptied(file: &fs_err::File) -> std::io::Result<()> {
    if file.metadata()?.len() != 0 {
        file.set_len(0)?;
    }
    Ok(())
}

/// Where a body goes in the partial file.
enum Start<'a> {
    /// From byte 0, replacing whatever is there.
    Fresh,
    /// After the first `.0` bytes already there (a resumed download).
    Continuing(u64),
    /// After a launcher held in `launchers/`, whose hash state is given: the body is the rest.
    After(&'a LauncherRef, Sha256),
}
