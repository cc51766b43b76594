//! Building a package's `files/` tree from its recipe: sources copied and fetched, build
//! dependencies found in the store, steps run in the sandbox, the output cached under
//! `$PANDORA_HOME/cache/build/KEY/files` where KEY hashes the recipe, every input and every
//! build dependency.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pandora_core::IoError;
use sha2::{Digest, Sha256};

use super::{Error, Result};
use crate::build::{run_steps, Recipe, Workspace};
use crate::format::metadata::encode_hex;
use crate::layout::Layout;
use crate::registry::download::{DownloadError, DownloadPolicy, DownloadRequest, Downloader};
use crate::sandbox::Report;

/// What went into a build and how it ran.
#[derive(Debug, Clone)]
pub struct SourceBuild {
    /// The tree to package.
    pub files: PathBuf,
    /// The cache key: SHA-256 of the recipe, the inputs and the build dependencies.
    pub key: String,
    /// The recipe's own digest.
    pub recipe_sha256: String,
    /// Every input (`path` under /build, SHA-256), sorted by path.
    pub inputs: Vec<(String, String)>,
    /// Build dependencies (`name@version`, digest of their store tree).
    pub dependencies: Vec<(String, String)>,
    /// Whether the output came from the cache rather than running the steps.
    pub cached: bool,
    /// What protected the steps; `None` when they ran without a sandbox or came from the cache.
    pub sandbox: Option<Report>,
    /// Whether the steps were to run in the sandbox.
    pub sandboxed: bool,
    /// The sandbox the output was built in, as the provenance records it (kept with a cache
    /// entry, so a cached build records what the original build ran in).
    pub sandbox_description: String,
}

/// The provenance's words for a sandbox (or its absence).
pub fn describe_sandbox(report: Option<&Report>) -> String {
    match report {
        None => "off (--no-sandbox)".to_string(),
        Some(report) => {
            format!(
            "namespaces {}; seccomp {}; landlock {}; no_new_privs {}; capabilities {}; /proc {}",
            report.namespaces.join(","),
            if report.seccomp { "on" } else { "off" },
            report.landlock,
            report.no_new_privs,
            if report.capabilities_dropped { "none" } else { "kept" },
            if report.proc { "own" } else { "none" },
        )
        }
    }
}

/// How to run a recipe.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Run in the sandbox (false: `--no-sandbox`).
    pub sandboxed: bool,
    /// Use and fill the build cache.
    pub use_cache: bool,
    /// `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: u64,
    /// How to fetch remote sources.
    pub policy: DownloadPolicy,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |source| {
        Error::Io(IoError {
            action,
            path: path.to_path_buf(),
            source,
        })
    }
}

/// `$PANDORA_HOME/cache/build`.
pub fn cache_root(layout: &Layout) -> PathBuf {
    layout.cache_dir().join("build")
}

