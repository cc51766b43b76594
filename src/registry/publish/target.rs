//! Where a registry is published: a directory or an S3-compatible bucket, behind one trait so
//! the update loop ([`super::update`]) is written once.

use super::PublishError;

/// The index as read at the start of an update, with what a conditional write of the next one
/// needs.
#[derive(Debug, Clone, Default)]
pub struct Current {
    /// `index.acl`'s text, if there is one.
    pub index: Option<String>,
    /// `index.acl.sig`'s text, if there is one.
    pub signature: Option<String>,
    /// The storage's version of `index.acl` (S3: its ETag) the next write is conditional on.
    pub version: Option<String>,
}

/// A registry's storage. Keys are `/`-separated paths relative to the index (`index.acl`,
/// `blobs/sha256/HEX.psp`).
pub trait Target {
    /// Where it is, for messages (`file:///srv/registry/`, `s3://bucket/prefix/`).
    fn location(&self) -> String;
    /// Starts an update: takes what serializes writers (a directory: its lock) and reads the
    /// index.
    fn begin(&self) -> Result<Current, PublishError>;
    /// Ends an update (releases what `begin` took).
    fn end(&self);
    /// Reads one object; `None` when it does not exist.
    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PublishError>;
    /// An object's size, `None` when it does not exist.
    fn size(&self, key: &str) -> Result<Option<u64>, PublishError>;
    /// Stores an object unless one of the same size is there already (content-addressed keys:
    /// the same key is the same bytes; one of another size was damaged or tampered with, and is
    /// replaced). Returns whether it stored it.
    fn create(&self, key: &str, bytes: Vec<u8>) -> Result<bool, PublishError>;
    /// Replaces an object whatever is there.
    fn replace(&self, key: &str, bytes: Vec<u8>) -> Result<(), PublishError>;
    /// Replaces `index.acl` only if it is still the one `current` read; `false` when another
    /// writer got there first.
    fn commit_index(&self, text: &[u8], current: &Current) -> Result<bool, PublishError>;
    /// Every object under `prefix` (one level, as `blobs/sha256/` holds them).
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, PublishError>;
    /// Deletes an object (a missing one is not an error).
    fn delete(&self, key: &str) -> Result<(), PublishError>;
}

/// An object found by [`Target::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written (Unix seconds).
    pub modified: i64,
}
