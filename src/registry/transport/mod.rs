//! How bytes move between Pandora and a registry, one implementation per URL scheme behind one
//! small trait: read a file whole or from an offset (with the conditional and resume
//! validators HTTP defines), and write one, optionally only if it is absent or unchanged (for
//! publishing). Retries, size caps, hashing and resumption live above, in the index client
//! and the downloader, the same for every scheme; adding object storage is one more file here.

mod file;
mod http;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use url::Url;

pub use file::FileTransport;
pub use http::HttpTransport;

/// A future a transport returns (boxed, so transports can be chosen at run time).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a read asks for beyond the plain bytes.
#[derive(Debug, Clone, Default)]
pub struct GetRequest {
    /// Answer "not modified" if the file still has this ETag.
    pub if_none_match: Option<String>,
    /// Answer "not modified" if the file has not changed since this HTTP date.
    pub if_modified_since: Option<String>,
    /// Start at this offset, if the file is still the version this validator names.
    pub resume: Option<Resume>,
}

/// Continue an interrupted read.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The first byte wanted.
    pub from: u64,
    /// The ETag or Last-Modified of the version read so far; `None` when any version will do
    /// (the caller verifies the whole file's hash anyway, as when it supplies the first bytes
    /// itself).
    pub validator: Option<String>,
}

/// Which bytes a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// The whole file from byte 0 (also the answer to a resume the server would not honour).
    Full,
    /// The file from `start`, as a resume asked.
    Partial {
        /// The offset of the first byte.
        start: u64,
    },
    /// The conditional read matched: the cached copy is current. No body.
    NotModified,
}

/// A successful read: what is served, the validators, and the body to stream.
pub struct Response {
    /// Which bytes.
    pub served: Served,
    /// The version's ETag.
    pub etag: Option<String>,
    /// The version's Last-Modified.
    pub last_modified: Option<String>,
    /// How many bytes the body has, if known.
    pub length: Option<u64>,
    body: Box<dyn Body>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("served", &self.served)
            .field("etag", &self.etag)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        self.body.chunk().await
    }
}

/// A response body, read piece by piece.
trait Body: Send {
    fn chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, TransportError>>;
}

/// When a write may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Always.
    Always,
    /// Only if nothing is there yet (`If-None-Match: *`).
    IfAbsent,
    /// Only if what is there still has this ETag (`If-Match`).
    IfMatch(String),
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written; the new version's ETag if the transport has one.
    Written {
        /// The ETag.
        etag: Option<String>,
    },
    /// The condition did not hold; nothing was written.
    PreconditionFailed,
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server answered with an error status.
    #[error("the server answered {status}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// How long the server asked us to wait (429, 503).
        retry_after: Option<Duration>,
    },
    /// The connection failed, was reset or timed out: worth another try.
    #[error("{0}")]
    Network(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The URL cannot be used with this transport.
    #[error("{0}")]
    Unsupported(String),
}

impl TransportError {
    /// Whether trying again may help: network trouble, 429 and 5xx answers.
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Network(_) => true,
            TransportError::Status { status, .. } => *status == 429 || *status >= 500,
            TransportError::Io { .. } | TransportError::Unsupported(_) => false,
        }
    }
}

/// Moves bytes to and from one kind of URL.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Reads `url`.
    fn get<'a>(
        &'a self,
        url: &'a Url,
        request: &'a GetRequest,
    ) -> BoxFuture<'a, Result<Response, TransportError>>;

    /// Writes `body` to `url` if `condition` holds.
    fn put<'a>(
        &'a self,
        url: &'a Url,
        body: Bytes,
        condition: &'a PutCondition,
    ) -> BoxFuture<'a, Result<PutOutcome, TransportError>>;
}

/// The transports for every supported scheme, sharing one HTTP client.
#[derive(Debug, Clone)]
pub struct Transports {
    http: Arc<HttpTransport>,
    file: Arc<FileTransport>,
}

impl Transports {
    /// Transports using `client` for HTTP(S).
    pub fn new(client: reqwest::Client) -> Transports {
        Transports {
            http: Arc::new(HttpTransport::new(client)),
            file: Arc::new(FileTransport),
        }
    }

    /// The transport for `url`'s scheme.
    pub fn for_url(&self, url: &Url) -> Result<Arc<dyn Transport>, TransportError> {
        match url.scheme() {
            "http" | "https" => Ok(self.http.clone()),
            "file" => Ok(self.file.clone()),
            other => Err(TransportError::Unsupported(format!(
                "the `{other}` scheme is not supported"
            ))),
        }
    }
}
