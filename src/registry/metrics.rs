//! `metrics.acl`: what a registry's web server says was downloaded, signed like the index
//! (`metrics.acl.sig`, the same Ed25519 scheme as `index.acl.sig`).
//!
//! ```text
//! Metrics {
//!     string registry = "main";
//!     int generated = 1764570000;     // when it was written (unix time)
//!     int from = 1764480000;          // first and last request read from the logs
//!     int until = 1764569000;
//!     int requests = 1200;            // log lines read, and how many were not understood
//!     int skipped = 3;
//!
//!     Package "hello" {
//!         int downloads = 12;         // of every version
//!         int versions = 2;           // in the index
//!         int publishes = 2;          // uploads seen in the logs (object storage logs only)
//!         Version "1.0.0" { int downloads = 5; }
//!     }
//! }
//! ```
//!
//! # What counts as a download
//!
//! A `GET` answered `200` or `206` for a path that is one of the index's package files (its
//! `pkg_url`, under any prefix the registry is served from) or that names a version's
//! SHA-256 as a path segment (content-addressed layouts, `blobs/sha256/<hex>`). Requests of the
//! same file from the same client (address and user agent) within [`SERIES_SECONDS`] of the
//! previous one are one download: a resumed transfer, or a launcher-deduplicated `Range` read
//! split over several requests, is one install. `HEAD`, `304` and errors never count. A `PUT`
//! answered `200` of a package file (S3 `REST.PUT.OBJECT`) counts as a publish.

use std::collections::HashMap;

use acl_parser::{Block, Document};

use super::access_log::{self, Request};
use super::index::RegistryIndex;
use crate::format::metadata::encode_hex;

/// Requests of one file by one client closer together than this are one download.
pub const SERIES_SECONDS: i64 = 600;

/// A registry's download counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistryMetrics {
    /// The registry's name, as its index gives it.
    pub registry: String,
    /// When the file was written (unix time).
    pub generated: i64,
    /// The first request read (unix time), if any line was.
    pub from: Option<i64>,
    /// The last request read.
    pub until: Option<i64>,
    /// Log lines read.
    pub requests: u64,
    /// Lines that were not understood (skipped).
    pub skipped: u64,
    /// Per package, sorted by name: every package of the index, downloaded or not.
    pub packages: Vec<PackageMetrics>,
}

/// One package's counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageMetrics {
    /// Its name.
    pub name: String,
    /// Downloads of all its versions.
    pub downloads: u64,
    /// How many versions the index offers.
    pub versions: u64,
    /// Uploads seen in the logs; `None` when the logs cannot show them (a web server's).
    pub publishes: Option<u64>,
    /// Downloads per version, oldest version first.
    pub by_version: Vec<(String, u64)>,
}

/// The totals the logs gave, before they are written.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    downloads: HashMap<(usize, usize), u64>,
    publishes: HashMap<usize, u64>,
    saw_object_storage: bool,
    /// (client, file) -> time of the last request of its series.
    series: HashMap<(String, (usize, usize)), i64>,
    from: Option<i64>,
    until: Option<i64>,
    requests: u64,
    skipped: u64,
}

/// Finds the version a request path names.
#[derive(Debug)]
pub struct PathMap {
    /// Package file path relative to the registry root -> (package, version) positions.
    by_path: HashMap<String, (usize, usize)>,
    by_sha256: HashMap<String, (usize, usize)>,
}

impl PathMap {
    /// The package files of `index`.
    pub fn new(index: &RegistryIndex) -> PathMap {
        // Any base does: only the path below it matters, under whatever prefix it is served.
        let base = url::Url::parse("http://registry.invalid/").expect("a valid URL");
        let mut by_path = HashMap::new();
        let mut by_sha256 = HashMap::new();
        for (package_at, package) in index.packages().into_iter().enumerate() {
            for (version_at, version) in package.versions.iter().enumerate() {
                let at = (package_at, version_at);
                for (pkg_url, sha256) in version.all_files() {
                    by_sha256.insert(encode_hex(sha256), at);
                    if let Ok(url) = package.version_url(&base, pkg_url) {
                        if url.host_str() == Some("registry.invalid") {
                            by_path.insert(url.path().trim_start_matches('/').to_string(), at);
                        }
                    }
                }
            }
        }
        PathMap { by_path, by_sha256 }
    }

