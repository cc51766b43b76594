//! HTTP(S) through reqwest: conditional reads (`If-None-Match`, `If-Modified-Since`), resumed
//! reads (`Range` + `If-Range`, honoured only when the server answers 206 from the offset
//! asked), and conditional writes (`If-Match`, `If-None-Match: *`) for servers that take PUT.

use bytes::Bytes;
use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use url::Url;

use super::{
    Body, BoxFuture, GetRequest, PutCondition, PutOutcome, Response, Served, Transport,
    TransportError,
};

/// HTTP and HTTPS.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// Over `client` (its timeouts and user agent apply).
    pub fn new(client: reqwest::Client) -> HttpTransport {
        HttpTransport { client }
    }
}

fn network(error: &reqwest::Error) -> TransportError {
    TransportError::Network(pandora_core::error::chain(error))
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

fn error_status(response: &reqwest::Response) -> TransportError {
    TransportError::Status {
        status: response.status().as_u16(),
        retry_after: header(response.headers(), header::RETRY_AFTER)
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs),
    }
}

struct HttpBody(reqwest::Response);

impl Body for HttpBody {
    fn chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, TransportError>> {
        Box::pin(async move { self.0.chunk().await.map_err(|error| network(&error)) })
    }
}

impl Transport for HttpTransport {
    fn get<'a>(
        &'a self,
        url: &'a Url,
        request: &'a GetRequest,
    ) -> BoxFuture<'a, Result<Response, TransportError>> {
        Box::pin(async move {
            let mut builder = self.client.get(url.clone());
            if let Some(etag) = &request.if_none_match {
                builder = builder.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(modified) = &request.if_modified_since {
                builder = builder.header(header::IF_MODIFIED_SINCE, modified);
            }
            if let Some(resume) = &request.resume {
                builder = builder.header(header::RANGE, format!("bytes={}-", resume.from));
                if let Some(validator) = &resume.validator {
                    builder = builder.header(header::IF_RANGE, validator);
                }
            }
            let response = builder.send().await.map_err(|error| network(&error))?;
            let status = response.status();
            let conditional =
                request.if_none_match.is_some() || request.if_modified_since.is_some();
            let served = if status == StatusCode::NOT_MODIFIED && conditional {
                Served::NotModified
            } else if status == StatusCode::PARTIAL_CONTENT && request.resume.is_some() {
                // `Content-Range: bytes START-END/TOTAL`; a range we cannot read is not ours.
                let start = header(response.headers(), header::CONTENT_RANGE)
                    .and_then(|value| {
                        let range = value.strip_prefix("bytes ")?;
                        range.split('-').next()?.parse::<u64>().ok()
                    })
                    .ok_or_else(|| {
                        TransportError::Network(
                            "the server answered the range without a readable Content-Range".into(),
                        )
                    })?;
                Served::Partial { start }
            } else if status.is_success() {
                Served::Full
            } else {
                return Err(error_status(&response));
            };
            Ok(Response {
                served,
                etag: header(response.headers(), header::ETAG),
                last_modified: header(response.headers(), header::LAST_MODIFIED),
                length: response.content_length(),
                body: Box::new(HttpBody(response)),
            })
        })
    }

    fn put<'a>(
        &'a self,
        url: &'a Url,
        body: Bytes,
        condition: &'a PutCondition,
    ) -> BoxFuture<'a, Result<PutOutcome, TransportError>> {
        Box::pin(async move {
            let mut builder = self.client.put(url.clone()).body(body);
            builder = match condition {
                PutCondition::Always => builder,
                PutCondition::IfAbsent => builder.header(header::IF_NONE_MATCH, "*"),
                PutCondition::IfMatch(etag) => builder.header(header::IF_MATCH, etag),
            };
            let response = builder.send().await.map_err(|error| network(&error))?;
            if response.status() == StatusCode::PRECONDITION_FAILED {
                return Ok(PutOutcome::PreconditionFailed);
            }
            if !response.status().is_success() {
                return Err(error_status(&response));
            }
            Ok(PutOutcome::Written {
                etag: header(response.headers(), header::ETAG),
            })
        })
    }
}
