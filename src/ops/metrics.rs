//! Metrics: local counts from the activity log (`pandora metrics`), a registry's download
//! counts from its web server's access logs (`pandora registry metrics`), and a registry's
//! published counts, fetched and verified (`pandora metrics --registry`).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use pandora_core::events::{ActivityLog, ACTIVITY_LIMIT};
use pandora_core::IoError;

use super::keys::{signing_key, KeySource};
use super::{Error, Result};
use crate::config::RegistriesFile;
use crate::layout::Layout;
use crate::registry::client;
use crate::registry::download::{DownloadPolicy, Downloader};
use crate::registry::html::{self, Extras};
use crate::registry::index::{parse_signature_file, signature_file_for, RegistryIndex};
use crate::registry::metrics::{PathMap, RegistryMetrics, Tally};

/// Local counts.
#[derive(Debug, Clone, Default)]
pub struct LocalMetrics {
    /// Per package name: installs, removals, publications, and the last time any happened.
    pub packages: BTreeMap<String, PackageActivity>,
    /// Activations, rollbacks and profile switches.
    pub activations: u64,
    /// The last line's time, if there is one.
    pub last_activity: Option<String>,
    /// Since when the log counts (its oldest line).
    pub since: Option<String>,
    /// Lines that could not be read (torn by a crash, edited).
    pub unreadable: usize,
    /// Bytes: store, downloaded packages, registry index cache.
    pub store_bytes: u64,
    /// Bytes of `blobs/`.
    pub blob_bytes: u64,
    /// Bytes of `cache/`.
    pub cache_bytes: u64,
    /// The log file.
    pub log: PathBuf,
}

/// One package's local activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageActivity {
    /// Times it was installed (any version).
    pub installs: u64,
    /// Times a version was removed.
    pub removes: u64,
    /// Times a version was published from here.
    pub publishes: u64,
    /// The last of these (RFC 3339).
    pub last: String,
}

/// Counts the activity log and measures the home's directories.
pub fn local(layout: &Layout) -> Result<LocalMetrics> {
    let log = ActivityLog::new(layout.events_log(), ACTIVITY_LIMIT);
    let (lines, unreadable) = log.read()?;
    let mut metrics = LocalMetrics {
        unreadable,
        log: log.path().to_path_buf(),
        since: lines.first().map(|line| line.time.clone()),
        last_activity: lines.last().map(|line| line.time.clone()),
        ..LocalMetrics::default()
    };
    for line in &lines {
        let package = line
            .field("id")
            .and_then(|id| id.split_once('@'))
            .map(|(name, _)| name.to_string());
        let counter = match line.event.as_str() {
            "install" => |activity: &mut PackageActivity| activity.installs += 1,
            "remove" => |activity: &mut PackageActivity| activity.removes += 1,
            "publish" => |activity: &mut PackageActivity| activity.publishes += 1,
            "activate" | "rollback" | "switch" => {
                metrics.activations += 1;
                continue;
            }
            _ => continue,
        };
        if let Some(name) = package {
            let activity = metrics.packages.entry(name).or_default();
            counter(activity);
            activity.last.clone_from(&line.time);
        }
    }
    let size = |path: &Path| match crate::fs::disk_usage(path) {
        Ok(bytes) => Ok(bytes),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(error) => Err(IoError::at("measure", path)(error)),
    };
    metrics.store_bytes = size(&layout.store_dir())?;
    metrics.blob_bytes = size(&layout.blobs_dir())?;
    metrics.cache_bytes = size(&layout.cache_dir())?;
    Ok(metrics)
}

/// How to count a registry's downloads.
#[derive(Debug, Clone)]
pub struct AggregateRequest<'a> {
    /// The registry directory (`index.acl` is read from it, `metrics.acl` written to it).
    pub directory: PathBuf,
    /// Access logs, nginx combined or S3 server access log format, plain or gzipped (`-`:
    /// standard input).
    pub logs: Vec<PathBuf>,
    /// The key signing `metrics.acl`.
    pub key: KeySource<'a>,
}

/// What `registry metrics` wrote.
#[derive(Debug, Clone)]
pub struct Aggregated {
    /// The counts.
    pub metrics: RegistryMetrics,
    /// `metrics.acl`.
    pub path: PathBuf,
    /// `index.html`, written again with the counts (or left alone: not Pandora's).
    pub page: html::Written,
}