    /// The (package, version) a request path (query removed) names, if any: the longest
    /// suffix that is a package file's path, else a segment that is a version's SHA-256.
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = percent_decode(path);
        let path = path.trim_start_matches('/');
        let mut rest = path;
        loop {
            if let Some(found) = self.by_path.get(rest) {
                return Some(*found);
            }
            match rest.split_once('/') {
                Some((_, after)) => rest = after,
                None => break,
            }
        }
        path.split('/')
            .find_map(|segment| {
                let hex = segment.strip_suffix(".psp").unwrap_or(segment);
                self.by_sha256.get(&hex.to_ascii_lowercase())
            })
            .copied()
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escaped = (bytes[at] == b'%')
            .then(|| bytes.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Tally {
    /// Counts one log line (nginx combined or S3 server access log format).
    pub fn line(&mut self, map: &PathMap, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        self.requests += 1;
        match access_log::parse(line) {
            Some(request) => self.request(map, &request),
            None => self.skipped += 1,
        }
    }

    /// Counts a line that could not even be read as one (too long).
    pub fn unreadable(&mut self) {
        self.requests += 1;
        self.skipped += 1;
    }

    fn request(&mut self, map: &PathMap, request: &Request) {
        self.from = Some(
            self.from
                .map_or(request.time, |from| from.min(request.time)),
        );
        self.until = Some(
            self.until
                .map_or(request.time, |until| until.max(request.time)),
        );
        self.saw_object_storage |= request.object_storage;
        let Some(file) = map.find(&request.path) else {
            return;
        };
        let success = matches!(request.status, 200 | 206);
        match request.method.as_str() {
            "GET" if success => {
                let key = (request.client.clone(), file);
                let previous = self.series.insert(key, request.time);
                // Logs are in time order per file but several files may interleave: a
                // request earlier than the last one seen continues that series too.
                let continues =
                    previous.is_some_and(|last| (request.time - last).abs() < SERIES_SECONDS);
                if !continues {
                    *self.downloads.entry(file).or_default() += 1;
                }
            }
            "PUT" if success => *self.publishes.entry(file.0).or_default() += 1,
            _ => {}
        }
    }

    /// Lines that were not understood.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The counts for every package of `index`.
    pub fn finish(self, index: &RegistryIndex, generated: i64) -> RegistryMetrics {
        let packages = index
            .packages()
            .into_iter()
            .enumerate()
            .map(|(package_at, package)| {
                let by_version: Vec<(String, u64)> = package
                    .versions
                    .iter()
                    .enumerate()
                    .map(|(version_at, version)| {
                        let count = self
                            .downloads
                            .get(&(package_at, version_at))
                            .copied()
                            .unwrap_or(0);
                        (version.version.clone(), count)
                    })
                    .collect();
                PackageMetrics {
                    name: package.name.clone(),
                    downloads: by_version.iter().map(|(_, count)| count).sum(),
                    versions: package.versions.len() as u64,
                    publishes: self
                        .saw_object_storage
                        .then(|| self.publishes.get(&package_at).copied().unwrap_or(0)),
                    by_version,
                }
            })
            .collect();
        RegistryMetrics {
            registry: index.name.clone(),
            generated,
            from: self.from,
            until: self.until,
            requests: self.requests,
            skipped: self.skipped,
            packages,
        }
    }
}

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl RegistryMetrics {
    /// The canonical ACL (what is signed).
    pub fn to_acl(&self) -> String {
        let mut block = Block::new("Metrics")
            .with("registry", self.registry.clone())
            .with("generated", self.generated);
        if let (Some(from), Some(until)) = (self.from, self.until) {
            block = block.with("from", from).with("until", until);
        }
        block = block
            .with("requests", int(self.requests))
            .with("skipped", int(self.skipped));
        for package in &self.packages {
            let mut entry = Block::labelled("Package", package.name.clone())
                .with("downloads", int(package.downloads))
                .with("versions", int(package.versions));
            if let Some(publishes) = package.publishes {
                entry = entry.with("publishes", int(publishes));
            }
            for (version, downloads) in &package.by_version {
                entry = entry.with_block(
                    Block::labelled("Version", version.clone()).with("downloads", int(*downloads)),
                );
            }
            block = block.with_block(entry);
        }
        format!(
            "// Pandora registry metrics. Written by `pandora registry metrics`; signed in metrics.acl.sig.\n{}",
            Document::new().with_block(block)
        )
    }

    /// Reads a metrics file; `name` (a path or URL) appears in errors.
    pub fn parse(name: &str, text: &str) -> Result<RegistryMetrics, acl_parser::Error> {
        let document = acl_parser::from_str(name, text)?;
        let block = document
            .blocks("Metrics")
            .next()
            .ok_or_else(|| document.error_at(None, "no `Metrics { ... }` block"))?;
        let count = |block: &Block, key: &str| -> Result<u64, acl_parser::Error> {
            block
                .get_int(key)
                .ok()
                .and_then(|value| u64::try_from(value).ok())
                .ok_or_else(|| {
                    document.error_at(
                        block.span(),
                        format!("`{key}` must be a count (an int of 0 or more)"),
                    )
                })
        };
        let optional_count = |block: &Block, key: &str| -> Result<Option<u64>, acl_parser::Error> {
            if block.get(key).is_err() {
                return Ok(None);
            }
            count(block, key).map(Some)
        };
        let label = |block: &Block, what: &str| -> Result<String, acl_parser::Error> {
            block
                .label()
                .map(str::to_string)
                .ok_or_else(|| document.error_at(block.span(), format!("a {what} without a name")))
        };
        let mut packages = Vec::new();
        for package in block.blocks("Package") {
            let mut by_version = Vec::new();
            for version in package.blocks("Version") {
                by_version.push((label(version, "Version")?, count(version, "downloads")?));
            }
            packages.push(PackageMetrics {
                name: label(package, "Package")?,
                downloads: count(package, "downloads")?,
                versions: count(package, "versions")?,
                publishes: optional_count(package, "publishes")?,
                by_version,
            });
        }
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(RegistryMetrics {
            registry: block.get_str("registry").unwrap_or_default().to_string(),
            generated: block.get_int("generated").unwrap_or(0),
            from: block.get_int("from").ok(),
            until: block.get_int("until").ok(),
            requests: optional_count(block, "requests")?.unwrap_or(0),
            skipped: optional_count(block, "skipped")?.unwrap_or(0),
            packages,
        })
    }

    /// The counts of the package called `name`.
    pub fn package(&self, name: &str) -> Option<&PackageMetrics> {
        self.packages
            .binary_search_by(|package| package.name.as_str().cmp(name))
            .ok()
            .map(|at| &self.packages[at])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::index::{IndexPackage, IndexVersion};

    fn index() -> RegistryIndex {
        let version = |version: &str, pkg_url: &str, byte: u8| IndexVersion {
            version: version.into(),
            pkg_url: pkg_url.into(),
            sha256: [byte; 32].into(),
            size: Some(10),
            manifest_url: None,
            dependencies: vec![],
            license: None,
            deprecated: false,
            deprecation: None,
            yanked: false,
            launcher: None,
            files: Vec::new(),
        };
        RegistryIndex {
            name: "main".into(),
            serial: Some(1),
            expires: None,
            priority: 100,
            packages: vec![
                IndexPackage {
                    name: "hello".into(),
                    description: None,
                    tags: vec![],
                    latest: "1.1.0".into(),
                    pkg_base_url: None,
                    versions: vec![
                        version("1.0.0", "hello/hello-1.0.0.psp", 1),
                        version("1.1.0", "hello/hello-1.1.0.psp", 2),
                    ],
                },
                IndexPackage {
                    name: "quiet".into(),
                    description: None,
                    tags: vec![],
                    latest: "2.0.0".into(),
                    pkg_base_url: None,
                    versions: vec![version("2.0.0", "quiet-2.0.0.psp", 3)],
                },
            ],
            compact: None,
        }
    }

    fn nginx(ip: &str, time: &str, request: &str, status: u16) -> String {
        format!(
            "{ip} - - [01/Dec/2026:{time} +0000] \"{request}\" {status} 512 \"-\" \"pandora/0.1\""
        )
    }

    #[test]
    fn downloads_are_counted_once_per_client_series() {
        let index = index();
        let map = PathMap::new(&index);
        let mut tally = Tally::default();
        let lines = [
            // A download, then its resume: one.
            nginx(
                "10.0.0.1",
                "10:00:00",
                "GET /reg/hello/hello-1.0.0.psp HTTP/1.1",
                200,
            ),
            nginx(
                "10.0.0.1",
                "10:00:05",
                "GET /reg/hello/hello-1.0.0.psp HTTP/1.1",
                206,
            ),
            // Another client, and the first one again an hour later: two more.
            nginx(
                "10.0.0.2",
                "10:01:00",
                "GET /reg/hello/hello-1.0.0.psp?x=1 HTTP/1.1",
                206,
            ),
            nginx(
                "10.0.0.1",
                "11:00:00",
                "GET /reg/hello/hello-1.0.0.psp HTTP/1.1",
                200,
            ),
            // Not downloads: a HEAD, a 304, a 404, the index.
            nginx(
                "10.0.0.3",
                "11:00:00",
                "HEAD /reg/hello/hello-1.1.0.psp HTTP/1.1",
                200,
            ),
            nginx(
                "10.0.0.3",
                "11:00:01",
                "GET /reg/hello/hello-1.1.0.psp HTTP/1.1",
                304,
            ),
            nginx(
                "10.0.0.3",
                "11:00:02",
                "GET /reg/hello/hello-1.1.0.psp HTTP/1.1",
                404,
            ),
            nginx("10.0.0.3", "11:00:03", "GET /reg/index.acl HTTP/1.1", 200),
            // Content-addressed.
            nginx(
                "10.0.0.3",
                "11:00:04",
                &format!("GET /blobs/sha256/{} HTTP/1.1", "03".repeat(32)),
                200,
            ),
            // Hostile.
            "garbage".into(),
            "1.2.3.4 - - [99/Foo/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"".into(),
            "\u{0}\u{ff}[\"".into(),
            String::new(),
        ];
        for line in &lines {
            tally.line(&map, line);
        }
        assert_eq!(tally.skipped(), 3);
        let metrics = tally.finish(&index, 5);
        assert_eq!(metrics.requests, 12);
        let hello = metrics.package("hello").unwrap();
        assert_eq!(hello.downloads, 3);
        assert_eq!(
            hello.by_version,
            [("1.0.0".to_string(), 3), ("1.1.0".to_string(), 0)]
        );
        assert_eq!(hello.publishes, None, "a web server's log shows no uploads");
        assert_eq!(metrics.package("quiet").unwrap().downloads, 1);
        let from = u64::try_from(metrics.from.unwrap()).unwrap();
        assert_eq!(pandora_core::time::rfc3339(from), "2026-12-01T10:00:00Z");
        let again = RegistryMetrics::parse("metrics.acl", &metrics.to_acl()).unwrap();
        assert_eq!(again, metrics);
    }

    #[test]
    fn object_storage_logs_count_downloads_and_publishes() {
        let index = index();
        let map = PathMap::new(&index);
        let mut tally = Tally::default();
        let s3 = |operation: &str, key: &str, method: &str, status: u16| {
            format!(
                "79a5 bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE {operation} {key} \"{method} /bucket/{key} HTTP/1.1\" {status} - 113 113 7 - \"-\" \"S3Console/0.4\" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader bucket.s3.us-west-1.amazonaws.com TLSV1.2 - -"
            )
        };
        for line in [
            s3("REST.PUT.OBJECT", "hello/hello-1.1.0.psp", "PUT", 200),
            // A multipart upload: counted once, when it completes.
            s3("REST.POST.UPLOADS", "hello/hello-1.0.0.psp", "POST", 200),
            s3("REST.PUT.PART", "hello/hello-1.0.0.psp", "PUT", 200),
            s3("REST.PUT.PART", "hello/hello-1.0.0.psp", "PUT", 200),
            s3("REST.POST.UPLOAD", "hello/hello-1.0.0.psp", "POST", 200),
            // Refused: not a publication.
            s3("REST.PUT.OBJECT", "quiet-2.0.0.psp", "PUT", 412),
            s3("REST.GET.OBJECT", "hello/hello-1.1.0.psp", "GET", 200),
            s3("REST.GET.OBJECT", "hello/hello%2D1.0.0.psp", "GET", 206),
        ] {
            tally.line(&map, &line);
        }
        assert_eq!(tally.skipped(), 0);
        let metrics = tally.finish(&index, 0);
        let hello = metrics.package("hello").unwrap();
        assert_eq!(hello.publishes, Some(2));
        assert_eq!(
            hello.by_version,
            [("1.0.0".to_string(), 1), ("1.1.0".to_string(), 1)]
        );
        assert_eq!(metrics.package("quiet").unwrap().publishes, Some(0));
    }

    #[test]
    fn hostile_metrics_files_are_refused() {
        for bad in [
            "",
            "Metrics { Package \"a\" { int downloads = -1; int versions = 1; } }",
            "Metrics { Package { int downloads = 1; int versions = 1; } }",
            "Metrics { Package \"a\" { string downloads = \"x\"; int versions = 1; } }",
        ] {
            assert!(RegistryMetrics::parse("m", bad).is_err(), "{bad}");
        }
    }
}
