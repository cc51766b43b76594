//! Fetching a registry's index: conditional requests (ETag / Last-Modified), a per-registry
//! cache under `cache/registries/NAME/` that is fresh for a TTL and usable `--offline`, and the
//! trust checks: a registry with keys must sign its index with one of them; an index older than
//! one already seen (rollback) or past its `expires` (freeze) is refused.
//!
//! The cache is verified again every time it is used: nothing on disk is trusted for having
//! been checked once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use acl_parser::{Block, Document};
use pandora_core::PublicKey;
use url::Url;

use super::download::Downloader;
use super::index::{parse_signature_file, RegistryIndex};
use super::transport::{GetRequest, Served, TransportError};

/// A configured registry, as the client needs it.
#[derive(Debug, Clone)]
pub struct RegistrySource {
    /// Its name in `registries.acl`.
    pub name: String,
    /// Base URL (ends with `/`).
    pub url: Url,
    /// Keys allowed to sign its index (empty: unsigned indexes accepted).
    pub keys: Vec<PublicKey>,
    /// How long a fetched index is used without asking the server again.
    pub ttl: Duration,
}

impl RegistrySource {
    /// `index.acl` under the registry's URL.
    pub fn index_url(&self) -> Url {
        self.file_url("index.acl")
    }

    fn file_url(&self, name: &str) -> Url {
        let mut url = self.url.clone();
        // A registry URL names a directory; without the trailing slash `join` would replace
        // its last segment instead of descending into it.
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        url.join(name).unwrap_or(url)
    }
}

/// Tries per index fetch: one retry covers a blip, and a registry that is down costs every
/// command only one short backoff (the others are used meanwhile; blobs retry longer).
const INDEX_ATTEMPTS: u32 = 2;

/// Bounds on fetching an index (DESIGN.md invariant 9): a server that streams forever, or
/// trickles, is cut off.
#[derive(Debug, Clone, Copy)]
pub struct IndexLimits {
    /// The largest `index.acl` accepted (default 256 MiB: far beyond 100,000 packages).
    pub index_bytes: u64,
    /// The largest `index.acl.sig` accepted (default 64 KiB; a real one is about 300 bytes).
    pub signature_bytes: u64,
    /// How long one fetch may take in all, however the bytes trickle in (default 120 s).
    pub deadline: Duration,
}

impl Default for IndexLimits {
    fn default() -> Self {
        IndexLimits {
            index_bytes: 256 << 20,
            signature_bytes: 64 << 10,
            deadline: Duration::from_secs(120),
        }
    }
}

/// Why an index could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The index could not be fetched.
    #[error("registry `{registry}`: cannot fetch {url}: {detail}")]
    Fetch {
        /// The registry.
        registry: String,
        /// The URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The registry has keys but serves no signature.
    #[error(
        "registry `{registry}`: {url} is not signed, but the registry is configured with keys"
    )]
    Unsigned {
        /// The registry.
        registry: String,
        /// The index's URL.
        url: String,
    },
    /// Signed by a key the registry is not configured to trust.
    #[error("registry `{registry}`: the index is signed by key {key} (fingerprint {}), which is not one of the registry's keys", key.fingerprint())]
    UnknownKey {
        /// The registry.
        registry: String,
        /// The registry's URL, for the hint.
        url: String,
        /// The signing key.
        key: PublicKey,
    },
    /// The signature does not match the index.
    #[error("registry `{registry}`: the signature of {url} does not match its contents")]
    BadSignature {
        /// The registry.
        registry: String,
        /// The index's URL.
        url: String,
    },
    /// An index older than one already seen.
    #[error("registry `{registry}`: the index has serial {serial}, older than serial {seen} already seen (a rollback?)")]
    Rollback {
        /// The registry.
        registry: String,
        /// The served serial.
        serial: i64,
        /// The highest serial seen.
        seen: i64,
    },
    /// An index past its expiry.
    #[error("registry `{registry}`: the index expired at {expired} (a frozen mirror?)")]
    Expired {
        /// The registry.
        registry: String,
        /// When, RFC 3339.
        expired: String,
    },
    /// The index does not parse.
    #[error("registry `{registry}`: the index is not valid")]
    Invalid {
        /// The registry.
        registry: String,
        /// What is wrong, where.
        #[source]
        source: acl_parser::Error,
    },
    /// `--offline` with nothing cached.
    #[error("registry `{registry}`: no cached index, and --offline forbids fetching one")]
    NotCached {
        /// The registry.
        registry: String,
    },
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] pandora_core::IoError),
}