/// Counts downloads in `logs` against the index in `directory` and writes a signed
/// `metrics.acl` (and its `.sig`) beside it, and the web page again with the counts.
pub fn aggregate(layout: &Layout, request: &AggregateRequest<'_>) -> Result<Aggregated> {
    let key = signing_key(layout, request.key)?;
    let directory = &request.directory;
    let index_path = directory.join("index.acl");
    let text = match fs_err::read_to_string(&index_path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::refused(
                format!(
                    "{} has no index.acl: downloads are counted against a registry's index",
                    directory.display()
                ),
                format!(
                    "index it first: `pandora registry index {}`",
                    directory.display()
                ),
            ))
        }
        Err(error) => return Err(IoError::at("read", &index_path)(error).into()),
    };
    let index =
        RegistryIndex::parse(&index_path.display().to_string(), &text).map_err(|error| {
            Error::refused(
                format!("{} is not a valid index: {error}", index_path.display()),
                format!(
                    "write it again: `pandora registry index {}`",
                    directory.display()
                ),
            )
        })?;
    let index_signer = index_signer(directory);
    if let Some(signer) = &index_signer {
        if *signer != key.public_key() {
            return Err(Error::refused(
                format!(
                    "{} is signed by {signer}, not by the key given ({}): clients that trust the index's key would refuse the metrics",
                    index_path.display(),
                    key.public_key()
                ),
                "pass the key that signs the index (--key NAME|FILE or --key-seed SEED)",
            ));
        }
    }
    let map = PathMap::new(&index);
    let mut tally = Tally::default();
    for log in &request.logs {
        if log.as_os_str() == "-" {
            read_log(std::io::stdin().lock(), log, &map, &mut tally)?;
        } else {
            let file = fs_err::File::open(log).map_err(IoError::at("read", log))?;
            read_log(std::io::BufReader::new(file), log, &map, &mut tally)?;
        }
    }
    let metrics = tally.finish(&index, pandora_core::time::now());
    // Counts replace the last ones: an empty or wrong file (after logrotate, say) must not
    // publish zeros over them.
    if metrics.requests == metrics.skipped {
        return Err(Error::refused(
            format!(
                "no line of {} is an access-log line ({} line(s), {} not understood); {} was left as it was",
                request
                    .logs
                    .iter()
                    .map(|log| log.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                metrics.requests,
                metrics.skipped,
                directory.join("metrics.acl").display()
            ),
            "give the web server's access logs for the whole period (nginx's combined format or S3 server access logs; rotated .gz files too): the counts are made from them alone, not added to the last",
        ));
    }
    let text = metrics.to_acl();
    let signature = key.sign(text.as_bytes());
    let path = directory.join("metrics.acl");
    crate::fs::write_atomic_public(&path, text.as_bytes()).map_err(IoError::at("write", &path))?;
    let signature_path = directory.join("metrics.acl.sig");
    crate::fs::write_atomic_public(
        &signature_path,
        signature_file_for("metrics.acl", &key.public_key(), &signature).as_bytes(),
    )
    .map_err(IoError::at("write", &signature_path))?;
    let page = write_page(directory, &index, Some(&metrics))?;
    Ok(Aggregated {
        metrics,
        path,
        page,
    })
}

/// Reads one log, plain or gzipped (as logrotate leaves `access.log.2.gz`).
fn read_log(mut reader: impl BufRead, path: &Path, map: &PathMap, tally: &mut Tally) -> Result<()> {
    let start = reader.fill_buf().map_err(IoError::at("read", path))?;
    if start.starts_with(&[0x1f, 0x8b]) {
        let decoder = flate2::bufread::MultiGzDecoder::new(reader);
        read_lines(std::io::BufReader::new(decoder), path, map, tally)
    } else {
        read_lines(reader, path, map, tally)
    }
}

/// Feeds every line of `reader` to `tally`; bytes that are not UTF-8 make a line unreadable,
/// not the log. A line is kept only up to [`access_log::LONGEST_LINE`] bytes (a longer one is
/// not a log line, and is counted as skipped): a log without newlines is never held whole.
fn read_lines(
    mut reader: impl BufRead,
    path: &Path,
    map: &PathMap,
    tally: &mut Tally,
) -> Result<()> {
    let limit = crate::registry::access_log::LONGEST_LINE;
    let mut line = Vec::new();
    let mut overlong = false;
    loop {
        let buffer = reader.fill_buf().map_err(IoError::at("read", path))?;
        if buffer.is_empty() {
            if overlong || !line.is_empty() {
                finish_line(&mut line, &mut overlong, map, tally);
            }
            return Ok(());
        }
        let (piece, ends) = match memchr::memchr(b'\n', buffer) {
            Some(at) => (&buffer[..at], true),
            None => (buffer, false),
        };
        if line.len() + piece.len() > limit {
            overlong = true;
        } else {
            line.extend_from_slice(piece);
        }
        let used = piece.len() + usize::from(ends);
        reader.consume(used);
        if ends {
            finish_line(&mut line, &mut overlong, map, tally);
        }
    }
}

