//! `file://` URLs: a registry that is a local directory. Reads honour resumption and the same
//! conditional validators as HTTP, with an ETag made from the file's identity (device, inode,
//! size, modification time), which every atomic replacement changes. Writes replace a file
//! atomically; a conditional write is checked and done under a lock beside the file, so two
//! publishers on one machine cannot interleave.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use url::Url;

use super::{
    Body, BoxFuture, GetRequest, PutCondition, PutOutcome, Response, Served, Transport,
    TransportError,
};

/// Local files.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileTransport;

const CHUNK: usize = 256 << 10;

fn path_of(url: &Url) -> Result<PathBuf, TransportError> {
    url.to_file_path()
        .map_err(|()| TransportError::Unsupported(format!("{url} is not a local path")))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TransportError + '_ {
    move |source| TransportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The version of a file as an ETag.
fn etag(metadata: &std::fs::Metadata) -> String {
    format!(
        "\"{:x}-{:x}-{:x}-{:x}.{:x}\"",
        metadata.dev(),
        metadata.ino(),
        metadata.len(),
        metadata.mtime(),
        metadata.mtime_nsec()
    )
}

struct FileBody {
    file: fs_err::File,
    left: u64,
}

impl Body for FileBody {
    fn chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, TransportError>> {
        Box::pin(async move {
            if self.left == 0 {
                return Ok(None);
            }
            let wanted = usize::try_from(self.left).map_or(CHUNK, |left| left.min(CHUNK));
            let mut buffer = vec![0u8; wanted];
            let read = self
                .file
                .read(&mut buffer)
                .map_err(|source| TransportError::Io {
                    path: self.file.path().to_path_buf(),
                    source,
                })?;
            if read == 0 {
                return Ok(None);
            }
            buffer.truncate(read);
            self.left -= read as u64;
            Ok(Some(Bytes::from(buffer)))
        })
    }
}

impl Transport for FileTransport {
    fn get<'a>(
        &'a self,
        url: &'a Url,
        request: &'a GetRequest,
    ) -> BoxFuture<'a, Result<Response, TransportError>> {
        Box::pin(async move {
            let path = path_of(url)?;
            let mut file = fs_err::File::open(&path).map_err(io(&path))?;
            let metadata = file.metadata().map_err(io(&path))?;
            if !metadata.is_file() {
                // A FIFO or a device would never end; a directory has no bytes.
                return Err(TransportError::Unsupported(format!(
                    "{} is not a regular file",
                    path.display()
                )));
            }
            let tag = etag(&metadata);
            if request.if_none_match.as_deref() == Some(tag.as_str()) {
                return Ok(Response {
                    served: Served::NotModified,
                    etag: Some(tag),
                    last_modified: None,
                    length: Some(0),
                    body: Box::new(FileBody { file, left: 0 }),
                });
            }
            let start = match &request.resume {
                Some(resume)
                    if resume
                        .validator
                        .as_ref()
                        .is_none_or(|validator| *validator == tag)
                        && resume.from <= metadata.len() =>
                {
                    resume.from
                }
                _ => 0,
            };
            file.seek(SeekFrom::Start(start)).map_err(io(&path))?;
            let left = metadata.len() - start;
            Ok(Response {
                served: if start > 0 {
                    Served::Partial { start }
                } else {
                    Served::Full
                },
                etag: Some(tag),
                last_modified: None,
                length: Some(left),
                body: Box::new(FileBody { file, left }),
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
            let path = path_of(url)?;
            let directory = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let lock_path = directory.join(format!(".{name}.lock"));
            let _lock = pandora_core::fs::FileLock::acquire(&lock_path).map_err(io(&lock_path))?;
            let current = fs_err::symlink_metadata(&path).ok();
            let holds = match condition {
                PutCondition::Always => true,
                PutCondition::IfAbsent => current.is_none(),
                PutCondition::IfMatch(expected) => current
                    .as_ref()
                    .is_some_and(|metadata| &etag(metadata) == expected),
            };
            if !holds {
                return Ok(PutOutcome::PreconditionFailed);
            }
            pandora_core::fs::write_atomic(&path, &body).map_err(io(&path))?;
            let written = fs_err::metadata(&path).map_err(io(&path))?;
            Ok(PutOutcome::Written {
                etag: Some(etag(&written)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::transport::Resume;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    async fn body(response: &mut Response) -> Vec<u8> {
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            bytes.extend_from_slice(&chunk);
        }
        bytes
    }

    #[test]
    fn reads_resumes_and_writes_conditionally() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("index.acl");
        let url = Url::from_file_path(&path).unwrap();
        block_on(async {
            let transport = FileTransport;
            let put = |condition| {
                let url = url.clone();
                async move {
                    transport
                        .put(&url, Bytes::from_static(b"hello world"), &condition)
                        .await
                        .unwrap()
                }
            };
            let PutOutcome::Written { etag: Some(tag) } = put(PutCondition::IfAbsent).await else {
                panic!("first write refused")
            };
            assert_eq!(
                put(PutCondition::IfAbsent).await,
                PutOutcome::PreconditionFailed
            );
            assert_eq!(
                put(PutCondition::IfMatch("\"stale\"".into())).await,
                PutOutcome::PreconditionFailed
            );
            let mut full = transport.get(&url, &GetRequest::default()).await.unwrap();
            assert_eq!(full.served, Served::Full);
            assert_eq!(body(&mut full).await, b"hello world");
            let current = full.etag.clone().unwrap();
            assert_eq!(current, tag);
            let resume = GetRequest {
                resume: Some(Resume {
                    from: 6,
                    validator: Some(current.clone()),
                }),
                ..GetRequest::default()
            };
            let mut rest = transport.get(&url, &resume).await.unwrap();
            assert_eq!(rest.served, Served::Partial { start: 6 });
            assert_eq!(body(&mut rest).await, b"world");
            // Without a validator any version will do.
            let unconditional = GetRequest {
                resume: Some(Resume {
                    from: 6,
                    validator: None,
                }),
                ..GetRequest::default()
            };
            let mut rest = transport.get(&url, &unconditional).await.unwrap();
            assert_eq!(rest.served, Served::Partial { start: 6 });
            assert_eq!(body(&mut rest).await, b"world");
            let cached = GetRequest {
                if_none_match: Some(current),
                ..GetRequest::default()
            };
            let response = transport.get(&url, &cached).await.unwrap();
            assert_eq!(response.served, Served::NotModified);
            assert!(matches!(
                put(PutCondition::IfMatch(tag)).await,
                PutOutcome::Written { .. }
            ));
        });
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let directory = tempfile::tempdir().unwrap();
        let url = Url::from_directory_path(directory.path()).unwrap();
        let error = block_on(FileTransport.get(&url, &GetRequest::default())).unwrap_err();
        assert!(matches!(error, TransportError::Unsupported(_)), "{error}");
    }
}
