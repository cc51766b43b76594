//! Downloading `.psp` blobs: several at once under a cap, each streamed to `blobs/<sha>.partial`
//! while hashed and counted, refused the moment it exceeds the indexed size, retried with
//! backoff when the network or server fails (never when the hash is wrong), and resumed with
//! `Range` + `If-Range` when interrupted (restarted when the server ignores the range).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;

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
    /// The blob cache cannot be written.
    #[error("cannot write {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
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
    client: reqwest::Client,
    policy: DownloadPolicy,
}

enum Attempt {
    Done,
    /// Worth another try (after the delay, if the server asked for one).
    Retry(String, Option<Duration>),
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
            client,
            policy,
        })
    }

    /// The HTTP client (shared with index fetches).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
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
                let (client, policy, blobs, semaphore, progress) = (
                    self.client.clone(),
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
                        fetch(&client, &policy, &request, &blobs, &report).await,
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
    move |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Fetches one blob, retrying and resuming as the policy allows.
async fn fetch(
    client: &reqwest::Client,
    policy: &DownloadPolicy,
    request: &DownloadRequest,
    blobs: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<PathBuf, DownloadError> {
    let name = encode_hex(&request.sha256);
    let target = blobs.join(&name);
    if target.is_file() {
        // Content-addressed: it was hashed when it was written.
        return Ok(target);
    }
    std::fs::create_dir_all(blobs).map_err(io_error(blobs))?;
    if request.url.scheme() == "file" {
        return copy_local(request, blobs, &target);
    }
    let partial = blobs.join(format!("{name}.partial"));
    let validator_path = blobs.join(format!("{name}.partial.validator"));
    let mut last = String::new();
    for attempt in 0..policy.attempts.max(1) {
        match try_once(client, policy, request, &partial, &validator_path, progress).await {
            Attempt::Done => {
                std::fs::rename(&partial, &target).map_err(io_error(&target))?;
                let _ = std::fs::remove_file(&validator_path);
                crate::fs::sync_directory(blobs).map_err(io_error(blobs))?;
                return Ok(target);
            }
            Attempt::Fail(error) => {
                let _ = std::fs::remove_file(&partial);
                let _ = std::fs::remove_file(&validator_path);
                return Err(error);
            }
            Attempt::Retry(detail, wait) => {
                last = detail;
                if attempt + 1 < policy.attempts {
                    let backoff = policy.backoff * 2u32.saturating_pow(attempt);
                    tokio::time::sleep(wait.unwrap_or(backoff).min(Duration::from_secs(30))).await;
                }
            }
        }
    }
    Err(
        match last
            .strip_prefix("status ")
            .and_then(|code| code.parse().ok())
        {
            Some(status) => DownloadError::Status {
                url: request.url.to_string(),
                registry: request.registry.clone(),
                status,
            },
            None => DownloadError::Transport {
                url: request.url.to_string(),
                registry: request.registry.clone(),
                detail: last,
            },
        },
    )
}

async fn try_once(
    client: &reqwest::Client,
    policy: &DownloadPolicy,
    request: &DownloadRequest,
    partial: &Path,
    validator_path: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Attempt {
    let have = std::fs::metadata(partial)
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    let validator = std::fs::read_to_string(validator_path).ok();
    let resume = have > 0 && have < request.size && validator.is_some();
    let mut builder = client.get(request.url.clone());
    if resume {
        builder = builder
            .header(reqwest::header::RANGE, format!("bytes={have}-"))
            .header(
                reqwest::header::IF_RANGE,
                validator.clone().unwrap_or_default(),
            );
    }
    let response = match tokio::time::timeout(policy.stall_timeout, builder.send()).await {
        Err(_) => return Attempt::Retry("no response before the timeout".into(), None),
        Ok(Err(error)) => return Attempt::Retry(describe(&error), None),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Attempt::Retry("status 429".into(), wait);
    }
    if status.is_server_error() {
        return Attempt::Retry(format!("status {}", status.as_u16()), None);
    }
    if !status.is_success() {
        return Attempt::Fail(DownloadError::Status {
            url: request.url.to_string(),
            registry: request.registry.clone(),
            status: status.as_u16(),
        });
    }
    // A 206 must start where we asked; anything else starts over from byte 0.
    let continuing = resume
        && status == reqwest::StatusCode::PARTIAL_CONTENT
        && response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("bytes "))
            .and_then(|value| value.split('-').next())
            .and_then(|start| start.parse::<u64>().ok())
            == Some(have);
    // ...and carry exactly the missing bytes.
    let continuing = continuing
        && response
            .content_length()
            .is_none_or(|length| length == request.size - have);
    if resume && status == reqwest::StatusCode::PARTIAL_CONTENT && !continuing {
        let _ = std::fs::remove_file(partial);
        let _ = std::fs::remove_file(validator_path);
        return Attempt::Retry(
            "the server answered the range from the wrong offset".into(),
            None,
        );
    }
    let validator = response
        .headers()
        .get(reqwest::header::ETAG)
        .or_else(|| response.headers().get(reqwest::header::LAST_MODIFIED))
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let mut file = match std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(partial)
    {
        Ok(file) => file,
        Err(source) => {
            return Attempt::Fail(DownloadError::Io {
                path: partial.to_path_buf(),
                source,
            })
        }
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
            return Attempt::Fail(DownloadError::Io {
                path: partial.to_path_buf(),
                source,
            });
        }
        match &validator {
            Some(validator) => {
                let _ = crate::fs::write_atomic(validator_path, validator.as_bytes());
            }
            None => {
                let _ = std::fs::remove_file(validator_path);
            }
        }
        0
    };
    let _ = file.seek(SeekFrom::Start(received));
    let mut response = response;
    loop {
        let chunk = match tokio::time::timeout(policy.stall_timeout, response.chunk()).await {
            Err(_) => {
                return Attempt::Retry(
                    format!(
                        "no data for {:?} after {received} bytes",
                        policy.stall_timeout
                    ),
                    None,
                )
            }
            Ok(Err(error)) => return Attempt::Retry(describe(&error), None),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => chunk,
        };
        received += chunk.len() as u64;
        if received > request.size {
            if continuing {
                return restart(
                    partial,
                    validator_path,
                    "the resumed body ran past the promised size",
                );
            }
            return Attempt::Fail(DownloadError::TooLong {
                url: request.url.to_string(),
                registry: request.registry.clone(),
                size: request.size,
            });
        }
        hasher.update(&chunk);
        if let Err(source) = file.write_all(&chunk) {
            return Attempt::Fail(DownloadError::Io {
                path: partial.to_path_buf(),
                source,
            });
        }
        progress(received);
    }
    if received < request.size {
        return Attempt::Retry(
            format!("the body ended after {received} of {} bytes", request.size),
            None,
        );
    }
    let actual: [u8; 32] = hasher.finalize().into();
    if actual != request.sha256 && continuing {
        // The resume may be what went wrong: one more try, from scratch, decides.
        return restart(
            partial,
            validator_path,
            "the resumed download did not match its hash",
        );
    }
    if actual != request.sha256 {
        return Attempt::Fail(DownloadError::HashMismatch {
            url: request.url.to_string(),
            registry: request.registry.clone(),
            expected: encode_hex(&request.sha256),
            actual: encode_hex(&actual),
        });
    }
    if let Err(source) = file.sync_all() {
        return Attempt::Fail(DownloadError::Io {
            path: partial.to_path_buf(),
            source,
        });
    }
    Attempt::Done
}

/// Drops a partial download so the next attempt starts from byte 0 without a range.
fn restart(partial: &Path, validator_path: &Path, reason: &str) -> Attempt {
    let _ = std::fs::remove_file(partial);
    let _ = std::fs::remove_file(validator_path);
    Attempt::Retry(reason.to_string(), None)
}

/// `file://` blobs: copied, hashed and size-checked the same way.
fn copy_local(
    request: &DownloadRequest,
    blobs: &Path,
    target: &Path,
) -> Result<PathBuf, DownloadError> {
    let source = request
        .url
        .to_file_path()
        .map_err(|()| DownloadError::Transport {
            url: request.url.to_string(),
            registry: request.registry.clone(),
            detail: "not a local path".into(),
        })?;
    let mut input = std::fs::File::open(&source).map_err(|error| DownloadError::Transport {
        url: request.url.to_string(),
        registry: request.registry.clone(),
        detail: error.to_string(),
    })?;
    let mut temporary = tempfile::Builder::new()
        .prefix(".blob-")
        .tempfile_in(blobs)
        .map_err(io_error(blobs))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 << 10];
    let mut received = 0u64;
    loop {
        let read = input.read(&mut buffer).map_err(io_error(&source))?;
        if read == 0 {
            break;
        }
        received += read as u64;
        if received > request.size {
            return Err(DownloadError::TooLong {
                url: request.url.to_string(),
                registry: request.registry.clone(),
                size: request.size,
            });
        }
        hasher.update(&buffer[..read]);
        temporary
            .write_all(&buffer[..read])
            .map_err(io_error(temporary.path()))?;
    }
    let actual: [u8; 32] = hasher.finalize().into();
    if actual != request.sha256 || received != request.size {
        return Err(DownloadError::HashMismatch {
            url: request.url.to_string(),
            registry: request.registry.clone(),
            expected: encode_hex(&request.sha256),
            actual: encode_hex(&actual),
        });
    }
    temporary.as_file().sync_all().map_err(io_error(target))?;
    temporary
        .persist(target)
        .map_err(|error| DownloadError::Io {
            path: target.to_path_buf(),
            source: error.error,
        })?;
    Ok(target.to_path_buf())
}

fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