fn finish_line(line: &mut Vec<u8>, overlong: &mut bool, map: &PathMap, tally: &mut Tally) {
    if *overlong {
        tally.unreadable();
    } else {
        tally.line(map, &String::from_utf8_lossy(line));
    }
    line.clear();
    *overlong = false;
}

/// The key `index.acl.sig` in `directory` names, if it is there and readable.
fn index_signer(directory: &Path) -> Option<pandora_core::PublicKey> {
    let text = fs_err::read_to_string(directory.join("index.acl.sig")).ok()?;
    parse_signature_file("index.acl.sig", &text)
        .ok()
        .map(|(key, _)| key)
}

/// Writes the registry's web page (`index.html`, `index-data.json`, `index-data/`) for `index`
/// into `directory`, with download counts from `metrics` (else from a `metrics.acl` there, if
/// it parses), the index signer's fingerprint and each local package file's signer. Returns
/// what was done. `registry index` calls it after indexing; publishing should too.
pub fn write_page(
    directory: &Path,
    index: &RegistryIndex,
    metrics: Option<&RegistryMetrics>,
) -> Result<html::Written> {
    let found;
    let metrics = match metrics {
        Some(metrics) => Some(metrics),
        None => {
            let path = directory.join("metrics.acl");
            found = fs_err::read_to_string(&path)
                .ok()
                .and_then(|text| RegistryMetrics::parse("metrics.acl", &text).ok());
            found.as_ref()
        }
    };
    let extras = Extras {
        signer: index_signer(directory).map(|key| key.fingerprint().to_string()),
        metrics,
        package_signers: package_signers(directory, index),
        generated: pandora_core::time::now(),
    };
    let site = html::render(index, &extras);
    Ok(html::write(directory, &site)?)
}

/// Each local package file's signer fingerprint, read from its PSPF index block (the key the
/// file's metadata signature verifies against; `registry index` verified it).
fn package_signers(
    directory: &Path,
    index: &RegistryIndex,
) -> std::collections::HashMap<String, String> {
    let Ok(base) = std::path::absolute(directory)
        .map_err(|_| ())
        .and_then(url::Url::from_directory_path)
    else {
        return Default::default();
    };
    let mut signers = std::collections::HashMap::new();
    for package in index.packages() {
        let files = package
            .versions
            .iter()
            .flat_map(|version| version.all_files().map(move |file| (version, file.0)));
        for (version, pkg_url) in files {
            let Some(path) = package
                .version_url(&base, pkg_url)
                .ok()
                .filter(|url| url.scheme() == "file")
                .and_then(|url| url.to_file_path().ok())
            else {
                continue;
            };
            let Ok(file) = crate::format::package::Package::open(&path) else {
                continue;
            };
            if let Some(key) = pandora_core::PublicKey::from_bytes(file.index().public_key) {
                signers.insert(
                    format!("{}@{}", package.name, version.version),
                    key.fingerprint().to_string(),
                );
            }
        }
    }
    signers
}

/// A registry's published metrics, verified.
#[derive(Debug, Clone)]
pub struct Published {
    /// The registry's name.
    pub registry: String,
    /// Its counts; `None` when it publishes none.
    pub metrics: Option<RegistryMetrics>,
}

/// Fetches `metrics.acl` from the registry called `name` and verifies it against the
/// registry's keys.
pub fn registry(layout: &Layout, name: &str) -> Result<Published> {
    let file = RegistriesFile::load(&layout.registries_file())?;
    let configured = file.find(name)?;
    let source = super::registries::registry_source(configured);
    let downloader = Downloader::new(DownloadPolicy::default()).map_err(IoError::at(
        "start the network client for",
        &layout.cache_dir(),
    ))?;
    let Some(text) = client::fetch_signed(&downloader, &source, "metrics.acl")? else {
        return Ok(Published {
            registry: name.to_string(),
            metrics: None,
        });
    };
    let url = source
        .url
        .join("metrics.acl")
        .map_or_else(|_| "metrics.acl".to_string(), |url| url.to_string());
    let metrics = RegistryMetrics::parse(&url, &text).map_err(|error| {
        Error::refused(
            format!("registry `{name}`: its metrics.acl is not valid: {error}"),
            "tell the registry's operator: `pandora registry metrics` writes a valid one",
        )
    })?;
    Ok(Published {
        registry: name.to_string(),
        metrics: Some(metrics),
    })
}
