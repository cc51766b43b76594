//! Downloading `.psp` blobs: several at once under a cap, each streamed to `blobs/<sha>.partial`
//! while hashed and counted, refused the moment it exceeds the indexed size, retried with
//! backoff when the network or server fails (never when the hash is wrong), and resumed with
//! `Range` + `If-Range` when interrupted (restarted when the server ignores the range). Every
//! URL scheme goes through the same path, over its [`Transport`].

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;

use super::transport::{
    GetRequest, Response, Resume, Served, Transport, TransportError, Transports,
};
use crate::format::metadata::encode_hex;

/// One blob to fetch.
#[derive(Debug, Clone)]
pub struct DownloadRequest {
    /// Where it is.
    pub url: Url,
    /// The SHA-256 the index promises.
    pub sha256: [u8; 32],
    /// The size the index promises.
    pub size: u64,
    /// The registry, for messages.
    pub registry: String,
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
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] pandora_core::IoError),
}

impl pandora_core::Hint for DownloadError {
    fn hint(&self) -> Option<String> {
        Some("nothing was installed; run the same command again to retry (finished downloads are kept)".into())
    }
}

/// How hard to try.
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
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        DownloadPolicy {
            parallel: 8,
            attempts: 5,
            backoff: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
        }
    }
}

/// Fetches blobs into a content-addressed directory.
#[derive(Debug)]
pub struct Downloader {
    runtime: tokio::runtime::Runtime,
    transports: Transports,
    policy: DownloadPolicy,
}

enum Attempt {
    Done,
    /// Worth another try (after the delay, if the server asked for one).
    Retry(TransportError, Option<Duration>),
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
        let semaphore = Arc::new(tokio::sync::Semaphore::new(self.policy.parallel.max(1)));
        self.runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for (index, request) in requests.iter().cloned().enumerate() {
                let (transports, policy, blobs, semaphore, progress) = (
                    self.transports.clone(),
                    self.policy,
                    blobs.to_path_buf(),
                    semaphore.clone(),
                    on_progress.clone(),
                );
                tasks.spawn(async move {
                    let _permit = semaphore.acquire_owned().await;
                    let report = move |bytes| progress(index, bytes);
                    (
                        index,
                        fetch(&transports, &policy, &request, &blobs, &report).await,
                    )
                });
            }
            let mut results: Vec<Option<Result<PathBuf, DownloadError>>> =
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

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> DownloadError + '_ {
    move |source| {
        DownloadError::Io(pandora_core::IoError {
            action: "access",
            path: path.to_path_buf(),
            source: source,
        })
    }
}

/// Fetches one blob, retrying and resuming as the policy allows.
async fn fetch(
    transports: &Transports,
    policy: &DownloadPolicy,
    request: &DownloadRequest,
    blobs: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<PathBuf, DownloadError> {
    let name = encode_hex(request.sha256);
    let target = blobs.join(&name);
    if target.is_file() {
        // Content-addressed: it was hashed when it was written.
        return Ok(target);
    }
    fs_err::create_dir_all(blobs).map_err(io_error(blobs))?;
    let transport = transports
        .for_url(&request.url)
        .map_err(|error| DownloadError::Transport {
            url: request.url.to_string(),
            registry: request.registry.clone(),
            detail: error.to_string(),
        })?;
    let partial = blobs.join(format!("{name}.partial"));
    let validator_path = blobs.join(format!("{name}.partial.validator"));
    let mut last = None;
    for attempt in 0..policy.attempts.max(1) {
        let once = Once {
            transport: transport.as_ref(),
            policy,
            request,
            partial: &partial,
            validator_path: &validator_path,
        };
        match once.attempt(progress).await {
            Attempt::Done => {
                fs_err::rename(&partial, &target).map_err(io_error(&target))?;
                let _ = fs_err::remove_file(&validator_path);
                crate::fs::sync_directory(blobs).map_err(io_error(blobs))?;
                return Ok(target);
            }
            Attempt::Fail(error) => {
                let _ = fs_err::remove_file(&partial);
                let _ = fs_err::remove_file(&validator_path);
                return Err(error);
            }
            Attempt::Retry(error, wait) => {
                last = Some(error);
                if attempt + 1 < policy.attempts {
                    let backoff = policy.backoff * 2u32.saturating_pow(attempt);
                    tokio::time::sleep(wait.unwrap_or(backoff).min(Duration::from_secs(30))).await;
                }
            }
        }
    }
    Err(match last {
        Some(TransportError::Status { status, .. }) => DownloadError::Status {
            url: request.url.to_string(),
            registry: request.registry.clone(),
            status,
        },
        other => DownloadError::Transport {
            url: request.url.to_string(),
            registry: request.registry.clone(),
            detail: other.map(|error| error.to_string()).unwrap_or_default(),
        },
    })
}

/// One attempt at one blob, continuing a partial download when the server allows it.
struct Once<'a> {
    transport: &'a dyn Transport,
    policy: &'a DownloadPolicy,
    request: &'a DownloadRequest,
    partial: &'a Path,
    validator_path: &'a Path,
}

