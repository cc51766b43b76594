//! Fetching a registry's index: conditional requests (ETag / Last-Modified), a per-registry
//! cache under `cache/registries/NAME/` that is fresh for a TTL (unless refreshed) and usable
//! `--offline`, and the trust checks: a registry with keys must sign its index with one of
//! them; an index older than one already seen (rollback) or past its `expires` (freeze) is
//! refused. An index without a serial cannot be checked for rollback, nor one without
//! `expires` for a freeze.
//!
//! A registry may have mirrors: its URLs are tried in order (the configured one, then each
//! mirror) until one serves an index that passes every check, so a mirror that is down, stale
//! or signed by another key costs only a warning. What each URL did wrong is in
//! [`IndexError::EveryUrl`] when none served.
//!
//! The cache is verified again every time it is used: nothing on disk is trusted for having
//! been checked once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use acl_parser::{Block, Document};
use pandora_core::PublicKey;
use url::Url;

use pandora_core::Sha256;

use super::compact;
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
    /// Other base URLs serving the same registry, tried in order after `url`.
    pub mirrors: Vec<Url>,
    /// Keys allowed to sign its index (empty: unsigned indexes accepted).
    pub keys: Vec<PublicKey>,
    /// Whether the configuration requires signatures (for messages: with keys, an index must
    /// be signed either way).
    pub require_signatures: bool,
    /// How long a fetched index is used without asking the server again.
    pub ttl: Duration,
}

impl RegistrySource {
    /// `index.acl` under the registry's URL.
    pub fn index_url(&self) -> Url {
        file_url(&self.url, "index.acl")
    }

    /// `index.acl` under the registry's URL, then under each mirror's.
    pub fn index_urls(&self) -> Vec<Url> {
        std::iter::once(&self.url)
            .chain(&self.mirrors)
            .map(|base| file_url(base, "index.acl"))
            .collect()
    }
}

/// `name` under the directory `base`.
fn file_url(base: &Url, name: &str) -> Url {
    let mut url = base.clone();
    // A registry URL names a directory; without the trailing slash `join` would replace
    // its last segment instead of descending into it.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.join(name).unwrap_or(url)
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
    /// How long a server may take to start answering, or pause while answering (default
    /// 10 s, or the download stall timeout when that is shorter): an index is small, and a
    /// registry that accepts connections but never answers must not hold a command for long.
    pub response: Duration,
}

impl Default for IndexLimits {
    fn default() -> Self {
        IndexLimits {
            index_bytes: 256 << 20,
            signature_bytes: 64 << 10,
            deadline: Duration::from_secs(120),
            response: Duration::from_secs(10),
        }
    }
}

/// When to ask the registry rather than use the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The cache while it is younger than the registry's TTL, else the network.
    Cached,
    /// The cache only (`--offline`).
    Offline,
    /// The network now, whatever the cache's age (`--refresh`, `pandora update`).
    Refresh,
}

impl Freshness {
    /// `--offline` and `--refresh` as flags (clap keeps them apart).
    pub fn from_flags(offline: bool, refresh: bool) -> Freshness {
        match (offline, refresh) {
            (true, _) => Freshness::Offline,
            (false, true) => Freshness::Refresh,
            (false, false) => Freshness::Cached,
        }
    }
}

/// A verified index, and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedIndex {
    /// The index.
    pub index: RegistryIndex,
    /// The URL of the `index.acl` that served it (relative package URLs resolve against it).
    pub served_by: Url,
    /// The registry's other `index.acl` URLs, in order (its mirrors, or its own URL when a
    /// mirror served).
    pub others: Vec<Url>,
    /// Whether its signature was verified against the registry's keys.
    pub signed: bool,
    /// Whether it was fetched now (rather than taken from the cache).
    pub fetched: bool,
    /// The serial of the index cached before (`None`: nothing cached, or it had no serial).
    pub previous_serial: Option<i64>,
    /// Whether an index was cached before.
    pub was_cached: bool,
}

/// What the cache holds about a registry, read without verifying anything: for display
/// (`pandora registry list`), never for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedSummary {
    /// The cached index's serial, if it has one.
    pub serial: Option<i64>,
    /// Whether a signature is cached with it.
    pub signed: bool,
    /// When it was fetched (Unix seconds).
    pub fetched_at: i64,
}

