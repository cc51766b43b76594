//! Building a signed package from `manifest.acl` and `files/`.

use std::path::PathBuf;

use super::keys::{signing_key, KeySource};
use super::Result;
use crate::build::{build as build_package, BuildOptions, Built, Compression, Manifest};
use crate::layout::Layout;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest<'a> {
    /// The package directory.
    pub source: PathBuf,
    /// The output file (default: `NAME-VERSION.psp` in the current directory).
    pub output: Option<PathBuf>,
    /// Slot compression.
    pub compression: Compression,
    /// Compression level.
    pub level: Option<i32>,
    /// The signing key.
    pub key: KeySource<'a>,
    /// The launcher stub to put first.
    pub launcher: PathBuf,
    /// Package files that look like secrets anyway.
    pub allow_secrets: bool,
    /// The build time recorded (reproducible builds).
    pub timestamp: u64,
}

/// Builds the package.
pub fn build(layout: &Layout, request: BuildRequest<'_>) -> Result<Built> {
    let key = signing_key(layout, request.key)?;
    let output = match request.output {
        Some(output) => output,
        None => {
            let manifest = Manifest::load(&request.source.join("manifest.acl"))?;
            PathBuf::from(format!("{}-{}.psp", manifest.name, manifest.version))
        }
    };
    Ok(build_package(&BuildOptions {
        source: request.source,
        output,
        compression: request.compression,
        level: request.level,
        key,
        launcher: request.launcher,
        allow_secrets: request.allow_secrets,
        timestamp: request.timestamp,
    })?)
}
