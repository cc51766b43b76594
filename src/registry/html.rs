//! The registry's web page: a static `index.html` beside `index.acl`, browsable and searchable
//! from any static host, offline (no CDN, no external font or script: CSS and JS are inline).
//!
//! It stays small for large registries by splitting what is searched from what is shown on
//! demand:
//! - `index.html`: the shell (about 12 KB), the same whatever the registry holds but for its
//!   name and the data file's URL, which carries the serial so a browser never mixes an old
//!   data file with a new page;
//! - `index-data.json`: one row per package, what search needs (name, description, tags,
//!   latest version, downloads, state);
//! - `index-data/<shard>.json`: every version's details (license, dependencies, SHA-256, size,
//!   signer, downloads, deprecation and yank state), one file per first letter of the name,
//!   fetched when a package's versions are opened.
//!
//! The page shows 50 packages at a time (paged). Every string from a package (a description, a
//! tag, a URL) is hostile: the page only ever sets `textContent`, never HTML, and links only to
//! `http(s)` URLs; the one value in the shell (the registry's name) is HTML-escaped.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::index::{IndexVersion, RegistryIndex};
use super::metrics::RegistryMetrics;
use crate::format::metadata::encode_hex;

/// The page's files, relative to the registry directory, and their bytes.
#[derive(Debug, Clone)]
pub struct Site {
    /// `(relative path, contents)`, the shell last (see [`write`]).
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

impl Site {
    /// Bytes of all files together.
    pub fn bytes(&self) -> u64 {
        self.files
            .iter()
            .map(|(_, contents)| contents.len() as u64)
            .sum()
    }
}

/// What the page knows beyond the index.
#[derive(Debug, Clone, Default)]
pub struct Extras<'a> {
    /// The index signer's fingerprint (`sha256:HEX`).
    pub signer: Option<String>,
    /// Download counts, from a `metrics.acl`.
    pub metrics: Option<&'a RegistryMetrics>,
    /// Each version's package signer (`name@version` -> `sha256:HEX`), where known.
    pub package_signers: HashMap<String, String>,
    /// When the page is made (unix time).
    pub generated: i64,
}

/// One row of `index-data.json`: `[name, description, tags, latest, downloads (-1: unknown),
/// state]`, state a bit set: 1 = the latest version is deprecated, 2 = it is yanked.
type Row<'a> = (&'a str, &'a str, &'a [String], &'a str, i64, u8);

#[derive(Serialize)]
struct Summary<'a> {
    registry: &'a str,
    serial: Option<i64>,
    signer: Option<&'a str>,
    generated: String,
    metrics: Option<Period>,
    packages: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Period {
    from: Option<String>,
    until: Option<String>,
}

/// One version in a shard file.
#[derive(Serialize)]
struct PageVersion<'a> {
    version: &'a str,
    license: Option<&'a str>,
    dependencies: &'a [String],
    sha256: String,
    size: Option<u64>,
    url: &'a str,
    signer: Option<&'a str>,
    downloads: Option<u64>,
    deprecated: bool,
    /// Whether the version is yanked. The index does not record yanking yet: it becomes
    /// Withdrawn from new installs by its publisher.
    yanked: bool,
}

fn yanked(version: &IndexVersion) -> bool {
    version.yanked
}

/// The shard a package's details are in: its first character, if a plain one.
pub fn shard(name: &str) -> String {
    match name.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some(c) if c.is_ascii_alphanumeric() => c.to_string(),
        _ => "_".to_string(),
    }
}

fn time(seconds: i64) -> String {
    pandora_core::time::rfc3339(u64::try_from(seconds).unwrap_or(0))
}

/// The page for `index`.
pub fn render(index: &RegistryIndex, extras: &Extras<'_>) -> Site {
    let packages = index.packages();
    let metrics_of = |name: &str| extras.metrics.and_then(|metrics| metrics.package(name));
    let mut rows = Vec::with_capacity(packages.len());
    let mut shards: BTreeMap<String, BTreeMap<&str, Vec<PageVersion<'_>>>> = BTreeMap::new();
    for package in &packages {
        let counts = metrics_of(&package.name);
        let latest = package
            .versions
            .iter()
            .find(|version| version.version == package.latest);
        let state = latest.map_or(0, |version| {
            u8::from(version.deprecated) | (u8::from(yanked(version)) << 1)
        });
        rows.push((
            package.name.as_str(),
            package.description.as_deref().unwrap_or(""),
            package.tags.as_slice(),
            package.latest.as_str(),
            counts.map_or(-1, |counts| {
                i64::try_from(counts.downloads).unwrap_or(i64::MAX)
            }),
            state,
        ));
        let versions = package
            .versions
            .iter()
            .rev()
            .map(|version| PageVersion {
                version: &version.version,
                license: version.license.as_deref(),
                dependencies: &version.dependencies,
                sha256: encode_hex(&version.sha256),
                size: version.size,
                url: &version.pkg_url,
                signer: extras
                    .package_signers
                    .get(&format!("{}@{}", package.name, version.version))
                    .map(String::as_str),
                downloads: counts.map(|counts| {
                    counts
                        .by_version
                        .iter()
                        .find(|(known, _)| *known == version.version)
                        .map_or(0, |(_, downloads)| *downloads)
                }),
                deprecated: version.deprecated,
                yanked: yanked(version),
            })
            .collect();
        shards
            .entry(shard(&package.name))
            .or_default()
            .insert(&package.name, versions);
    }
    let summary = Summary {
        registry: &index.name,
        serial: index.serial,
        signer: extras.signer.as_deref(),
        generated: time(extras.generated),
        metrics: extras.metrics.map(|metrics| Period {
            from: metrics.from.map(time),
            until: metrics.until.map(time),
        }),
        packages: rows,
    };
    let mut files = Vec::with_capacity(shards.len() + 2);
    for (name, packages) in &shards {
        files.push((
            PathBuf::from(format!("index-data/{name}.json")),
            json(packages),
        ));
    }
    files.push((PathBuf::from("index-data.json"), json(&summary)));
    files.push((PathBuf::from("index.html"), shell(index).into_bytes()));
    Site { files }
}