/// What the cache holds about registry `name`, if it holds an index that parses.
pub fn cached_summary(cache_root: &Path, name: &str) -> Option<CachedSummary> {
    let directory = cache_directory(cache_root, name);
    let text = fs_err::read_to_string(directory.join("index.acl")).ok()?;
    let index = RegistryIndex::parse("index.acl", &text).ok()?;
    let state = CacheState::load(&directory.join("state.acl"));
    Some(CachedSummary {
        serial: index.serial,
        signed: !state.keys.is_empty() && directory.join("index.acl.sig").is_file(),
        fetched_at: state.fetched_at,
    })
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
        "registry `{registry}`: {url} is not signed{}, but the registry {}",
        if *no_serial { " and has no serial" } else { "" },
        if *required { "requires signatures" } else { "is configured with keys" }
    )]
    Unsigned {
        /// The registry.
        registry: String,
        /// The index's URL.
        url: String,
        /// Whether the configuration requires signatures.
        required: bool,
        /// Whether the index has no serial either (so not even rollbacks could be detected).
        no_serial: bool,
    },
    /// None of the registry's URLs (itself and its mirrors) served a usable index.
    #[error(
        "registry `{registry}`: no URL served a usable index: {}",
        describe_failures(failures)
    )]
    EveryUrl {
        /// The registry.
        registry: String,
        /// Each `index.acl` URL tried, in order, and why it was not used.
        failures: Vec<(Url, IndexError)>,
    },
    /// Signed by a key the registry is not configured to trust.
    #[error("registry `{registry}`: the index is signed by key {key}, which is not one of the registry's keys")]
    UnknownKey {
        /// The registry.
        registry: String,
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

/// `URL (why); URL (why)`, each cause without the repeated registry name.
fn describe_failures(failures: &[(Url, IndexError)]) -> String {
    failures
        .iter()
        .map(|(url, error)| {
            let text = pandora_core::error::chain(error);
            let prefix = format!("registry `{}`: ", error.registry());
            let text = text.strip_prefix(&prefix).unwrap_or(&text);
            format!("{url}: {text}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl IndexError {
    /// The registry the error is about (empty for a local I/O error).
    pub fn registry(&self) -> &str {
        match self {
            IndexError::Fetch { registry, .. }
            | IndexError::Unsigned { registry, .. }
            | IndexError::EveryUrl { registry, .. }
            | IndexError::UnknownKey { registry, .. }
            | IndexError::BadSignature { registry, .. }
            | IndexError::Rollback { registry, .. }
            | IndexError::Expired { registry, .. }
            | IndexError::Invalid { registry, .. }
            | IndexError::NotCached { registry } => registry,
            IndexError::Io(_) => "",
        }
    }
}

impl pandora_core::Hint for IndexError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            IndexError::Unsigned {
                registry,
                no_serial: true,
                ..
            } => format!(
                "ask the registry's operator to sign the index (`pandora registry index` writes a signed one with a serial); only if an unauthenticated index without rollback protection is acceptable: `pandora registry remove {registry}`, then add it again without --key"
            ),
            IndexError::Unsigned { registry, .. } | IndexError::BadSignature { registry, .. } => {
                format!("the index may have been tampered with; tell the registry's operator, or `pandora registry remove {registry}`")
            }
            IndexError::UnknownKey { registry, .. } => {
                format!("if the registry changed its key, trust the new one: `pandora registry set {registry} --add-key ed25519:NEW`")
            }
            IndexError::EveryUrl { failures, .. } => {
                return failures
                    .first()
                    .and_then(|(_, error)| pandora_core::Hint::hint(error))
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
    /// The `index.acl` URL that served the cached index (conditional requests go only there).
    served_by: Option<String>,
    /// SHA-256 of the cached `index.acl` (lowercase hex): the compact index made from it must
    /// record the same (absent in caches written before compact indexes).
    index_sha256: Option<String>,
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

/// The highest serial of registry `name`'s index this home has seen (fetched, or signed when
/// publishing to it), 0 when none: a publisher never builds on an older index, nor starts a
/// new one over it.
pub fn highest_serial(cache_root: &Path, name: &str) -> i64 {
    CacheState::load(&cache_directory(cache_root, name).join("state.acl")).max_serial
}

/// Records that this home signed `serial` for registry `name` (see [`highest_serial`]); the
/// client then refuses anything older from it as it refuses a fetched rollback.
pub fn remember_serial(
    cache_root: &Path,
    name: &str,
    keys: &[PublicKey],
    serial: i64,
) -> Result<(), IndexError> {
    let directory = cache_directory(cache_root, name);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| {
            IndexError::Io(pandora_core::IoError {
                action: "write",
                path,
                source,
            })
        }
    };
    fs_err::create_dir_all(&directory).map_err(io(&directory))?;
    let _lock = cache_lock(&directory)?;
    let path = directory.join("state.acl");
    let mut state = CacheState::load(&path);
    if state.max_serial >= serial {
        return Ok(());
    }
    if state.keys.is_empty() {
        // Recorded under the registry's keys, as a fetch records what it saw.
        let mut sorted: Vec<String> = keys.iter().map(ToString::to_string).collect();
        sorted.sort();
        state.keys = sorted.join(",");
    }
    state.max_serial = serial;
    crate::fs::write_atomic(&path, state.to_acl().as_bytes()).map_err(io(&path))
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
            served_by: text("served_by"),
            index_sha256: text("index_sha256"),
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
            .with("keys", self.keys.clone())
            .with("served_by", self.served_by.clone().unwrap_or_default())
            .with(
                "index_sha256",
                self.index_sha256.clone().unwrap_or_default(),
            );
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

/// [`load_index`] within explicit limits.
pub fn load_index_within(
    downloader: &Downloader,
    source: &RegistrySource,
    cache_root: &Path,
    offline: bool,
    now: i64,
    limits: &IndexLimits,
) -> Result<RegistryIndex, IndexError> {
    let freshness = Freshness::from_flags(offline, false);
    load(downloader, source, cache_root, freshness, now, limits).map(|loaded| loaded.index)
}

/// Loads a registry's index as `freshness` says, trying the registry's URLs in order until one
/// serves an index that passes every check.
pub fn load(
    downloader: &Downloader,
    source: &RegistrySource,
    cache_root: &Path,
    freshness: Freshness,
    now: i64,
    limits: &IndexLimits,
) -> Result<LoadedIndex, IndexError> {
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
    let urls = source.index_urls();
    // The URL that served the cache, if it is still one of the registry's.
    let cached_from = state
        .served_by
        .as_deref()
        .and_then(|served| urls.iter().position(|url| url.as_str() == served));
    let young = now.saturating_sub(state.fetched_at)
        < i64::try_from(source.ttl.as_secs()).unwrap_or(i64::MAX);
    let cache_wanted = match freshness {
        Freshness::Offline => true,
        Freshness::Cached => young,
        Freshness::Refresh => false,
    };
    // The compact form, when the cache is to be used and is the one verified under these keys:
    // a lookup then costs what its answer costs. Anything wrong with it and the ACL below is
    // verified again (and the compact form rebuilt from it).
    if cache_wanted && same_keys {
        let position = cached_from.unwrap_or(0);
        let verify_again: compact::Fallback = {
            let (source, cache_root, directory, state, url) = (
                source.clone(),
                cache_root.to_path_buf(),
                directory.clone(),
                state.clone(),
                urls[position].clone(),
            );
            Box::new(move || {
                let text = fs_err::read_to_string(directory.join("index.acl")).ok()?;
                let signature = fs_err::read_to_string(directory.join("index.acl.sig")).ok();
                let index = verify(&source, &url, &text, signature.as_deref(), &state, now).ok()?;
                remember_compact(&source, &cache_root, &directory, &state, &text, &index);
                Some(index)
            })
        };
        if let Some(compact) = open_compact(source, cache_root, &directory, &state, verify_again) {
            let index = compact::CompactIndex::to_index(&compact);
            let checked = check_freshness(source, index.serial, index.expires, &state, now);
            let event = fetch_event(source, &urls[position]);
            match &checked {
                Ok(()) => event
                    .with("status", "cached")
                    .with("serial", index.serial.unwrap_or(0)),
                Err(error) => event
                    .with("status", "failed")
                    .with("cause", pandora_core::error::chain(error)),
            }
            .emit();
            checked?;
            let mut others = urls;
            let served_by = others.remove(position);
            return Ok(LoadedIndex {
                previous_serial: index.serial,
                index,
                served_by,
                others,
                signed: !source.keys.is_empty(),
                fetched: false,
                was_cached: true,
            });
        }
    }
    let cached = fs_err::read_to_string(&index_path)
        .ok()
        .filter(|_| same_keys);
    let cached_signature = fs_err::read_to_string(&signature_path).ok();
    let previous_serial = cached
        .as_deref()
        .and_then(|text| RegistryIndex::parse("index.acl", text).ok())
        .and_then(|index| index.serial);
    let use_cache = cache_wanted && (cached.is_some() || freshness == Freshness::Offline);
    let loaded = |index, position: usize, fetched| {
        let mut others = urls.clone();
        let served_by = others.remove(position);
        LoadedIndex {
            index,
            served_by,
            others,
            signed: !source.keys.is_empty(),
            fetched,
            previous_serial,
            was_cached: cached.is_some(),
        }
    };
    if use_cache {
        let Some(text) = &cached else {
            return Err(IndexError::NotCached {
                registry: source.name.clone(),
            });
        };
        let position = cached_from.unwrap_or(0);
        let verified = verify(
            source,
            &urls[position],
            text,
            cached_signature.as_deref(),
            &state,
            now,
        );
        let event = fetch_event(source, &urls[position]);
        match &verified {
            Ok(index) => event
                .with("status", "cached")
                .with("serial", serial_text(index.serial)),
            Err(error) => event
                .with("status", "failed")
                .with("cause", pandora_core::error::chain(error)),
        }
        .emit();
        let index = verified?;
        remember_compact(source, cache_root, &directory, &state, text, &index);
        return Ok(loaded(index, position, false));
    }
    let mut failures = Vec::new();
    for (position, url) in urls.iter().enumerate() {
        // Validators are only worth sending to the server they came from.
        let validators = (cached.is_some() && cached_from == Some(position)).then_some(&state);
        let fetch_index = |validators| {
            fetch_verified(
                downloader,
                source,
                url,
                validators,
                cached.as_deref().zip(Some(cached_signature.as_deref())),
                &state,
                now,
                limits,
            )
        };
        let mut attempt = fetch_index(validators);
        if matches!(attempt, Err(IndexError::BadSignature { .. })) {
            // A publisher replaces `index.acl`, then `index.acl.sig` (an object store has no
            // rename of two files at once): a client between the two sees a pair that does not
            // match. Both once more, unconditionally, a moment later.
            std::thread::sleep(SIGNATURE_RACE_WAIT);
            attempt = fetch_index(None);
        }
        let (index, text, signature, etag, last_modified, status) = match attempt {
            Ok(found) => found,
            Err(error) => {
                fetch_event(source, url)
                    .with("status", "failed")
                    .with("cause", pandora_core::error::chain(&error))
                    .emit();
                if matches!(error, IndexError::Io(_)) {
                    return Err(error);
                }
                failures.push((url.clone(), error));
                continue;
            }
        };
        fetch_event(source, url)
            .with("status", status)
            .with("serial", serial_text(index.serial))
            .emit();
        state.etag = etag;
        state.last_modified = last_modified;
        state.fetched_at = now;
        state.max_serial = state.max_serial.max(index.serial.unwrap_or(0));
        state.served_by = Some(url.to_string());
        state.index_sha256 = Some(Sha256::of(text.as_bytes()).to_string());
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
        {
            // Another process may have fetched meanwhile: what either saw must count.
            let _lock = cache_lock(&directory)?;
            let current = CacheState::load(&state_path);
            if current.keys == state.keys {
                state.max_serial = state.max_serial.max(current.max_serial);
            }
            write(&state_path, state.to_acl().as_bytes())?;
        }
        write_compact(source, cache_root, &directory, &state, &index);
        return Ok(loaded(index, position, true));
    }
    if failures.len() == 1 {
        return Err(failures.remove(0).1);
    }
    Err(IndexError::EveryUrl {
        registry: source.name.clone(),
        failures,
    })
}

/// A serial as the log writes it: the number, or `none` for an index without one.
fn serial_text(serial: Option<i64>) -> String {
    serial.map_or_else(|| "none".to_string(), |serial| serial.to_string())
}

/// The `fetch` event for one of a registry's index URLs: what was tried, for `--log` and `-v`.
fn fetch_event(source: &RegistrySource, url: &Url) -> pandora_core::events::Event {
    pandora_core::events::Event::new("fetch")
        .with("registry", &source.name)
        .with("url", url)
}

/// What one URL served, verified: the index, its text and signature, and the validators
/// (ETag, Last-Modified) to remember.
type VerifiedIndex = (
    RegistryIndex,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    &'static str,
);

/// Fetches `index.acl` (conditionally on `validators`, answered from `cached` text and
/// signature when not modified) and `index.acl.sig` from `url`, and verifies them.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn fetch_verified(
    downloader: &Downloader,
    source: &RegistrySource,
    url: &Url,
    validators: Option<&CacheState>,
    cached: Option<(&str, Option<&str>)>,
    state: &CacheState,
    now: i64,
    limits: &IndexLimits,
) -> Result<VerifiedIndex, IndexError> {
    let (text, signature, etag, last_modified, status) = match fetch(
        downloader,
        source,
        url,
        validators,
        limits.index_bytes,
        limits.deadline,
        limits.response,
    )? {
        Fetched::NotModified => {
            let (text, signature) = cached.unwrap_or_default();
            let validators = validators.cloned().unwrap_or_default();
            (
                text.to_string(),
                signature.map(str::to_string),
                validators.etag,
                validators.last_modified,
                "not-modified",
            )
        }
        Fetched::Body(text, etag, last_modified) => {
            // Beside the index: `url` names `index.acl` itself.
            let signature_url = url.join("index.acl.sig").unwrap_or_else(|_| url.clone());
            let signature = match fetch(
                downloader,
                source,
                &signature_url,
                None,
                limits.signature_bytes,
                limits.deadline,
                limits.response,
            ) {
                Ok(Fetched::Body(signature, ..)) => Some(signature),
                Ok(Fetched::NotModified) | Err(_) => None,
            };
            (text, signature, etag, last_modified, "fetched")
        }
    };
    let index = verify(source, url, &text, signature.as_deref(), state, now)?;
    Ok((index, text, signature, etag, last_modified, status))
}

/// Every check an index must pass, fetched or cached: its signature (when the registry has
/// keys), that it parses, that it has not expired, and that it is not older than one seen.
fn verify(
    source: &RegistrySource,
    url: &Url,
    text: &str,
    signature: Option<&str>,
    state: &CacheState,
    now: i64,
) -> Result<RegistryIndex, IndexError> {
    let parsed = RegistryIndex::parse(url.as_str(), text);
    let no_serial = parsed.as_ref().is_ok_and(|index| index.serial.is_none());
    check_signature(source, url, text, signature, no_serial)?;
    let index = parsed.map_err(|source_error| IndexError::Invalid {
        registry: source.name.clone(),
        source: source_error,
    })?;
    check_freshness(source, index.serial, index.expires, state, now)?;
    Ok(index)
}

/// The checks an index must pass every time it is used, whatever form it is read from: not
/// past its `expires`, not older than one already seen.
fn check_freshness(
    source: &RegistrySource,
    serial: Option<i64>,
    expires: Option<i64>,
    state: &CacheState,
    now: i64,
) -> Result<(), IndexError> {
    if let Some(expires) = expires.filter(|expires| *expires <= now) {
        return Err(IndexError::Expired {
            registry: source.name.clone(),
            expired: pandora_core::time::rfc3339(u64::try_from(expires).unwrap_or(0)),
        });
    }
    // Without a serial there is nothing to compare: such an index cannot be checked for a
    // rollback (README.md says so).
    if let Some(serial) = serial.filter(|serial| *serial < state.max_serial) {
        return Err(IndexError::Rollback {
            registry: source.name.clone(),
            serial,
            seen: state.max_serial,
        });
    }
    Ok(())
}

/// The lock serializing writes to a registry's cache directory (readers take none: every file
/// is replaced whole).
fn cache_lock(directory: &Path) -> Result<crate::fs::FileLock, IndexError> {
    let path = directory.join(".lock");
    crate::fs::FileLock::acquire(&path).map_err(|error| {
        IndexError::Io(pandora_core::IoError {
            action: "lock",
            path,
            source: error,
        })
    })
}

/// The `index-cache` event: what happened to a registry's compact index.
fn compact_event(source: &RegistrySource, status: &str) -> pandora_core::events::Event {
    pandora_core::events::Event::new("index-cache")
        .with("registry", &source.name)
        .with("status", status)
}

/// The compact index of registry `source`, if there is one made from the cached index the
/// state names, under the registry's current keys, and it is authentic.
fn open_compact(
    source: &RegistrySource,
    cache_root: &Path,
    directory: &Path,
    state: &CacheState,
    verify_again: compact::Fallback,
) -> Option<compact::Shared> {
    let expected = state
        .index_sha256
        .as_deref()
        .and_then(crate::format::metadata::decode_hex::<32>)?;
    let path = compact::path(directory);
    let key = compact::key(cache_root).ok()?;
    match compact::open(
        &path,
        &key,
        &expected.into(),
        &compact::key_set_digest(&state.keys),
        verify_again,
    ) {
        Ok(compact) => Some(compact),
        Err(compact::Refused::Unreadable { source: error, .. })
            if error.kind() == std::io::ErrorKind::NotFound =>
        {
            None
        }
        Err(refused) => {
            compact_event(source, "ignored")
                .with("cause", refused.to_string())
                .emit();
            None
        }
    }
}

/// After the cached `index.acl` (`text`) passed every check: remembers its digest in the state
/// if the state does not name it yet (a cache written before compact indexes), and writes its
/// compact form if the one on disk is not it.
fn remember_compact(
    source: &RegistrySource,
    cache_root: &Path,
    directory: &Path,
    state: &CacheState,
    text: &str,
    index: &RegistryIndex,
) {
    let digest = Sha256::of(text.as_bytes()).to_string();
    let mut state = state.clone();
    if state.index_sha256.as_deref() != Some(digest.as_str()) {
        let Ok(_lock) = cache_lock(directory) else {
            return;
        };
        // Only if nothing was fetched since this process read the state: else the state names
        // a newer index, and this one must not take its place.
        let state_path = directory.join("state.acl");
        let mut current = CacheState::load(&state_path);
        current.index_sha256 = state.index_sha256.clone();
        if current != state {
            return;
        }
        state.index_sha256 = Some(digest);
        if crate::fs::write_atomic(&state_path, state.to_acl().as_bytes()).is_err() {
            return;
        }
    }
    write_compact(source, cache_root, directory, &state, index);
}

/// Writes the compact form of `index`, just verified and named by `state`. Best effort: a
/// command that cannot write its cache still has its answer (the event says why).
fn write_compact(
    source: &RegistrySource,
    cache_root: &Path,
    directory: &Path,
    state: &CacheState,
    index: &RegistryIndex,
) {
    let Some(digest) = state
        .index_sha256
        .as_deref()
        .and_then(crate::format::metadata::decode_hex::<32>)
    else {
        return;
    };
    let facts = compact::Facts {
        index_sha256: digest.into(),
        keys_sha256: compact::key_set_digest(&state.keys),
        name: index.name.clone(),
        serial: index.serial,
        expires: index.expires,
        priority: index.priority,
    };
    let path = compact::path(directory);
    let key = match compact::key(cache_root) {
        Ok(key) => key,
        Err(error) => {
            let path = compact::key_path(cache_root);
            compact_event(source, "failed")
                .with("cause", format!("{}: {error}", path.display()))
                .emit();
            return;
        }
    };
    // A registry revalidated with a 304 serves the index already compacted: keep that file.
    let current = compact::open(
        &path,
        &key,
        &facts.index_sha256,
        &facts.keys_sha256,
        Box::new(|| None),
    );
    if current.is_ok() {
        return;
    }
    let written = compact::write(&path, &key, &facts, index);
    match written {
        Ok(()) => compact_event(source, "written"),
        Err(error) => compact_event(source, "failed").with("cause", error.to_string()),
    }
    .emit();
}

/// How long to wait before fetching an index again whose signature did not match it: more
/// than a publisher takes between writing the two files.
const SIGNATURE_RACE_WAIT: Duration = Duration::from_millis(500);

fn check_signature(
    source: &RegistrySource,
    url: &Url,
    text: &str,
    signature: Option<&str>,
    no_serial: bool,
) -> Result<(), IndexError> {
    if source.keys.is_empty() {
        return Ok(());
    }
    let unsigned = || IndexError::Unsigned {
        registry: source.name.clone(),
        url: url.to_string(),
        required: source.require_signatures,
        no_serial,
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
    response_timeout: Duration,
) -> Result<Fetched, IndexError> {
    fetch_text(downloader, url, cached, limit, deadline, response_timeout).map_err(|error| {
        IndexError::Fetch {
            registry: source.name.clone(),
            url: url.to_string(),
            detail: error.to_string(),
        }
    })
}

/// [`fetch`], with the transport's own error (so a caller can tell "not there" apart).
fn fetch_text(
    downloader: &Downloader,
    url: &Url,
    cached: Option<&CacheState>,
    limit: u64,
    deadline: Duration,
    response_timeout: Duration,
) -> Result<Fetched, TransportError> {
    let transport = downloader.transports().for_url(url)?;
    let etag = cached.and_then(|state| state.etag.clone());
    let request = GetRequest {
        // With an ETag, the date is left out: RFC 9110 says a server ignores it then, but some
        // (moto's S3) answer 304 for a date within the same second as a newer index, so an
        // update published that second would be missed.
        if_modified_since: cached
            .filter(|_| etag.is_none())
            .and_then(|state| state.last_modified.clone()),
        if_none_match: etag,
        resume: None,
    };
    let policy = *downloader.policy();
    let stall = policy.stall_timeout.min(response_timeout);
    let once = || async {
        let mut response = tokio::time::timeout(stall, transport.get(url, &request))
            .await
            .map_err(|_| TransportError::Network(format!("no response within {stall:?}")))??;
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
            let chunk = tokio::time::timeout(stall, response.chunk())
                .await
                .map_err(|_| {
                    TransportError::Network(format!(
                        "no data for {:?} after {} bytes",
                        stall,
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
                Err(error) => return Err(error),
            }
        }
    })
}

/// Largest signed side file ([`fetch_signed`]) read: 64 MiB, as for an index.
const SIDE_FILE_LIMIT: u64 = 64 << 20;

/// A file the registry publishes beside its index and signs the same way (`NAME` and
/// `NAME.sig`, e.g. `metrics.acl`), fetched over the registry's transport from its URL or,
/// when that fails, its mirrors, and verified against the registry's keys. `Ok(None)`: no
/// URL has the file (404, or no such local file).
pub fn fetch_signed(
    downloader: &Downloader,
    source: &RegistrySource,
    name: &str,
) -> Result<Option<String>, IndexError> {
    let limits = IndexLimits::default();
    let mut failures = Vec::new();
    let mut missing = 0;
    let bases: Vec<&Url> = std::iter::once(&source.url)
        .chain(&source.mirrors)
        .collect();
    for base in &bases {
        let url = file_url(base, name);
        let get = |url: &Url| {
            fetch_text(
                downloader,
                url,
                None,
                SIDE_FILE_LIMIT,
                limits.deadline,
                limits.response,
            )
        };
        let text = match get(&url) {
            Ok(Fetched::Body(text, ..)) => text,
            Ok(Fetched::NotModified) => continue,
            Err(error) if is_missing(&error) => {
                missing += 1;
                continue;
            }
            Err(error) => {
                failures.push((url, error.to_string()));
                continue;
            }
        };
        let signature_url = file_url(base, &format!("{name}.sig"));
        let signature = match get(&signature_url) {
            Ok(Fetched::Body(signature, ..)) => Some(signature),
            Err(error) if is_missing(&error) => None,
            Ok(Fetched::NotModified) => None,
            Err(error) => {
                failures.push((signature_url, error.to_string()));
                continue;
            }
        };
        check_signature(source, &url, &text, signature.as_deref(), false)?;
        return Ok(Some(text));
    }
    match failures.into_iter().next() {
        Some((url, detail)) if missing < bases.len() => Err(IndexError::Fetch {
            registry: source.name.clone(),
            url: url.to_string(),
            detail,
        }),
        _ => Ok(None),
    }
}

/// Whether a read failed because there is nothing at the URL.
fn is_missing(error: &TransportError) -> bool {
    match error {
        TransportError::Status { status, .. } => matches!(status, 404 | 410),
        TransportError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}