impl pandora_core::Hint for IndexError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            IndexError::Unsigned { registry, .. } | IndexError::BadSignature { registry, .. } => {
                format!("the index may have been tampered with; tell the registry's operator, or `pandora registry remove {registry}`")
            }
            IndexError::UnknownKey { registry, url, key } => {
                format!("if the registry's operator confirms it changed its key to {key}, re-add it: `pandora registry remove {registry}` then `pandora registry add {registry} {url} --key {key}`")
            }
            IndexError::Rollback { registry, .. } => format!(
                "the server is serving stale data; try again later or use another mirror. If the registry was rebuilt, forget what was seen: `pandora registry remove {registry}`, then add it again"
            ),
            IndexError::Expired { .. } => {
                "the server is serving stale data; try again later or use another mirror".into()
            }
            IndexError::NotCached { .. } => "run once without --offline".into(),
            _ => return None,
        })
    }
}

/// What the cache remembers about a registry besides its files. The highest serial seen is
/// remembered for the keys that signed it: when the registry's keys change (a rotation, or a
/// registry rebuilt), what was seen under the old keys says nothing about the new ones, so it
/// is forgotten. Otherwise an index signed once with an absurd serial would lock the registry
/// out forever, even after its operator rotated the compromised key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CacheState {
    etag: Option<String>,
    last_modified: Option<String>,
    fetched_at: i64,
    max_serial: i64,
    keys: String,
}

/// The registry's keys as the cache records them: sorted, comma-separated.
fn key_set(source: &RegistrySource) -> String {
    let mut keys: Vec<String> = source.keys.iter().map(ToString::to_string).collect();
    keys.sort();
    keys.join(",")
}

/// The directory caching registry `name`'s index and what was seen of it.
pub fn cache_directory(cache_root: &Path, name: &str) -> PathBuf {
    cache_root.join("registries").join(name)
}

/// Forgets everything cached about registry `name`, including the highest serial seen: for a
/// registry removed from the configuration, so that adding it again starts afresh.
pub fn forget(cache_root: &Path, name: &str) -> Result<(), pandora_core::IoError> {
    let directory = cache_directory(cache_root, name);
    crate::fs::remove_tree(&directory).map_err(pandora_core::IoError::at("remove", &directory))
}

impl CacheState {
    fn load(path: &Path) -> CacheState {
        let Ok(text) = fs_err::read_to_string(path) else {
            return CacheState::default();
        };
        let Ok(document) = acl_parser::from_str(&path.display().to_string(), &text) else {
            return CacheState::default();
        };
        let text = |field: &str| {
            document
                .get_str(&format!("Cache.{field}"))
                .ok()
                .filter(|value| !value.is_empty())
                .map(str::to_string)
        };
        CacheState {
            etag: text("etag"),
            last_modified: text("last_modified"),
            fetched_at: document.get_int("Cache.fetched_at").unwrap_or(0),
            max_serial: document.get_int("Cache.max_serial").unwrap_or(0),
            keys: text("keys").unwrap_or_default(),
        }
    }

    fn to_acl(&self) -> String {
        let block = Block::new("Cache")
            .with("etag", self.etag.clone().unwrap_or_default())
            .with(
                "last_modified",
                self.last_modified.clone().unwrap_or_default(),
            )
            .with("fetched_at", self.fetched_at)
            .with("max_serial", self.max_serial)
            .with("keys", self.keys.clone());
        Document::new().with_block(block).to_string()
    }
}

/// A fetched body, or the server's word that the cached copy is current.
enum Fetched {
    Body(String, Option<String>, Option<String>),
    NotModified,
}

/// Loads a registry's index: from the cache while fresh (or `offline`), else from the network,
/// within the default [`IndexLimits`].
pub fn load_index(
    downloader: &Downloader,
    source: &RegistrySource,
    cache_root: &Path,
    offline: bool,
    now: i64,
) -> Result<RegistryIndex, IndexError> {
    load_index_within(
        downloader,
        source,
        cache_root,
        offline,
        now,
        &IndexLimits::default(),
    )
}

