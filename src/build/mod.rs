//! `pandora build`: a source directory (`manifest.acl` + `files/`) to a signed `.psp`.
//!
//! Slots: one per top-level entry of `files/` (`bin`, `lib`, `share`, ...), each a tar archive
//! extracted at the package root, compressed with zstd by default. Several slots rather than
//! one because each can be verified and extracted independently and in parallel, and a
//! package's directories differ in how they compress; one per top-level directory keeps the
//! count small (FlavorPack's launchers handle any number) while giving those benefits.
//!
//! Reproducible by construction: entries sorted, owners 0, times `SOURCE_DATE_EPOCH` (or 0),
//! modes normalised (0755 for directories and executables, 0644 otherwise), compression
//! deterministic, metadata serialised in a fixed order, Ed25519 deterministic.

pub mod hooks;
mod manifest;
pub mod recipe;
pub mod sbom;
mod steps;
mod tree;

pub use manifest::Manifest;
pub use recipe::Recipe;
pub use steps::{run_steps, Workspace};
pub use tree::{is_secret, walk, EntryKind, TreeEntry};

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::format::metadata::{
    encode_hex, BuildInfo, Execution, LauncherInfo, Metadata, PackageInfo, PandoraInfo,
    PlatformInfo, SlotInfo,
};
use crate::format::signing::SigningKey;
use crate::format::slot::{Operation, Operations};
use crate::format::writer::{write_package, SlotData};
use crate::format::FormatError;

/// Refuses an existing output that is not a regular file. Symbolic links are refused too:
/// whatever they point at is not the caller's to overwrite implicitly.
fn check_output(output: &Path) -> Result<(), BuildError> {
    match fs_err::symlink_metadata(output) {
        Ok(metadata) if !metadata.file_type().is_file() => Err(BuildError::OutputNotRegular {
            path: output.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Everything that can stop a build. Nothing is written when one happens.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No `manifest.acl`.
    #[error("no manifest at {path}")]
    ManifestMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The manifest is invalid.
    #[error("invalid manifest {path}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong, where.
        #[source]
        source: acl_parser::Error,
    },
    /// No `files/` directory.
    #[error("no files directory at {path}")]
    FilesMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// `files/` has nothing in it.
    #[error("{path} is empty: a package needs at least one file")]
    EmptyTree {
        /// The directory.
        path: PathBuf,
    },
    /// Files that look like secrets.
    #[error("refusing to package files that look like secrets: {}", paths.join(", "))]
    Secrets {
        /// Their paths under `files/`.
        paths: Vec<String>,
    },
    /// A symbolic link to nothing.
    #[error("{path} is a symbolic link to `{}`, which does not exist", target.display())]
    DanglingSymlink {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// A symbolic link leaving the tree.
    #[error("{path} is a symbolic link to `{}`, outside the package", target.display())]
    LinkOutside {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// A file that cannot be read.
    #[error("cannot read {path}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A socket, FIFO or device.
    #[error("{path} is not a regular file, directory or symbolic link")]
    SpecialFile {
        /// The entry.
        path: PathBuf,
    },
    /// `-o` names something that is not a regular file (a device, a FIFO, a directory, a link):
    /// renaming the package over it would destroy it.
    #[error("{path} exists and is not a regular file; refusing to replace it with the package")]
    OutputNotRegular {
        /// The output path.
        path: PathBuf,
    },
    /// No launcher stub where one was expected.
    #[error("no launcher at {path}")]
    LauncherMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A build step failed.
    #[error("build step {number} (`{step}`) {ending}")]
    Step {
        /// Its position, from 1.
        number: usize,
        /// Its command line.
        step: String,
        /// How it ended.
        ending: crate::sandbox::Ending,
    },
    /// The sandbox could not be made.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    /// A local source named by the recipe is not there.
    #[error("the build's source {path} does not exist")]
    SourceMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The steps wrote nothing to `$OUT`.
    #[error("the build steps wrote nothing to $OUT")]
    EmptyOutput,
    /// `files/_attestation`, which Pandora keeps for the SBOM and provenance.
    #[error("{path}: `_attestation` at the top of a package is Pandora's own (its SBOM and provenance go there)")]
    Reserved {
        /// The entry.
        path: PathBuf,
    },
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] pandora_core::IoError),
    /// Writing the package failed.
    #[error(transparent)]
    Format(#[from] FormatError),
}

impl pandora_core::Hint for BuildError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            BuildError::ManifestMissing { .. } => {
                "a package directory holds `manifest.acl` and `files/`".into()
            }
            BuildError::OutputNotRegular { .. } => {
                "pass -o a new path or an existing regular file to replace".into()
            }
            BuildError::FilesMissing { .. } => {
                "put the package's files under `files/` (bin/, lib/, share/, ...)".into()
            }
            BuildError::Secrets { .. } => {
                "remove them, or pass --allow-secrets if they really belong in the package".into()
            }
            BuildError::DanglingSymlink { .. } | BuildError::LinkOutside { .. } => {
                "links must be relative and point at something inside files/".into()
            }
            BuildError::LauncherMissing { .. } => {
                "build it with `cargo build --bin pandora-launcher`, or pass --launcher-bin PATH"
                    .into()
            }
            BuildError::Step { ending: crate::sandbox::Ending::TimedOut, .. } => {
                "raise `int time_limit = SECONDS;` in the build block if the step needs longer"
                    .into()
            }
            // 153: `sh` reporting a child killed by SIGXFSZ (128 + 25).
            BuildError::Step {
                ending:
                    crate::sandbox::Ending::Exited(153) | crate::sandbox::Ending::Signaled(25),
                ..
            } => {
                "a file reached the size limit: raise `int max_file_size = MIB;` in the build block (and `int tmp_size = MIB;` if /tmp filled)".into()
            }
            BuildError::Step { .. } => {
                "the step's output is above; if it says /tmp is full, raise `int tmp_size = MIB;` in the build block; steps run in /build with the package's files going to $OUT (/out)".into()
            }
            BuildError::Sandbox(error) => return error.hint(),
            BuildError::SourceMissing { .. } => {
                "`sources` are paths relative to the package directory".into()
            }
            BuildError::EmptyOutput => {
                "the steps must install the package's files under $OUT, e.g. `cc -o $OUT/bin/hello hello.c`".into()
            }
            BuildError::Manifest { source, .. } if source.hint().is_none() => {
                "see `pandora build --help` for the manifest's fields".into()
            }
            _ => return None,
        })
    }
}