/// Builds `recipe` from the package directory `package`; the returned tree stays until the
/// cache entry is pruned (or, uncached, until `work` is dropped).
pub fn build_from_source(
    layout: &Layout,
    package: &Path,
    recipe: &Recipe,
    options: &SourceOptions,
    work: &WorkDirectory,
) -> Result<SourceBuild> {
    let source = work.path().join("src");
    let entry = work.path().join("entry");
    let out = entry.join("files");
    for directory in [&source, &out] {
        fs_err::create_dir_all(directory).map_err(io("create", directory))?;
    }
    copy_local_sources(package, recipe, &source)?;
    fetch_sources(layout, recipe, &source, options.policy)?;
    let mut dependencies = Vec::new();
    let mut mounted = Vec::new();
    for pin in &recipe.build_dependencies {
        let path = layout.store_dir().join(pin);
        if !path.is_dir() {
            return Err(Error::refused(
                format!("the build dependency {pin} is not installed"),
                format!("install it first: `pandora install {pin}`"),
            ));
        }
        dependencies.push((pin.clone(), tree_sha256(&path)?));
        mounted.push((pin.clone(), path));
    }
    let recipe_json = serde_json::to_vec(recipe).expect("a recipe serialises");
    let recipe_sha256 = encode_hex(&Sha256::digest(&recipe_json));
    let inputs = input_digests(&source)?;
    let key = {
        let mut hasher = Sha256::new();
        hasher.update(b"pandora-build-cache-1\n");
        hasher.update(recipe_sha256.as_bytes());
        for (path, digest) in inputs.iter().chain(&dependencies) {
            hasher.update(format!("\n{path}\0{digest}").as_bytes());
        }
        hasher.update(
            format!(
                "\nepoch={}\nsandboxed={}",
                options.source_date_epoch, options.sandboxed
            )
            .as_bytes(),
        );
        encode_hex(&hasher.finalize())
    };
    let cached_entry = cache_root(layout).join(&key);
    let mut report = SourceBuild {
        files: cached_entry.join("files"),
        key,
        recipe_sha256,
        inputs,
        dependencies,
        cached: true,
        sandbox: None,
        sandboxed: options.sandboxed,
        sandbox_description: String::new(),
    };
    if options.use_cache {
        if let Some(description) = cached_description(&cached_entry)? {
            report.sandbox_description = description;
            return Ok(report);
        }
    }
    let workspace = Workspace {
        source,
        out: out.clone(),
        dependencies: mounted,
    };
    report.sandbox = run_steps(
        recipe,
        &workspace,
        options.sandboxed,
        options.source_date_epoch,
    )?;
    report.cached = false;
    report.sandbox_description = describe_sandbox(report.sandbox.as_ref());
    let described = entry.join("sandbox");
    fs_err::write(&described, format!("{}\n", report.sandbox_description))
        .map_err(io("write", &described))?;
    if fs_err::read_dir(&out)
        .map_err(io("read", &out))?
        .next()
        .is_none()
    {
        return Err(crate::build::BuildError::EmptyOutput.into());
    }
    if !options.use_cache {
        report.files = out;
        return Ok(report);
    }
    let root = cache_root(layout);
    fs_err::create_dir_all(&root).map_err(io("create", &root))?;
    // One rename: a concurrent build of the same key that got there first is as good.
    if let Err(error) = fs_err::rename(&entry, &cached_entry) {
        if !cached_entry.join("files").is_dir() {
            return Err(io("create", &cached_entry)(error));
        }
    }
    Ok(report)
}

/// The marker `--cache-import` leaves in each entry it adds.
pub const IMPORTED_MARKER: &str = "imported";

/// The provenance's sandbox text of the cache entry at `entry`, or `None` when there is no
/// usable entry. Nothing is followed through a link: an entry whose `files` or `sandbox` is
/// a link is refused, since what it points at is not what the build produced. An imported
/// entry's own words are quoted, never vouched for.
fn cached_description(entry: &Path) -> Result<Option<String>> {
    let files = entry.join("files");
    match fs_err::symlink_metadata(&files) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => {
            return Err(Error::refused(
                format!(
                    "the build-cache entry {} is not a directory",
                    files.display()
                ),
                "remove the entry (`pandora prune`) and build again",
            ))
        }
        Err(_) => return Ok(None),
    }
    let description = entry.join("sandbox");
    let text = match fs_err::symlink_metadata(&description) {
        Ok(metadata) if metadata.is_file() => fs_err::read_to_string(&description)
            .map_err(io("read", &description))?
            .trim()
            .to_string(),
        Ok(_) => {
            return Err(Error::refused(
                format!(
                    "the build-cache entry {} is not a file",
                    description.display()
                ),
                "remove the entry (`pandora prune`) and build again",
            ))
        }
        Err(_) => String::new(),
    };
    // One line of printable text: it goes into a signed document and onto terminals.
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(512)
        .collect();
    let imported = fs_err::symlink_metadata(entry.join(IMPORTED_MARKER)).is_ok();
    Ok(Some(match (imported, text.is_empty()) {
        (true, true) => "imported from a build cache (unverified): no description".to_string(),
        (true, false) => format!("imported from a build cache (unverified): {text}"),
        (false, true) => "unknown (build cache entry without a description)".to_string(),
        (false, false) => text,
    }))
}