fn json(value: &impl Serialize) -> Vec<u8> {
    // Strings and numbers only: serializing cannot fail.
    serde_json::to_vec(value).expect("plain data serializes")
}

/// What [`write`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The page is there, new.
    Page(PathBuf),
    /// An `index.html` that Pandora did not write is there: nothing was written.
    KeptTheirs(PathBuf),
}

/// In every shell Pandora writes: an `index.html` without it is someone else's.
pub const GENERATOR: &str = "<meta name=\"generator\" content=\"pandora registry index\">";

/// Writes the page into `directory`: data first, the shell last (so a new shell never points
/// at data not written yet), each file replaced atomically; shards left from an older page
/// are removed. An `index.html` Pandora did not write (no [`GENERATOR`] mark) is left alone,
/// and nothing is written.
pub fn write(directory: &Path, site: &Site) -> Result<Written, pandora_core::IoError> {
    let shell = directory.join("index.html");
    match fs_err::read(&shell) {
        Ok(existing) if !contains(&existing, GENERATOR.as_bytes()) => {
            return Ok(Written::KeptTheirs(shell))
        }
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(pandora_core::IoError::at("read", &shell)(error)),
    }
    for (relative, contents) in &site.files {
        let path = directory.join(relative);
        crate::fs::write_atomic_public(&path, contents)
            .map_err(pandora_core::IoError::at("write", &path))?;
    }
    let shards = directory.join("index-data");
    let current: Vec<&PathBuf> = site.files.iter().map(|(path, _)| path).collect();
    if let Ok(entries) = fs_err::read_dir(&shards) {
        for entry in entries.flatten() {
            let relative = Path::new("index-data").join(entry.file_name());
            let ours = relative.extension().is_some_and(|ext| ext == "json");
            if ours && !current.contains(&&relative) {
                let path = entry.path();
                fs_err::remove_file(&path).map_err(pandora_core::IoError::at("remove", &path))?;
            }
        }
    }
    Ok(Written::Page(shell))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn shell(index: &RegistryIndex) -> String {
    let title = if index.name.is_empty() {
        "Pandora registry".to_string()
    } else {
        format!("{} — Pandora registry", index.name)
    };
    TEMPLATE.replace("{{title}}", &escape(&title)).replace(
        "{{data}}",
        &format!("index-data.json?serial={}", index.serial.unwrap_or(0)),
    )
}

const TEMPLATE: &str = include_str!("html/index.html");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::index::IndexPackage;

    #[test]
    fn hostile_strings_never_reach_the_shell_as_markup() {
        let index = RegistryIndex {
            name: "<script>alert(1)</script>".into(),
            serial: Some(4),
            expires: None,
            priority: 100,
            packages: vec![IndexPackage {
                name: "évil".into(),
                description: Some("</script><script>alert(1)</script>".into()),
                tags: vec!["\"><img src=x onerror=alert(1)>".into()],
                latest: "1.0.0".into(),
                pkg_base_url: None,
                versions: vec![],
            }],
            compact: None,
        };
        let site = render(&index, &Extras::default());
        let (_, shell) = site.files.last().unwrap();
        let shell = String::from_utf8(shell.clone()).unwrap();
        assert!(!shell.contains("<script>alert"), "{shell}");
        assert!(shell.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(shell.contains("index-data.json?serial=4"));
        assert!(shell.contains(GENERATOR));
        let names: Vec<_> = site.files.iter().map(|(path, _)| path.clone()).collect();
        assert_eq!(
            names,
            [
                PathBuf::from("index-data/_.json"),
                PathBuf::from("index-data.json"),
                PathBuf::from("index.html")
            ]
        );
        let data: serde_json::Value = serde_json::from_slice(&site.files[1].1).unwrap();
        assert_eq!(data["packages"][0][1], "</script><script>alert(1)</script>");
        assert_eq!(data["packages"][0][4], -1, "no metrics: downloads unknown");
    }
}