/// [`load_index`] within explicit limits. Emits a `fetch` event: the registry, the index URL
/// and the status (`fetched`, `not-modified`, `cached`, or `failed` with the cause).
pub fn load_index_within(
    downloader: &Downloader,
    source: &RegistrySource,
    cache_root: &Path,
    offline: bool,
    now: i64,
    limits: &IndexLimits,
) -> Result<RegistryIndex, IndexError> {
    let mut status = "cached";
    let result = load_index_reporting(
        downloader,
        source,
        cache_root,
        offline,
        now,
        limits,
        &mut status,
    );
    let event = pandora_core::events::Event::new("fetch")
        .with("registry", &source.name)
        .with("url", source.index_url());
    match &result {
        Ok(index) => event.with("status", status).with("serial", index.serial),
        Err(error) => event
            .with("status", "failed")
            .with("cause", pandora_core::error::chain(error)),
    }
    .emit();
    result
}

fn load_index_reporting(
    downloader: &Downloader,
    source: &RegistrySource,
    cache_root: &Path,
    offline: bool,
    now: i64,
    limits: &IndexLimits,
    status: &mut &'static str,
) -> Result<RegistryIndex, IndexError> {
    let directory = cache_directory(cache_root, &source.name);
    let (index_path, signature_path, state_path) = (
        directory.join("index.acl"),
        directory.join("index.acl.sig"),
        directory.join("state.acl"),
    );
    let mut state = CacheState::load(&state_path);
    let keys = key_set(source);
    let same_keys = state.keys == keys;
    if !same_keys {
        // While one key trusted before is still trusted (a rotation overlap), what was seen
        // under it still counts: an old index it signed must not be replayable. Only a key set
        // with nothing in common with the old one (the old keys all retired) starts afresh.
        let continues = state
            .keys
            .split(',')
            .filter(|key| !key.is_empty())
            .any(|key| keys.split(',').any(|current| current == key));
        state = if continues {
            CacheState { keys, ..state }
        } else {
            CacheState {
                keys,
                ..CacheState::default()
            }
        };
    }
    let cached = fs_err::read_to_string(&index_path)
        .ok()
        .filter(|_| same_keys);
    let cached_signature = fs_err::read_to_string(&signature_path).ok();
    let index_url = source.index_url();
    let fresh = cached.is_some()
        && now.saturating_sub(state.fetched_at)
            < i64::try_from(source.ttl.as_secs()).unwrap_or(i64::MAX);
    let (text, signature, fetched) = match (&cached, offline || fresh) {
        (Some(text), true) => (text.clone(), cached_signature, false),
        (None, true) if offline => {
            return Err(IndexError::NotCached {
                registry: source.name.clone(),
            })
        }
        _ => match fetch(
            downloader,
            source,
            &index_url,
            cached.as_ref().map(|_| &state),
            limits.index_bytes,
            limits.deadline,
        )? {
            Fetched::NotModified => {
                *status = "not-modified";
                (cached.clone().unwrap_or_default(), cached_signature, true)
            }
            Fetched::Body(text, etag, last_modified) => {
                *status = "fetched";
                state.etag = etag;
                state.last_modified = last_modified;
                let signature_url = source.file_url("index.acl.sig");
                let signature = match fetch(
                    downloader,
                    source,
                    &signature_url,
                    None,
                    limits.signature_bytes,
                    limits.deadline,
                ) {
                    Ok(Fetched::Body(signature, ..)) => Some(signature),
                    Ok(Fetched::NotModified) | Err(_) => None,
                };
                (text, signature, true)
            }
        },
    };
    check_signature(source, &index_url, &text, signature.as_deref())?;
    let index = RegistryIndex::parse(index_url.as_str(), &text).map_err(|source_error| {
        IndexError::Invalid {
            registry: source.name.clone(),
            source: source_error,
        }
    })?;
    if index.expires <= now {
        return Err(IndexError::Expired {
            registry: source.name.clone(),
            expired: pandora_core::time::rfc3339(u64::try_from(index.expires).unwrap_or(0)),
        });
    }
    if index.serial < state.max_serial {
        return Err(IndexError::Rollback {
            registry: source.name.clone(),
            serial: index.serial,
            seen: state.max_serial,
        });
    }
    if fetched {
        state.fetched_at = now;
        state.max_serial = state.max_serial.max(index.serial);
        fs_err::create_dir_all(&directory).map_err(|error| {
            IndexError::Io(pandora_core::IoError {
                action: "access",
                path: directory.clone(),
                source: error,
            })
        })?;
        let write = |path: &Path, bytes: &[u8]| {
            crate::fs::write_atomic(path, bytes).map_err(|error| {
                IndexError::Io(pandora_core::IoError {
                    action: "access",
                    path: path.to_path_buf(),
                    source: error,
                })
            })
        };
        write(&index_path, text.as_bytes())?;
        match &signature {
            Some(signature) => write(&signature_path, signature.as_bytes())?,
            None => {
                let _ = fs_err::remove_file(&signature_path);
            }
        }
        write(&state_path, state.to_acl().as_bytes())?;
    }
    Ok(index)
}