/// A build's working directory, removed when dropped; while it lives, its [`WORK_LOCK`] is
/// locked, which tells a sweep that it is in use.
#[derive(Debug)]
pub struct WorkDirectory {
    directory: tempfile::TempDir,
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl WorkDirectory {
    /// Where it is.
    pub fn path(&self) -> &Path {
        self.directory.path()
    }
}

/// The file a live build keeps locked in its working directory.
const WORK_LOCK: &str = ".lock";
/// How old an unlocked leftover (or an empty sandbox root) must be before a sweep removes it:
/// a build that died before taking its lock, or another user's `/tmp` entry, gets a day.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// A fresh working directory for one build, under the cache (same filesystem as the entries it
/// is renamed to; never under `tmp/`, which installs sweep). Leftovers of killed builds are
/// swept first.
pub fn work_directory(layout: &Layout) -> Result<WorkDirectory> {
    let root = cache_root(layout);
    fs_err::create_dir_all(&root).map_err(io("create", &root))?;
    for leftover in stale_leftovers(layout)? {
        // Best effort: another build's sweep may be removing it at the same time.
        let _ = remove_leftover(&leftover);
    }
    let directory = tempfile::Builder::new()
        .prefix(".work.")
        .tempdir_in(&root)
        .map_err(io("create", &root))?;
    // Locked under another name, then renamed: a sweep never finds the lock file unlocked.
    let unready = directory.path().join(".lock.new");
    let file = fs_err::File::create(&unready).map_err(io("create", &unready))?;
    let lock = nix::fcntl::Flock::lock(
        file.into_parts().0,
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .map_err(|(_, errno)| io("lock", &unready)(errno.into()))?;
    let path = directory.path().join(WORK_LOCK);
    fs_err::rename(&unready, &path).map_err(io("create", &path))?;
    Ok(WorkDirectory {
        directory,
        _lock: lock,
    })
}

/// What killed builds and imports left behind: `cache/build/.work.*` no live build holds
/// locked, `cache/build/.import.*` older than a day, and this user's empty
/// `pandora-sandbox-root.*` directories in the temporary directory older than a day.
pub fn stale_leftovers(layout: &Layout) -> Result<Vec<PathBuf>> {
    let mut stale = Vec::new();
    let old = |path: &Path| {
        fs_err::symlink_metadata(path)
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > STALE_AFTER))
    };
    let root = cache_root(layout);
    if let Ok(entries) = fs_err::read_dir(&root) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let is_directory = entry.file_type().is_ok_and(|kind| kind.is_dir());
            if !is_directory {
                continue;
            }
            if name.starts_with(".work.") {
                let unlocked = match fs_err::File::open(path.join(WORK_LOCK)) {
                    Ok(file) => nix::fcntl::Flock::lock(
                        file.into_parts().0,
                        nix::fcntl::FlockArg::LockExclusiveNonblock,
                    )
                    .is_ok(),
                    Err(_) => old(&path),
                };
                if unlocked {
                    stale.push(path);
                }
            } else if name.starts_with(".import.") && old(&path) {
                stale.push(path);
            }
        }
    }
    let temporary = std::env::temp_dir();
    let uid = nix::unistd::geteuid().as_raw();
    if let Ok(entries) = fs_err::read_dir(&temporary) {
        use std::os::unix::fs::MetadataExt;
        for entry in entries.flatten() {
            let path = entry.path();
            let ours = entry
                .file_name()
                .to_string_lossy()
                .starts_with("pandora-sandbox-root.")
                && fs_err::symlink_metadata(&path)
                    .is_ok_and(|metadata| metadata.is_dir() && metadata.uid() == uid);
            if ours && old(&path) {
                stale.push(path);
            }
        }
    }
    stale.sort();
    Ok(stale)
}

/// Removes one of [`stale_leftovers`]: a sandbox root only when empty (on the host it always
/// is; anything else there is not ours to delete), a build's leftovers whole.
pub fn remove_leftover(path: &Path) -> std::io::Result<()> {
    let sandbox_root = path
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("pandora-sandbox-root."));
    if sandbox_root {
        fs_err::remove_dir(path)
    } else {
        crate::fs::remove_tree(path)
    }
}

fn copy_local_sources(package: &Path, recipe: &Recipe, target: &Path) -> Result<()> {
    let root = fs_err::canonicalize(package).map_err(io("access", package))?;
    for relative in &recipe.sources {
        let path = package.join(relative);
        if fs_err::symlink_metadata(&path).is_err() {
            return Err(crate::build::BuildError::SourceMissing { path }.into());
        }
        let resolved = fs_err::canonicalize(&path).map_err(io("access", &path))?;
        if !resolved.starts_with(&root) {
            return Err(Error::refused(
                format!(
                    "the build source {} leads outside the package directory",
                    path.display()
                ),
                "sources are files and directories inside the package directory",
            ));
        }
        copy_tree(&resolved, &target.join(relative))?;
    }
    Ok(())
}

/// Copies a file or a directory tree (symbolic links as links, modes kept).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs_err::create_dir_all(parent).map_err(io("create", parent))?;
    }
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.map_err(|error| {
            let path = error.path().unwrap_or(from).to_path_buf();
            Error::Io(IoError {
                action: "read",
                path,
                source: error.into(),
            })
        })?;
        let relative = entry.path().strip_prefix(from).unwrap_or(Path::new(""));
        let destination = if relative.as_os_str().is_empty() {
            to.to_path_buf()
        } else {
            to.join(relative)
        };
        let kind = entry.file_type();
        if kind.is_dir() {
            fs_err::create_dir_all(&destination).map_err(io("create", &destination))?;
        } else if kind.is_symlink() {
            let target = fs_err::read_link(entry.path()).map_err(io("read", entry.path()))?;
            fs_err::os::unix::fs::symlink(target, &destination)
                .map_err(io("create", &destination))?;
        } else if kind.is_file() {
            fs_err::copy(entry.path(), &destination).map_err(io("copy", entry.path()))?;
        }
    }
    Ok(())
}