/// How slots are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// tar then zstd (Pandora's launcher; FlavorPack's launchers cannot decode it).
    Zstd,
    /// tar then gzip (what FlavorPack's launchers decode).
    Gzip,
    /// tar only.
    None,
}

/// What to build, and how.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The package directory.
    pub source: PathBuf,
    /// The output file.
    pub output: PathBuf,
    /// Slot compression.
    pub compression: Compression,
    /// Compression level (zstd 1-22, default 3; gzip 0-9, default 6).
    pub level: Option<i32>,
    /// The signing key.
    pub key: SigningKey,
    /// The launcher stub to put first.
    pub launcher: PathBuf,
    /// Package files that look like secrets anyway.
    pub allow_secrets: bool,
    /// Timestamp recorded in archives and metadata (`SOURCE_DATE_EPOCH`, else 0).
    pub timestamp: u64,
    /// The tree to package, when not `source/files` (a recipe's output).
    pub files: Option<PathBuf>,
    /// How the tree was built from source, signed into the metadata.
    pub provenance: Option<crate::format::metadata::Provenance>,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct Built {
    /// The manifest it was built from.
    pub manifest: Manifest,
    /// The output file.
    pub output: PathBuf,
    /// Its size.
    pub size: u64,
    /// Slot names.
    pub slots: Vec<String>,
    /// Files, directories and links packaged.
    pub entries: usize,
    /// Bytes of file content packaged.
    pub content_bytes: u64,
}