fn check_signature(
    source: &RegistrySource,
    url: &Url,
    text: &str,
    signature: Option<&str>,
) -> Result<(), IndexError> {
    if source.keys.is_empty() {
        return Ok(());
    }
    let unsigned = || IndexError::Unsigned {
        registry: source.name.clone(),
        url: url.to_string(),
    };
    let bad = || IndexError::BadSignature {
        registry: source.name.clone(),
        url: url.to_string(),
    };
    let (key, signature) = parse_signature_file("index.acl.sig", signature.ok_or_else(unsigned)?)
        .map_err(|_| bad())?;
    if !source.keys.contains(&key) {
        return Err(IndexError::UnknownKey {
            registry: source.name.clone(),
            url: source.url.to_string(),
            key,
        });
    }
    if key.verify(text.as_bytes(), &signature) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Fetches a small text file (an index or its signature) over the registry's transport:
/// conditional on the cached validators, at most `limit` bytes, no stall longer than the
/// policy allows and no longer than `deadline` in all; transient failures are retried with
/// backoff as blob downloads are.
fn fetch(
    downloader: &Downloader,
    source: &RegistrySource,
    url: &Url,
    cached: Option<&CacheState>,
    limit: u64,
    deadline: Duration,
) -> Result<Fetched, IndexError> {
    let failure = |detail: String| IndexError::Fetch {
        registry: source.name.clone(),
        url: url.to_string(),
        detail,
    };
    let transport = downloader
        .transports()
        .for_url(url)
        .map_err(|error| failure(error.to_string()))?;
    let request = GetRequest {
        if_none_match: cached.and_then(|state| state.etag.clone()),
        if_modified_since: cached.and_then(|state| state.last_modified.clone()),
        resume: None,
    };
    let policy = *downloader.policy();
    let once = || async {
        let mut response = tokio::time::timeout(policy.stall_timeout, transport.get(url, &request))
            .await
            .map_err(|_| TransportError::Network("no response before the timeout".into()))??;
        if response.served == Served::NotModified {
            return Ok(Fetched::NotModified);
        }
        if response.length.is_some_and(|length| length > limit) {
            return Err(TransportError::Unsupported(format!(
                "it is larger than the {limit}-byte limit"
            )));
        }
        let mut body = Vec::new();
        loop {
            let chunk = tokio::time::timeout(policy.stall_timeout, response.chunk())
                .await
                .map_err(|_| {
                    TransportError::Network(format!(
                        "no data for {:?} after {} bytes",
                        policy.stall_timeout,
                        body.len()
                    ))
                })??;
            let Some(chunk) = chunk else { break };
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(TransportError::Unsupported(format!(
                    "it is larger than the {limit}-byte limit"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body)
            .map_err(|_| TransportError::Unsupported("it is not UTF-8 text".into()))?;
        Ok(Fetched::Body(text, response.etag, response.last_modified))
    };
    downloader.block_on(async {
        let mut attempt = 0;
        loop {
            let result = match tokio::time::timeout(deadline, once()).await {
                Ok(result) => result,
                Err(_) => Err(TransportError::Network(format!(
                    "not complete after {deadline:?}"
                ))),
            };
            match result {
                Ok(fetched) => return Ok(fetched),
                Err(error)
                    if error.is_transient()
                        && attempt + 1 < INDEX_ATTEMPTS.min(policy.attempts) =>
                {
                    let wait = match &error {
                        TransportError::Status {
                            retry_after: Some(wait),
                            ..
                        } => *wait,
                        _ => policy.backoff * 2u32.saturating_pow(attempt),
                    };
                    tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
                    attempt += 1;
                }
                Err(error) => return Err(failure(error.to_string())),
            }
        }
    })
}