/// Fetches every remote source into `cache/sources/SHA256` (verified there) and copies it to
/// its place under the build directory.
fn fetch_sources(
    layout: &Layout,
    recipe: &Recipe,
    target: &Path,
    policy: DownloadPolicy,
) -> Result<()> {
    if recipe.fetches.is_empty() {
        return Ok(());
    }
    let blobs = layout.cache_dir().join("sources");
    fs_err::create_dir_all(&blobs).map_err(io("create", &blobs))?;
    let mut requests = Vec::new();
    for fetch in &recipe.fetches {
        let url = url::Url::parse(&fetch.url).map_err(|error| {
            Error::refused(
                format!("invalid source URL {}: {error}", fetch.url),
                "fix the fetch block",
            )
        })?;
        let mut sha256 = [0u8; 32];
        for (index, byte) in sha256.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&fetch.sha256[index * 2..index * 2 + 2], 16)
                .expect("the manifest checked the digest is hexadecimal");
        }
        requests.push(DownloadRequest {
            url,
            mirrors: Vec::new(),
            sha256,
            size: None,
            registry: "build source".to_string(),
            launcher: None,
        });
    }
    let downloader = Downloader::new(policy).map_err(io("create", &blobs))?;
    let progress: Arc<dyn Fn(usize, u64) + Send + Sync> = Arc::new(|_, _| {});
    for (result, fetch) in downloader
        .fetch_all(&requests, &blobs, &progress)
        .into_iter()
        .zip(&recipe.fetches)
    {
        let blob = result.map_err(|error| match error {
            DownloadError::HashMismatch { url, actual, .. } => Error::refused(
                format!(
                    "the build source {url} hashes to {actual}, the manifest's fetch says {}",
                    fetch.sha256
                ),
                "nothing was built; if the new file is the one you mean to build from, put its digest in the fetch block's `sha256`",
            ),
            other => Error::Download(other),
        })?;
        let destination = target.join(&fetch.path);
        if let Some(parent) = destination.parent() {
            fs_err::create_dir_all(parent).map_err(io("create", parent))?;
        }
        fs_err::copy(&blob, &destination).map_err(io("copy", &blob))?;
    }
    Ok(())
}

/// `(path, sha256)` of every file and link under `root`, sorted; links hash their target.
fn input_digests(root: &Path) -> Result<Vec<(String, String)>> {
    let mut digests = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.map_err(|error| {
            let path = error.path().unwrap_or(root).to_path_buf();
            Error::Io(IoError {
                action: "read",
                path,
                source: error.into(),
            })
        })?;
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let name = relative.to_string_lossy().into_owned();
        if name == ".home"
            || name == ".tmp"
            || name.starts_with(".home/")
            || name.starts_with(".tmp/")
        {
            continue;
        }
        if entry.file_type().is_symlink() {
            let target = fs_err::read_link(entry.path()).map_err(io("read", entry.path()))?;
            let digest = Sha256::digest(target.as_os_str().as_encoded_bytes());
            digests.push((name, format!("link:{}", encode_hex(&digest))));
        } else if entry.file_type().is_file() {
            use std::os::unix::fs::PermissionsExt;
            let executable = entry
                .metadata()
                .map(|metadata| metadata.permissions().mode() & 0o111 != 0)
                .unwrap_or(false);
            let digest = file_digest(entry.path())?;
            digests.push((
                name,
                if executable {
                    format!("x:{digest}")
                } else {
                    digest
                },
            ));
        }
    }
    Ok(digests)
}

fn file_digest(path: &Path) -> Result<String> {
    let mut file = fs_err::File::open(path).map_err(io("read", path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        let read = file.read(&mut buffer).map_err(io("read", path))?;
        if read == 0 {
            return Ok(encode_hex(&hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

/// One digest for a whole tree (a build dependency's store entry).
pub fn tree_sha256(root: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    for (path, digest) in input_digests(root)? {
        hasher.update(format!("{path}\0{digest}\n").as_bytes());
    }
    Ok(encode_hex(&hasher.finalize()))
}
