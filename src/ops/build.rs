//! Building a signed package from `manifest.acl` and `files/`, or from the manifest's recipe.

use std::path::{Path, PathBuf};

use super::keys::{signing_key, KeySource};
use super::source_build::{
    build_from_source, cache_root, work_directory, SourceBuild, SourceOptions,
};
use super::{Error, Result};
use crate::build::{build as build_package, BuildOptions, Built, Compression, Manifest};
use crate::format::metadata::Provenance;
use crate::format::signing::SigningKey;
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
    /// How a recipe runs (sandbox, cache, fetching).
    pub recipe: SourceOptions,
    /// Build twice from scratch and refuse unless the packages are byte-identical.
    pub verify_reproducible: bool,
    /// Unpack this build-cache archive into the cache first.
    pub cache_import: Option<PathBuf>,
    /// Write this build's cache entry to this archive afterwards.
    pub cache_export: Option<PathBuf>,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The package.
    pub built: Built,
    /// How its files were built from source, when the manifest has a recipe.
    pub source: Option<SourceBuild>,
    /// With `--verify-reproducible`: the SHA-256 both builds gave.
    pub reproducible: Option<String>,
    /// Entries imported into the build cache.
    pub imported: usize,
}

/// Builds the package.
pub fn build(layout: &Layout, request: &BuildRequest<'_>) -> Result<BuildReport> {
    let key = signing_key(layout, request.key)?;
    let manifest = Manifest::load(&request.source.join("manifest.acl"))?;
    let output = request
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.psp", manifest.name, manifest.version)));
    let Some(recipe) = manifest.recipe.clone() else {
        if request.verify_reproducible
            || request.cache_import.is_some()
            || request.cache_export.is_some()
        {
            return Err(Error::refused(
                format!("{} has no `build {{ ... }}` recipe", request.source.display()),
                "--verify-reproducible, --cache-import and --cache-export are for packages built from source",
            ));
        }
        let built = pack(
            request,
            &key,
            &output,
            None,
            provenance(&manifest, None, request.timestamp),
        )?;
        check_archive_digest(&manifest, &output)?;
        return Ok(BuildReport {
            built,
            source: None,
            reproducible: None,
            imported: 0,
        });
    };
    let imported = match &request.cache_import {
        Some(archive) => super::build_cache::import(&cache_root(layout), archive)?,
        None => 0,
    };
    let work = work_directory(layout)?;
    let mut options = request.recipe.clone();
    if request.verify_reproducible {
        options.use_cache = false;
    }
    let source = build_from_source(layout, &request.source, &recipe, &options, &work)?;
    let signed = |source: &SourceBuild| provenance(&manifest, Some(source), request.timestamp);
    let mut reproducible = None;
    let built = if request.verify_reproducible {
        let first_output = work.path().join("first.psp");
        let first = pack(
            request,
            &key,
            &first_output,
            Some(&source.files),
            signed(&source),
        )?;
        let again = work_directory(layout)?;
        let second_source = build_from_source(layout, &request.source, &recipe, &options, &again)?;
        let second_output = again.path().join("second.psp");
        pack(
            request,
            &key,
            &second_output,
            Some(&second_source.files),
            signed(&second_source),
        )?;
        let digest = |path: &Path| {
            crate::registry::download::file_sha256(path)
                .map(|sha| crate::format::metadata::encode_hex(&sha))
                .map_err(|source| {
                    Error::Io(pandora_core::IoError {
                        action: "read",
                        path: path.to_path_buf(),
                        source,
                    })
                })
        };
        let (one, two) = (digest(&first_output)?, digest(&second_output)?);
        if one != two {
            return Err(Error::refused(
                format!("the build is not reproducible: two builds from scratch gave sha256:{one} and sha256:{two}"),
                "look for timestamps, random names or build paths the steps put into their output (SOURCE_DATE_EPOCH is set for them)",
            ));
        }
        reproducible = Some(one);
        pack(request, &key, &output, Some(&source.files), signed(&source))?;
        first
    } else {
        pack(request, &key, &output, Some(&source.files), signed(&source))?
    };
    check_archive_digest(&manifest, &output)?;
    let built = Built { output, ..built };
    if let Some(archive) = &request.cache_export {
        super::build_cache::export(&cache_root(layout), &source.key, archive)?;
    }
    Ok(BuildReport {
        built,
        source: Some(source),
        reproducible,
        imported,
    })
}

/// The signed provenance of a package: how it was built (when from source) and the
/// manifest's `build_meta`.
fn provenance(
    manifest: &Manifest,
    source: Option<&SourceBuild>,
    timestamp: u64,
) -> Option<Provenance> {
    if source.is_none() && manifest.build_meta.is_empty() {
        return None;
    }
    let recipe = manifest.recipe.as_ref();
    Some(Provenance {
        builder: format!("pandora {}", env!("CARGO_PKG_VERSION")),
        recipe_sha256: source
            .map(|source| source.recipe_sha256.clone())
            .unwrap_or_default(),
        inputs: source
            .map(|source| source.inputs.iter().cloned().collect())
            .unwrap_or_default(),
        fetched: recipe
            .map(|recipe| {
                recipe
                    .fetches
                    .iter()
                    .map(|fetch| (fetch.url.clone(), fetch.sha256.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        build_dependencies: source
            .map(|source| source.dependencies.iter().cloned().collect())
            .unwrap_or_default(),
        sandbox: source
            .map(|source| source.sandbox_description.clone())
            .unwrap_or_else(|| "none: files/ was prepared outside Pandora".to_string()),
        time: pandora_core::time::rfc3339(timestamp),
        build_meta: manifest.build_meta.clone(),
    })
}

/// Refuses a package whose digest is not the manifest's `archive_sha256`, removing it.
fn check_archive_digest(manifest: &Manifest, output: &Path) -> Result<()> {
    let Some(expected) = &manifest.archive_sha256 else {
        return Ok(());
    };
    let actual = crate::registry::download::file_sha256(output)
        .map(|sha| crate::format::metadata::encode_hex(&sha))
        .map_err(|source| {
            Error::Io(pandora_core::IoError {
                action: "read",
                path: output.to_path_buf(),
                source,
            })
        })?;
    if &actual != expected {
        let _ = fs_err::remove_file(output);
        return Err(Error::refused(
            format!(
                "the built package hashes to {actual}, but the manifest's archive_sha256 is {expected}"
            ),
            "nothing was written; if the change is intended, put the new digest in archive_sha256 (or remove the field)",
        ));
    }
    Ok(())
}

fn pack(
    request: &BuildRequest<'_>,
    key: &SigningKey,
    output: &Path,
    files: Option<&Path>,
    provenance: Option<Provenance>,
) -> Result<Built> {
    Ok(build_package(&BuildOptions {
        provenance,
        source: request.source.clone(),
        output: output.to_path_buf(),
        compression: request.compression,
        level: request.level,
        key: key.clone(),
        launcher: request.launcher.clone(),
        allow_secrets: request.allow_secrets,
        timestamp: request.timestamp,
        files: files.map(Path::to_path_buf),
    })?)
}
