//! A registry in an S3-compatible bucket (`publish_url = "s3://bucket/prefix"`), through the
//! `object_store` crate: blobs are created with If-None-Match, the index replaced with
//! If-Match on the ETag read. Clients download from the bucket's plain HTTP URL (the
//! registry's `url`), so they need no credentials.

use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion,
};

use super::aws::AwsEnvironment;
use super::target::{Current, Listed, Target};
use super::{PublishError, StorageFailure};

/// Where and how to reach the bucket.
#[derive(Debug, Clone)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, empty or ending with `/`.
    pub prefix: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); `None`: AWS (or AWS_ENDPOINT_URL).
    pub endpoint: Option<String>,
    /// The region; `None`: from the environment.
    pub region: Option<String>,
}

impl S3Location {
    /// Reads `s3://bucket/prefix`.
    pub fn parse(url: &url::Url) -> Option<S3Location> {
        if url.scheme() != "s3" {
            return None;
        }
        let bucket = url.host_str().filter(|bucket| !bucket.is_empty())?;
        let mut prefix = url.path().trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Some(S3Location {
            bucket: bucket.to_string(),
            prefix,
            endpoint: None,
            region: None,
        })
    }
}

/// An object's bytes and its ETag.
type Tagged = (Vec<u8>, Option<String>);

/// A bucket registry.
#[derive(Debug)]
pub struct S3Target {
    location: S3Location,
    store: AmazonS3,
    runtime: tokio::runtime::Runtime,
}

impl S3Target {
    /// Connects (lazily: nothing is sent yet) with credentials from `environment`.
    pub fn new(
        location: S3Location,
        environment: &AwsEnvironment<'_>,
    ) -> Result<S3Target, PublishError> {
        let credentials = environment.credentials()?;
        let region = location
            .region
            .clone()
            .unwrap_or_else(|| environment.region());
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&location.bucket)
            .with_region(region)
            .with_access_key_id(credentials.access_key_id)
            .with_secret_access_key(credentials.secret_access_key)
            // A publisher waiting minutes on a dead endpoint helps nobody: a few quick retries,
            // then the error (the registry is valid at every step; a rerun completes).
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            })
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(300)),
            );
        if let Some(token) = credentials.session_token {
            builder = builder.with_token(token);
        }
        if let Some(endpoint) = location.endpoint.clone().or_else(|| environment.endpoint()) {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false)
                .with_endpoint(endpoint);
        }
        let store = builder
            .build()
            .map_err(|error| storage("configure", &location.bucket, &error))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| {
                PublishError::Io(pandora_core::IoError {
                    action: "start the S3 client for",
                    path: location.bucket.clone().into(),
                    source,
                })
            })?;
        Ok(S3Target {
            location,
            store,
            runtime,
        })
    }

    fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::from(format!("{}{key}", self.location.prefix))
    }

    fn describe(&self, key: &str) -> String {
        format!("{}{key}", self.location())
    }

    /// The object and its ETag.
    fn get(&self, key: &str) -> Result<Option<Tagged>, PublishError> {
        let path = self.path(key);
        self.runtime.block_on(async {
            match self.store.get(&path).await {
                Ok(result) => {
                    let e_tag = result.meta.e_tag.clone();
                    let bytes = result
                        .bytes()
                        .await
                        .map_err(|error| storage("read", &self.describe(key), &error))?;
                    Ok(Some((bytes.to_vec(), e_tag)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(error) => Err(storage("read", &self.describe(key), &error)),
            }
        })
    }

    fn put(&self, key: &str, bytes: Vec<u8>, mode: PutMode) -> Result<bool, PublishError> {
        let path = self.path(key);
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        let result =
            self.runtime
                .block_on(self.store.put_opts(&path, PutPayload::from(bytes), options));
        match result {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(error) => Err(storage("write", &self.describe(key), &error)),
        }
    }
}

/// An `object_store` error as a storage failure, classified for the hint.
fn storage(action: &'static str, location: &str, error: &object_store::Error) -> PublishError {
    // object_store's messages already repeat their sources' text: add a source only when it
    // says something new.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    let kind = if message.contains("NoSuchBucket") {
        StorageFailure::Missing
    } else if [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "403",
    ]
    .iter()
    .any(|code| message.contains(code))
    {
        StorageFailure::Credentials
    } else if [
        "connect",
        "error sending request",
        "timed out",
        "Connection refused",
    ]
    .iter()
    .any(|what| message.contains(what))
    {
        StorageFailure::Unreachable
    } else {
        StorageFailure::Other
    };
    PublishError::Storage {
        action,
        location: location.to_string(),
        message,
        kind,
    }
}

impl Target for S3Target {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.location.bucket, self.location.prefix)
    }

    fn begin(&self) -> Result<Current, PublishError> {
        let index = self.get("index.acl")?;
        let signature = self.get("index.acl.sig")?;
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        let (index, version) = match index {
            Some((bytes, e_tag)) => (Some(text(bytes)), e_tag),
            None => (None, None),
        };
        Ok(Current {
            index,
            signature: signature.map(|(bytes, _)| text(bytes)),
            version,
        })
    }

    fn end(&self) {}

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PublishError> {
        Ok(self.get(key)?.map(|(bytes, _)| bytes))
    }

    fn size(&self, key: &str) -> Result<Option<u64>, PublishError> {
        let path = self.path(key);
        match self.runtime.block_on(self.store.head(&path)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(storage("look up", &self.describe(key), &error)),
        }
    }

    fn create(&self, key: &str, bytes: Vec<u8>) -> Result<bool, PublishError> {
        match self.size(key)? {
            Some(size) if size == bytes.len() as u64 => Ok(false),
            Some(_) => self.put(key, bytes, PutMode::Overwrite),
            None => self.put(key, bytes, PutMode::Create),
        }
    }

    fn replace(&self, key: &str, bytes: Vec<u8>) -> Result<(), PublishError> {
        self.put(key, bytes, PutMode::Overwrite).map(drop)
    }

    fn commit_index(&self, text: &[u8], current: &Current) -> Result<bool, PublishError> {
        let mode = match (&current.index, &current.version) {
            (None, _) => PutMode::Create,
            (Some(_), Some(e_tag)) => PutMode::Update(UpdateVersion {
                e_tag: Some(e_tag.clone()),
                version: None,
            }),
            (Some(_), None) => {
                return Err(PublishError::Storage {
                    action: "update",
                    location: self.describe("index.acl"),
                    message: "the storage gave no ETag, so the index cannot be replaced without risking a concurrent update".into(),
                    kind: StorageFailure::Other,
                })
            }
        };
        self.put("index.acl", text.to_vec(), mode)
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, PublishError> {
        let path = self.path(prefix.trim_end_matches('/'));
        let listed = self
            .runtime
            .block_on(self.store.list_with_delimiter(Some(&path)))
            .map_err(|error| storage("list", &self.describe(prefix), &error))?;
        let mut keys: Vec<Listed> = listed
            .objects
            .into_iter()
            .filter_map(|object| {
                let key = object
                    .location
                    .as_ref()
                    .strip_prefix(&self.location.prefix)?
                    .to_string();
                Some(Listed {
                    key,
                    size: object.size,
                    modified: object.last_modified.timestamp(),
                })
            })
            .collect();
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(keys)
    }

    fn delete(&self, key: &str) -> Result<(), PublishError> {
        let path = self.path(key);
        match self.runtime.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(storage("delete", &self.describe(key), &error)),
        }
    }
}