/// Builds a package. Either the complete output file exists afterwards, or nothing was written.
pub fn build(options: &BuildOptions) -> Result<Built, BuildError> {
    let manifest = Manifest::load(&options.source.join("manifest.acl"))?;
    let files_root = options
        .files
        .clone()
        .unwrap_or_else(|| options.source.join("files"));
    check_output(&options.output)?;
    let entries = walk(&files_root, options.allow_secrets)?;
    if let Some(reserved) = entries
        .iter()
        .find(|entry| entry.relative.starts_with(sbom::ATTESTATION))
    {
        return Err(BuildError::Reserved {
            path: files_root.join(&reserved.relative),
        });
    }
    if !options.launcher.is_file() {
        return Err(BuildError::LauncherMissing {
            path: options.launcher.clone(),
        });
    }
    let output_directory = match options.output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Only now, with the input known to be good, does anything get created.
    fs_err::create_dir_all(&output_directory).map_err(|source| {
        BuildError::Io(pandora_core::IoError {
            action: "access",
            path: output_directory.clone(),
            source,
        })
    })?;
    let mut groups: BTreeMap<String, Vec<&TreeEntry>> = BTreeMap::new();
    for entry in &entries {
        let top = entry
            .relative
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        groups.entry(top).or_default().push(entry);
    }
    let mut slots = Vec::with_capacity(groups.len());
    let mut infos = Vec::with_capacity(groups.len());
    for (position, (name, group)) in groups.iter().enumerate() {
        slots.push(archive_slot(
            &files_root,
            group,
            options,
            &output_directory,
        )?);
        infos.push(SlotInfo {
            slot: position as u64,
            id: name.clone(),
            source: format!("files/{name}"),
            target: Some("{workenv}".to_string()),
            size: None,
            checksum: None,
            operations: String::new(),
            purpose: "payload".to_string(),
            lifecycle: "runtime".to_string(),
            permissions: Some("0755".to_string()),
        });
    }
    // The attestation (SBOM and provenance) goes last, as FlavorPack puts it: one raw file in a
    // slot of its own, whose SHA-256 the index binds at offset 1440.
    let build_dependencies: Vec<String> = options
        .provenance
        .as_ref()
        .map(|provenance| provenance.build_dependencies.keys().cloned().collect())
        .unwrap_or_default();
    let sbom_document = sbom::spdx(
        &manifest,
        &files_root,
        &entries,
        &build_dependencies,
        options.timestamp,
    )?;
    let attestation = sbom::attestation(&sbom_document, options.provenance.as_ref());
    slots.push(raw_slot(&attestation, &output_directory)?);
    infos.push(SlotInfo {
        slot: infos.len() as u64,
        id: sbom::ATTESTATION.to_string(),
        source: sbom::ATTESTATION.to_string(),
        target: Some(sbom::ATTESTATION.to_string()),
        size: None,
        checksum: None,
        operations: String::new(),
        purpose: "payload".to_string(),
        lifecycle: "attestation".to_string(),
        permissions: Some("0644".to_string()),
    });
    let launcher_bytes = fs_err::read(&options.launcher).map_err(|source| {
        BuildError::Io(pandora_core::IoError {
            action: "access",
            path: options.launcher.clone(),
            source,
        })
    })?;
    let metadata = Metadata {
        format: "PSPF/2025".to_string(),
        format_version: Some("1.0.0".to_string()),
        package: PackageInfo {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            description: manifest.description.clone(),
        },
        slots: infos,
        execution: manifest.execution_command().map(|command| Execution {
            command,
            env: manifest.env.clone(),
        }),
        runtime: None,
        workenv: None,
        build: Some(BuildInfo {
            tool: "pandora".to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            timestamp: Some(pandora_core::time::rfc3339(options.timestamp)),
            deterministic: true,
            platform: Some(PlatformInfo::current()),
        }),
        launcher: Some(LauncherInfo {
            tool: options
                .launcher
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            tool_version: String::new(),
            capabilities: vec!["signed".to_string()],
            size: launcher_bytes.len() as u64,
            checksum: Some(format!(
                "sha256:{}",
                encode_hex(&Sha256::digest(&launcher_bytes))
            )),
        }),
        pandora: Some(PandoraInfo {
            dependencies: manifest.dependencies.clone(),
            license: manifest.license.clone(),
            authors: manifest.authors.clone(),
            tags: manifest.tags.clone(),
            arch: manifest.arch.clone(),
            entry_points: manifest.metadata_entry_points(),
            hooks: manifest.hooks.clone(),
            provenance: options.provenance.clone(),
            attestation_sha256: Some(encode_hex(&Sha256::digest(&attestation))),
        }),
    };
    let size = write_package(
        &options.output,
        &options.launcher,
        metadata,
        slots,
        &options.key,
        options.timestamp,
    )?;
    Ok(Built {
        output: options.output.clone(),
        size,
        slots: groups.keys().cloned().collect(),
        entries: entries.len(),
        content_bytes: entries
            .iter()
            .map(|entry| match entry.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .sum(),
        manifest,
    })
}

/// Archives one group of entries into a temporary file (unlinked: it vanishes with the handle)
/// in the output's directory, compressing and hashing on the way.
fn archive_slot(
    files_root: &Path,
    group: &[&TreeEntry],
    options: &BuildOptions,
    directory: &Path,
) -> Result<SlotData, BuildError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source: io::Error| {
            BuildError::Io(pandora_core::IoError {
                action: "access",
                path: path.clone(),
                source,
            })
        }
    };
    let data = tempfile::tempfile_in(directory).map_err(io_error(directory))?;
    let hashing = HashingWriter::new(data.try_clone().map_err(io_error(directory))?);
    let (operations, encoder): (Operations, Box<dyn FinishWrite>) = match options.compression {
        Compression::Zstd => {
            let mut encoder =
                zstd::stream::write::Encoder::new(hashing, options.level.unwrap_or(3))
                    .map_err(io_error(directory))?;
            // A fixed worker count: zstd's multithreaded output depends on it, and builds must
            // be byte-identical on any machine.
            encoder.multithread(2).map_err(io_error(directory))?;
            (
                Operations::new(vec![Operation::Tar, Operation::Zstd]),
                Box::new(encoder),
            )
        }
        Compression::Gzip => {
            let level = flate2::Compression::new(options.level.unwrap_or(6).clamp(0, 9) as u32);
            (
                Operations::new(vec![Operation::Tar, Operation::Gzip]),
                Box::new(flate2::write::GzEncoder::new(hashing, level)),
            )
        }
        Compression::None => (Operations::new(vec![Operation::Tar]), Box::new(hashing)),
    };
    let mut archive = tar::Builder::new(CountingWriter {
        inner: encoder,
        count: 0,
    });
    for entry in group {
        let source = files_root.join(&entry.relative);
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(options.timestamp);
        let error = io_error(&source);
        match &entry.kind {
            EntryKind::Directory => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                archive
                    .append_data(&mut header, &entry.relative, io::empty())
                    .map_err(&error)?;
            }
            EntryKind::File { size, executable } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if *executable { 0o755 } else { 0o644 });
                header.set_size(*size);
                let file =
                    fs_err::File::open(&source).map_err(|source_error| BuildError::Unreadable {
                        path: source.clone(),
                        source: source_error,
                    })?;
                archive
                    .append_data(&mut header, &entry.relative, file)
                    .map_err(&error)?;
            }
            EntryKind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                archive
                    .append_link(&mut header, &entry.relative, target)
                    .map_err(&error)?;
            }
        }
    }
    let counting = archive.into_inner().map_err(io_error(directory))?;
    let original_size = counting.count;
    let hashing = counting
        .inner
        .finish_writing()
        .map_err(io_error(directory))?;
    Ok(SlotData {
        data,
        size: hashing.count,
        original_size,
        sha256: hashing.hasher.finalize().into(),
        operations,
    })
}