impl Once<'_> {
    fn retry(detail: impl Into<String>) -> Attempt {
        Attempt::Retry(TransportError::Network(detail.into()), None)
    }

    fn io_failure(&self, source: std::io::Error) -> Attempt {
        Attempt::Fail(DownloadError::Io(pandora_core::IoError {
            action: "access",
            path: self.partial.to_path_buf(),
            source: source,
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
        let resume = match validator {
            Some(validator) if have > 0 && have < request.size => Some(Resume {
                from: have,
                validator,
            }),
            _ => None,
        };
        let get = GetRequest {
            resume,
            ..GetRequest::default()
        };
        let response = match tokio::time::timeout(
            self.policy.stall_timeout,
            self.transport.get(&request.url, &get),
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
                    url: request.url.to_string(),
                    registry: request.registry.clone(),
                    status,
                })
            }
            Ok(Err(error)) => {
                return Attempt::Fail(DownloadError::Transport {
                    url: request.url.to_string(),
                    registry: request.registry.clone(),
                    detail: error.to_string(),
                })
            }
            Ok(Ok(response)) => response,
        };
        // A continuation must start where we asked and carry exactly the missing bytes;
        // anything else starts over from byte 0.
        let continuing = match response.served {
            Served::Partial { start } => {
                if start != have
                    || response
                        .length
                        .is_some_and(|length| length != request.size - have)
                {
                    return self.restart("the server answered the range from the wrong offset");
                }
                true
            }
            Served::Full | Served::NotModified => false,
        };
        self.receive(response, have, continuing, progress).await
    }

    async fn receive(
        &self,
        mut response: Response,
        have: u64,
        continuing: bool,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Attempt {
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
        let mut received = if continuing {
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
            if let Err(source) = file.set_len(0) {
                return self.io_failure(source);
            }
            match response.etag.as_ref().or(response.last_modified.as_ref()) {
                Some(validator) => {
                    let _ = crate::fs::write_atomic(self.validator_path, validator.as_bytes());
                }
                None => {
                    let _ = fs_err::remove_file(self.validator_path);
                }
            }
            0
        };
        let _ = file.seek(SeekFrom::Start(received));
        loop {
            let chunk =
                match tokio::time::timeout(self.policy.stall_timeout, response.chunk()).await {
                    Err(_) => {
                        return Once::retry(format!(
                            "no data for {:?} after {received} bytes",
                            self.policy.stall_timeout
                        ))
                    }
                    Ok(Err(error)) => return Attempt::Retry(error, None),
                    Ok(Ok(None)) => break,
                    Ok(Ok(Some(chunk))) => chunk,
                };
            received += chunk.len() as u64;
            if received > request.size {
                if continuing {
                    return self.restart("the resumed body ran past the promised size");
                }
                return Attempt::Fail(DownloadError::TooLong {
                    url: request.url.to_string(),
                    registry: request.registry.clone(),
                    size: request.size,
                });
            }
            hasher.update(&chunk);
            if let Err(source) = file.write_all(&chunk) {
                return self.io_failure(source);
            }
            progress(received);
        }
        if received < request.size {
            return Once::retry(format!(
                "the body ended after {received} of {} bytes",
                request.size
            ));
        }
        let actual: [u8; 32] = hasher.finalize().into();
        if actual != request.sha256 && continuing {
            // The resume may be what went wrong: one more try, from scratch, decides.
            return self.restart("the resumed download did not match its hash");
        }
        if actual != request.sha256 {
            return Attempt::Fail(DownloadError::HashMismatch {
                url: request.url.to_string(),
                registry: request.registry.clone(),
                expected: encode_hex(request.sha256),
                actual: encode_hex(actual),
            });
        }
        if let Err(source) = file.sync_all() {
            return self.io_failure(source);
        }
        Attempt::Done
    }
}