/// A slot of `bytes` stored as they are (no archive, no compression), in an unlinked
/// temporary file in `directory`.
fn raw_slot(bytes: &[u8], directory: &Path) -> Result<SlotData, BuildError> {
    let io_error = |source: io::Error| {
        BuildError::Io(pandora_core::IoError {
            action: "write",
            path: directory.to_path_buf(),
            source,
        })
    };
    let mut data = tempfile::tempfile_in(directory).map_err(io_error)?;
    data.write_all(bytes).map_err(io_error)?;
    Ok(SlotData {
        data,
        size: bytes.len() as u64,
        original_size: bytes.len() as u64,
        sha256: Sha256::digest(bytes).into(),
        operations: Operations::new(Vec::new()),
    })
}

/// An encoder that can be finished, giving back the hashing writer under it.
trait FinishWrite: Write {
    fn finish_writing(self: Box<Self>) -> io::Result<HashingWriter>;
}

impl FinishWrite for zstd::stream::write::Encoder<'static, HashingWriter> {
    fn finish_writing(self: Box<Self>) -> io::Result<HashingWriter> {
        (*self).finish()
    }
}

impl FinishWrite for flate2::write::GzEncoder<HashingWriter> {
    fn finish_writing(self: Box<Self>) -> io::Result<HashingWriter> {
        (*self).finish()
    }
}

impl FinishWrite for HashingWriter {
    fn finish_writing(mut self: Box<Self>) -> io::Result<HashingWriter> {
        self.file.flush()?;
        Ok(*self)
    }
}

/// Writes through to a file, hashing and counting.
struct HashingWriter {
    file: io::BufWriter<File>,
    hasher: Sha256,
    count: u64,
}

impl HashingWriter {
    fn new(file: File) -> Self {
        HashingWriter {
            file: io::BufWriter::with_capacity(256 << 10, file),
            hasher: Sha256::new(),
            count: 0,
        }
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buffer)?;
        self.hasher.update(&buffer[..written]);
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Counts the uncompressed archive bytes.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buffer)?;
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
