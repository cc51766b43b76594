//! `index.acl`: what a registry offers, and `index.acl.sig`, its Ed25519 signature.
//!
//! ```text
//! Registry {
//!     string name = "main";
//!     int serial = 7;                 // only grows; clients refuse an older one (rollback)
//!     int expires = 1900000000;       // unix time; clients refuse it after (freeze)
//!     int priority = 100;             // a hint; registries.acl decides
//!
//!     Package "hello" {
//!         string description = "Prints a greeting";
//!         string[] tags = { "demo" };
//!         string latest = "1.1.0";
//!         string[] versions = { "1.0.0", "1.1.0" };
//!
//!         Version "1.1.0" {
//!             string pkg_url = "hello/hello-1.1.0.psp";   // relative to the index, or absolute
//!             string sha256 = "...";
//!             int size = 31337;
//!             string[] dependencies = { "libgreet@2.0.0" };
//!             string license = "MIT";
//!             bool deprecated = false;
//!             string deprecation = "...";              // optional: the publisher's message
//!             bool yanked = true;                      // optional: only lockfile pins get it
//!         }
//!         Version "2.0.0" {                     // one file per platform: each client picks its own
//!             File "linux_x86_64" { string pkg_url = "hello/hello-2.0.0-x86_64.psp"; string sha256 = "..."; int size = 31337; }
//!             File "linux_aarch64" { string pkg_url = "hello/hello-2.0.0-aarch64.psp"; string sha256 = "..."; int size = 30123; }
//!             string[] dependencies = {};
//!         }
//!     }
//! }
//! ```
//!
//! The design's shorter shape is read too: no `name`, `serial`, `expires` or `size`, and per
//! package a `pkg_base_url` (relative `pkg_url`s and `manifest_url`s resolve against it) and per
//! version a `manifest_url`. Without a serial there is no rollback protection and without
//! `expires` no freeze protection; without a size a download is capped at
//! [`UNSIZED_PACKAGE_LIMIT`].

use acl_parser::{Block, Document, Value};
use pandora_core::PublicKey;
use pandora_core::Sha256;

use crate::format::metadata::{decode_hex, encode_hex};
use pandora_core::id::{compare_versions, validate_name, validate_pin, validate_version};

/// The largest package file downloaded for a version whose index gives no `size` (1 GiB): the
/// download is cut off past it, as one past an indexed size is (DESIGN.md invariant 9).
pub const UNSIZED_PACKAGE_LIMIT: u64 = 1 << 30;

/// A registry's index.
///
/// Pandora writes every field; indexes in the design's shorter shape (no `name`, `serial`,
/// `expires` or `size`; `pkg_base_url` and `manifest_url`) are read too. Without a serial the
/// client cannot detect a rollback, and without `expires` a freeze: such an index is only as
/// fresh as the server that served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryIndex {
    /// The registry's name (empty when the index does not say).
    pub name: String,
    /// Grows with every publication; `None` when the index has none (no rollback protection).
    pub serial: Option<i64>,
    /// Unix time after which clients refuse the index; `None`: it never expires.
    pub expires: Option<i64>,
    /// Priority hint.
    pub priority: i64,
    /// Packages, sorted by name, when the index was parsed from ACL. An index read from its
    /// compact form ([`super::compact`]) leaves this empty and reads each package only when
    /// asked: use [`RegistryIndex::package`], [`RegistryIndex::packages`],
    /// [`RegistryIndex::search`] and [`RegistryIndex::package_count`], which see both.
    pub packages: Vec<IndexPackage>,
    /// The verified compact form the packages are read from, if any.
    pub compact: Option<super::compact::Shared>,
}

/// One package of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPackage {
    /// Package name.
    pub name: String,
    /// One line.
    pub description: Option<String>,
    /// Search tags.
    pub tags: Vec<String>,
    /// The newest version that is not deprecated (else the newest).
    pub latest: String,
    /// What relative `pkg_url`s (and `manifest_url`s) are relative to, itself relative to the
    /// index's URL (or absolute); treated as a directory. Absent: the index's URL.
    pub pkg_base_url: Option<String>,
    /// Versions, oldest first.
    pub versions: Vec<IndexVersion>,
}

/// One version of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexVersion {
    /// Exact version.
    pub version: String,
    /// Where the `.psp` is: relative to the index's URL, or absolute.
    pub pkg_url: String,
    /// SHA-256 of the whole `.psp` file.
    pub sha256: Sha256,
    /// Its size in bytes; `None` when the index does not say (downloads are then capped at
    /// [`UNSIZED_PACKAGE_LIMIT`]).
    pub size: Option<u64>,
    /// Where the package's manifest can be read, as the index gives it (relative like
    /// `pkg_url`).
    pub manifest_url: Option<String>,
    /// Exact `name@version` pins.
    pub dependencies: Vec<String>,
    /// SPDX expression.
    pub license: Option<String>,
    /// Whether the publisher advises against it.
    pub deprecated: bool,
    /// Why, in the publisher's words (`pandora deprecate --message`); shown as the warning.
    pub deprecation: Option<String>,
    /// Withdrawn by the publisher (`pandora yank`): never chosen for a new install, still
    /// installed when a lockfile pins exactly these bytes.
    pub yanked: bool,
    /// The launcher stub at the start of the file (`launcher_sha256` and `launcher_size`);
    /// `None` when the index does not say. A client that holds that launcher fetches only the
    /// rest of the file.
    pub launcher: Option<LauncherRef>,
    /// Files for named platforms (`File "linux_x86_64" { ... }` blocks), when the version is
    /// built for several. The fields above are then the file for any other platform, and
    /// `pkg_url` is empty when there is none: [`IndexVersion::file_for`] picks.
    pub files: Vec<PlatformFile>,
}

/// One platform's file of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFile {
    /// The platform as the index spells it (`linux_x86_64`; `linux/amd64` and the like read
    /// the same).
    pub platform: String,
    /// Where the `.psp` is, as a version's `pkg_url`.
    pub pkg_url: String,
    /// SHA-256 of the whole file.
    pub sha256: Sha256,
    /// Its size, if the index says.
    pub size: Option<u64>,
    /// The launcher stub it starts with, if the index says.
    pub launcher: Option<LauncherRef>,
}

/// The file a client downloads for a version: the one for its platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRef<'a> {
    /// Where it is (relative to the index, or absolute).
    pub pkg_url: &'a str,
    /// SHA-256 of the whole file.
    pub sha256: Sha256,
    /// Its size, if the index says.
    pub size: Option<u64>,
    /// The launcher stub it starts with, if the index says.
    pub launcher: Option<LauncherRef>,
    /// The platform it was listed for (`None`: the version's file for any platform).
    pub platform: Option<&'a str>,
}

impl IndexVersion {
    /// Every file of the version, `(pkg_url, sha256)`: its own (when it has one), then one per
    /// platform.
    pub fn all_files(&self) -> impl Iterator<Item = (&str, &Sha256)> {
        (!self.pkg_url.is_empty())
            .then_some((self.pkg_url.as_str(), &self.sha256))
            .into_iter()
            .chain(
                self.files
                    .iter()
                    .map(|file| (file.pkg_url.as_str(), &file.sha256)),
            )
    }

    /// The file to download on `platform`: the one listed for it, else the version's own file.
    /// `Err` lists the platforms there are files for when neither exists.
    pub fn file_for(
        &self,
        platform: &crate::format::platform::Platform,
    ) -> Result<FileRef<'_>, Vec<String>> {
        let listed = self.files.iter().find(|file| {
            crate::format::platform::Platform::parse(&file.platform).as_ref() == Some(platform)
        });
        if let Some(file) = listed {
            return Ok(FileRef {
                pkg_url: &file.pkg_url,
                sha256: file.sha256,
                size: file.size,
                launcher: file.launcher,
                platform: Some(&file.platform),
            });
        }
        if self.pkg_url.is_empty() {
            return Err(self
                .files
                .iter()
                .map(|file| file.platform.clone())
                .collect());
        }
        Ok(FileRef {
            pkg_url: &self.pkg_url,
            sha256: self.sha256,
            size: self.size,
            launcher: self.launcher,
            platform: None,
        })
    }
}

/// A launcher stub, the first `size` bytes of a package file, by its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LauncherRef {
    /// SHA-256 of the stub's bytes.
    pub sha256: [u8; 32],
    /// Its size: the PSPF index block's `launcher_size`.
    pub size: u64,
}

impl RegistryIndex {
    /// Reads and validates an index. `name` (a path or URL) appears in errors.
    pub fn parse(name: &str, text: &str) -> Result<RegistryIndex, acl_parser::Error> {
        let document = acl_parser::from_str(name, text)?;
        let fields = Fields(&document);
        let mut registries = document.blocks("Registry");
        let registry = registries.next().ok_or_else(|| {
            document
                .error_at(None, "no `Registry { ... }` block")
                .with_hint("an index holds one Registry block")
        })?;
        if let Some(second) = registries.next() {
            return Err(document.error_at(
                second.span(),
                "a second `Registry` block: an index describes one registry",
            ));
        }
        let mut packages = Vec::new();
        for package in registry.blocks("Package") {
            packages.push(fields.package(package)?);
        }
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(RegistryIndex {
            name: fields.text(registry, "name", false)?.unwrap_or_default(),
            serial: fields.optional_int(registry, "serial")?,
            expires: fields.optional_int(registry, "expires")?,
            priority: fields
                .optional_int(registry, "priority")?
                .unwrap_or(crate::config::DEFAULT_PRIORITY),
            packages,
            compact: None,
        })
    }

    /// The index as canonical ACL (what `pandora registry index` writes and signs).
    pub fn to_acl(&self) -> String {
        let mut registry = Block::new("Registry");
        if !self.name.is_empty() {
            registry = registry.with("name", self.name.clone());
        }
        if let Some(serial) = self.serial {
            registry = registry.with("serial", serial);
        }
        if let Some(expires) = self.expires {
            registry = registry.with("expires", expires);
        }
        registry = registry.with("priority", self.priority);
        for package in self.packages() {
            registry = registry.with_block(package.to_block());
        }
        format!(
            "// Pandora registry index. Written by `pandora registry index`; signed in index.acl.sig.\n{}",
            Document::new().with_block(registry)
        )
    }

    /// The package called `name`.
    pub fn package(&self, name: &str) -> Option<&IndexPackage> {
        match &self.compact {
            Some(compact) => compact.package(name),
            None => self.packages.iter().find(|package| package.name == name),
        }
    }

    /// How many packages the index offers.
    pub fn package_count(&self) -> usize {
        match &self.compact {
            Some(compact) => compact.len(),
            None => self.packages.len(),
        }
    }

    /// Every package, sorted by name (from a compact index, each is read now).
    pub fn packages(&self) -> Vec<&IndexPackage> {
        match &self.compact {
            Some(compact) => compact.all(),
            None => self.packages.iter().collect(),
        }
    }

    /// Packages whose name, description or tags contain `term` (case-insensitive), sorted by
    /// name. From a compact index only the matches are read.
    pub fn search(&self, term: &str) -> Vec<&IndexPackage> {
        let term = term.to_lowercase();
        match &self.compact {
            Some(compact) => compact.search(&term),
            None => self
                .packages
                .iter()
                .filter(|package| search_text(package).contains(&term))
                .collect(),
        }
    }
}

/// What `search` matches a package by: its name, description and tags, lowercased.
pub fn search_text(package: &IndexPackage) -> String {
    format!(
        "{} {} {}",
        package.name,
        package.description.as_deref().unwrap_or_default(),
        package.tags.join(" ")
    )
    .to_lowercase()
}

impl IndexPackage {
    /// The package as its `Package "name" { ... }` block of the canonical ACL.
    pub fn to_block(&self) -> Block {
        let mut block = Block::labelled("Package", self.name.clone());
        if let Some(description) = &self.description {
            block = block.with("description", description.clone());
        }
        block = block
            .with("tags", self.tags.clone())
            .with("latest", self.latest.clone());
        if let Some(base) = &self.pkg_base_url {
            block = block.with("pkg_base_url", base.clone());
        }
        block = block.with(
            "versions",
            self.versions
                .iter()
                .map(|v| v.version.clone())
                .collect::<Vec<_>>(),
        );
        for version in &self.versions {
            let mut entry = Block::labelled("Version", version.version.clone());
            if !version.pkg_url.is_empty() {
                entry = file_fields(
                    entry,
                    &version.pkg_url,
                    &version.sha256,
                    version.size,
                    version.launcher,
                );
            }
            for file in &version.files {
                entry = entry.with_block(file_fields(
                    Block::labelled("File", file.platform.clone()),
                    &file.pkg_url,
                    &file.sha256,
                    file.size,
                    file.launcher,
                ));
            }
            if let Some(manifest) = &version.manifest_url {
                entry = entry.with("manifest_url", manifest.clone());
            }
            entry = entry.with("dependencies", version.dependencies.clone());
            if let Some(license) = &version.license {
                entry = entry.with("license", license.clone());
            }
            entry = entry.with("deprecated", version.deprecated);
            if let Some(message) = &version.deprecation {
                entry = entry.with("deprecation", message.clone());
            }
            // Written only when set, so indexes without yanks read as they always did.
            if version.yanked {
                entry = entry.with("yanked", true);
            }
            block = block.with_block(entry);
        }
        block
    }

    /// Reads one package from its `Package "name" { ... }` block alone (the compact index
    /// keeps each package so), with the same checks [`RegistryIndex::parse`] applies.
    pub fn parse_block(name: &str, text: &str) -> Result<IndexPackage, acl_parser::Error> {
        let document = acl_parser::from_str(name, text)?;
        let package = document
            .blocks("Package")
            .next()
            .ok_or_else(|| document.error_at(None, "no `Package { ... }` block"))?;
        Fields(&document).package(package)
    }

    /// Where a version's package file (its `pkg_url`, from [`IndexVersion::file_for`]) is, for
    /// an index served from `index_url`: against the package's `pkg_base_url` (against
    /// `index_url`), under [`package_url`]'s scheme rule.
    pub fn version_url(&self, index_url: &url::Url, pkg_url: &str) -> Result<url::Url, String> {
        resolve(index_url, self.pkg_base_url.as_deref(), pkg_url)
    }

    /// Where `version`'s manifest is (resolved as its package file is), if the index says.
    pub fn manifest_url(
        &self,
        index_url: &url::Url,
        version: &IndexVersion,
    ) -> Option<Result<url::Url, String>> {
        let manifest = version.manifest_url.as_deref()?;
        Some(resolve(index_url, self.pkg_base_url.as_deref(), manifest))
    }

    /// Whether a version's file URL (`pkg_url`) depends on where the index was served from (relative all
    /// the way): then any mirror of the registry can serve it, as the signed index's SHA-256
    /// says which bytes are right whoever serves them.
    pub fn is_relative(&self, pkg_url: &str) -> bool {
        let relative = |text: &str| url::Url::parse(text).is_err();
        relative(pkg_url) && self.pkg_base_url.as_deref().is_none_or(relative)
    }
}

/// A file's fields, written into `block`.
fn file_fields(
    mut block: Block,
    pkg_url: &str,
    sha256: &Sha256,
    size: Option<u64>,
    launcher: Option<LauncherRef>,
) -> Block {
    block = block
        .with("pkg_url", pkg_url.to_string())
        .with("sha256", encode_hex(sha256));
    if let Some(size) = size {
        block = block.with("size", i64::try_from(size).unwrap_or(i64::MAX));
    }
    if let Some(launcher) = launcher {
        block = block
            .with("launcher_sha256", encode_hex(&launcher.sha256))
            .with(
                "launcher_size",
                i64::try_from(launcher.size).unwrap_or(i64::MAX),
            );
    }
    block
}

/// Typed reads of an index's fields, with errors at their positions.
struct Fields<'d>(&'d Document);

impl Fields<'_> {
    fn at(block: &Block, field: &str) -> Option<acl_parser::Span> {
        block.field(field).and_then(|f| f.span()).or(block.span())
    }

    fn text(
        &self,
        block: &Block,
        field: &str,
        required: bool,
    ) -> Result<Option<String>, acl_parser::Error> {
        match block.field(field).map(|f| f.value()) {
            Some(Value::String(text)) => Ok(Some(text.clone())),
            None if !required => Ok(None),
            None => Err(self.0.error_at(block.span(), format!("missing `{field}`"))),
            Some(other) => Err(self.0.error_at(
                Self::at(block, field),
                format!("`{field}` must be a string, not {}", other.describe()),
            )),
        }
    }

    fn int(&self, block: &Block, field: &str) -> Result<i64, acl_parser::Error> {
        match block.field(field).map(|f| f.value()) {
            Some(Value::Int(number)) => Ok(*number),
            None => Err(self.0.error_at(block.span(), format!("missing `{field}`"))),
            Some(other) => Err(self.0.error_at(
                Self::at(block, field),
                format!("`{field}` must be an int, not {}", other.describe()),
            )),
        }
    }

    fn optional_int(&self, block: &Block, field: &str) -> Result<Option<i64>, acl_parser::Error> {
        match block.field(field) {
            None => Ok(None),
            Some(_) => self.int(block, field).map(Some),
        }
    }

    fn list(&self, block: &Block, field: &str) -> Result<Vec<String>, acl_parser::Error> {
        self.0.string_array(block, field)
    }

    /// A block's file fields (`pkg_url`, `sha256`, `size`, `launcher_sha256`,
    /// `launcher_size`), required.
    #[allow(clippy::type_complexity)]
    fn file(
        &self,
        block: &Block,
    ) -> Result<Option<(String, Sha256, Option<u64>, Option<LauncherRef>)>, acl_parser::Error> {
        self.file_if(block, true)
    }

    /// A block's file fields; `None` when not `required` and the block has no `pkg_url`.
    #[allow(clippy::type_complexity)]
    fn file_if(
        &self,
        block: &Block,
        required: bool,
    ) -> Result<Option<(String, Sha256, Option<u64>, Option<LauncherRef>)>, acl_parser::Error> {
        let document = self.0;
        let at = Self::at;
        let version = block;
        if !required && block.field("pkg_url").is_none() && block.field("sha256").is_none() {
            return Ok(None);
        }
        let pkg_url = self.text(version, "pkg_url", true)?.unwrap_or_default();
        if pkg_url.is_empty() {
            return Err(document.error_at(at(version, "pkg_url"), "`pkg_url` is empty"));
        }
        let sha256 = self
            .text(version, "sha256", true)?
            .as_deref()
            .and_then(decode_hex::<32>)
            .ok_or_else(|| {
                document.error_at(at(version, "sha256"), "`sha256` must be 64 hex digits")
            })?;
        let size = self
            .optional_int(version, "size")?
            .map(|size| {
                u64::try_from(size).map_err(|_| {
                    document.error_at(at(version, "size"), "`size` cannot be negative")
                })
            })
            .transpose()?;
        let launcher_sha256 = self
            .text(version, "launcher_sha256", false)?
            .map(|hex| {
                decode_hex::<32>(&hex).ok_or_else(|| {
                    document.error_at(
                        at(version, "launcher_sha256"),
                        "`launcher_sha256` must be 64 hex digits",
                    )
                })
            })
            .transpose()?;
        let launcher_size = self
            .optional_int(version, "launcher_size")?
            .map(|size| {
                u64::try_from(size).map_err(|_| {
                    document.error_at(
                        at(version, "launcher_size"),
                        "`launcher_size` cannot be negative",
                    )
                })
            })
            .transpose()?;
        // Both or neither; a launcher as large as the file leaves nothing to fetch.
        let launcher = match (launcher_sha256, launcher_size) {
            (Some(sha256), Some(launcher_size))
                if launcher_size > 0 && size.is_none_or(|file| launcher_size < file) =>
            {
                Some(LauncherRef {
                    sha256,
                    size: launcher_size,
                })
            }
            _ => None,
        };
        Ok(Some((pkg_url, sha256.into(), size, launcher)))
    }

    /// One `Package "name" { ... }` block, checked.
    fn package(&self, package: &Block) -> Result<IndexPackage, acl_parser::Error> {
        let document = self.0;
        let at = Self::at;
        let name = package.label().ok_or_else(|| {
            document.error_at(
                package.span(),
                "a Package block needs a name: `Package \"hello\" { ... }`",
            )
        })?;
        validate_name(name).map_err(|reason| {
            document.error_at(package.span(), format!("invalid package name {reason}"))
        })?;
        let mut versions = Vec::new();
        for version in package.blocks("Version") {
            let label = version.label().ok_or_else(|| {
                document.error_at(
                    version.span(),
                    "a Version block needs a version: `Version \"1.0.0\" { ... }`",
                )
            })?;
            validate_version(label).map_err(|reason| {
                document.error_at(version.span(), format!("invalid version: {reason}"))
            })?;
            let dependencies = self.list(version, "dependencies")?;
            for pin in &dependencies {
                validate_pin(pin).map_err(|reason| {
                    document.error_at(
                        at(version, "dependencies"),
                        format!("invalid dependency {reason}"),
                    )
                })?;
            }
            let deprecated = match version.field("deprecated").map(|f| f.value()) {
                None => false,
                Some(Value::Bool(flag)) => *flag,
                Some(other) => {
                    return Err(document.error_at(
                        at(version, "deprecated"),
                        format!("`deprecated` must be a bool, not {}", other.describe()),
                    ))
                }
            };
            let mut files = Vec::new();
            for file in version.blocks("File") {
                use crate::format::platform::Platform;
                let platform = file.label().unwrap_or_default();
                // A label is printed (`info`, errors): only the characters platforms are spelt with.
                let spelt = !platform.is_empty()
                    && platform.len() <= 64
                    && platform
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/'));
                let parsed = Platform::parse(platform).filter(|_| spelt);
                let Some(parsed) = parsed else {
                    return Err(document
                        .error_at(
                            file.span(),
                            format!(
                                "`File \"{}\"`: not a platform",
                                pandora_core::text::one_line(platform)
                            ),
                        )
                        .with_hint(
                            "label each file with its platform: `File \"linux_x86_64\" { ... }`",
                        ));
                };
                if files.iter().any(|known: &PlatformFile| {
                    Platform::parse(&known.platform).as_ref() == Some(&parsed)
                }) {
                    return Err(document.error_at(
                        file.span(),
                        format!("a second `File \"{platform}\"` in one version"),
                    ));
                }
                let (pkg_url, sha256, size, launcher) =
                    self.file(file)?.expect("a required file is there");
                files.push(PlatformFile {
                    platform: platform.to_string(),
                    pkg_url,
                    sha256,
                    size,
                    launcher,
                });
            }
            // The version's own file is optional only beside files for named platforms.
            let (pkg_url, sha256, size, launcher) = match self.file_if(version, files.is_empty())? {
                Some(file) => file,
                None => (String::new(), Sha256::from([0; 32]), None, None),
            };
            versions.push(IndexVersion {
                version: label.to_string(),
                pkg_url,
                sha256,
                size,
                manifest_url: self
                    .text(version, "manifest_url", false)?
                    .filter(|url| !url.is_empty()),
                dependencies,
                license: self.text(version, "license", false)?.map(one_line),
                deprecated,
                deprecation: self
                    .text(version, "deprecation", false)?
                    .map(one_line)
                    .filter(|message| !message.is_empty()),
                yanked: match version.field("yanked").map(|f| f.value()) {
                    None => false,
                    Some(Value::Bool(flag)) => *flag,
                    Some(other) => {
                        return Err(document.error_at(
                            at(version, "yanked"),
                            format!("`yanked` must be a bool, not {}", other.describe()),
                        ))
                    }
                },
                launcher,
                files,
            });
        }
        versions.sort_by(|a, b| compare_versions(&a.version, &b.version));
        let listed = self.list(package, "versions")?;
        let found: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
        let mut listed_sorted: Vec<&str> = listed.iter().map(String::as_str).collect();
        listed_sorted.sort_by(|a, b| compare_versions(a, b));
        if listed_sorted != found {
            return Err(document
                .error_at(at(package, "versions"), format!("`versions` lists {listed:?} but the Version blocks are {found:?}"))
                .with_hint("every listed version needs a `Version \"x\" { ... }` block, and every block a listing"));
        }
        let latest = self.text(package, "latest", true)?.unwrap_or_default();
        if !found.contains(&latest.as_str()) {
            return Err(document.error_at(
                at(package, "latest"),
                format!("`latest` is `{latest}`, which is not one of the versions"),
            ));
        }
        Ok(IndexPackage {
            name: name.to_string(),
            description: self.text(package, "description", false)?.map(one_line),
            tags: self
                .list(package, "tags")?
                .into_iter()
                .map(one_line)
                .collect(),
            latest,
            pkg_base_url: self
                .text(package, "pkg_base_url", false)?
                .filter(|url| !url.is_empty()),
            versions,
        })
    }
}

/// A publisher's text as one line that shows as it reads (see
/// [`pandora_core::text::one_line`]), wherever it is printed.
fn one_line(text: String) -> String {
    match pandora_core::text::one_line(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

/// `reference` against `base` (a directory, relative to `index_url`, or absolute) or, without
/// a base, against `index_url`; the result under [`package_url`]'s scheme rule.
fn resolve(index_url: &url::Url, base: Option<&str>, reference: &str) -> Result<url::Url, String> {
    let Some(base) = base else {
        return package_url(index_url, reference);
    };
    let directory = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let base_url =
        package_url(index_url, &directory).map_err(|reason| format!("`pkg_base_url` {reason}"))?;
    let url = base_url
        .join(reference)
        .map_err(|error| format!("`{reference}` is not a valid URL: {error}"))?;
    package_url(index_url, url.as_str())
}

/// Where a registry's package file is: its `pkg_url` resolved against the index's URL. The
/// rule: a registry served over HTTPS may point only at HTTPS URLs, one served over HTTP at
/// HTTP or HTTPS, and only a local (`file://`) registry at local files (or at HTTP(S)). A
/// package is never fetched from a place less trusted than the index that names it: a remote
/// index cannot make Pandora read `/dev/zero`, a FIFO or the user's files.
pub fn package_url(index_url: &url::Url, pkg_url: &str) -> Result<url::Url, String> {
    let url = index_url
        .join(pkg_url)
        .map_err(|error| format!("`{pkg_url}` is not a valid URL: {error}"))?;
    let allowed: &[&str] = match index_url.scheme() {
        "https" => &["https"],
        "http" => &["http", "https"],
        "file" => &["file", "http", "https"],
        _ => &[],
    };
    if allowed.contains(&url.scheme()) {
        Ok(url)
    } else {
        Err(format!(
            "`{url}` is a {} URL, which a registry served over {} may not point at",
            url.scheme(),
            index_url.scheme()
        ))
    }
}

/// `index.acl.sig`: which key signed the index, and the signature over its exact bytes.
pub fn signature_file(public_key: &PublicKey, signature: &[u8; 64]) -> String {
    signature_file_for("index.acl", public_key, signature)
}

/// The signature file of another file a registry signs as its index (`metrics.acl.sig`).
pub fn signature_file_for(signed: &str, public_key: &PublicKey, signature: &[u8; 64]) -> String {
    let block = Block::new("Signature")
        .with("algorithm", "ed25519")
        .with("key", public_key.to_string())
        .with("signature", encode_hex(signature));
    format!("// Ed25519 signature over the exact bytes of {signed}.\n{block}")
}

/// Reads `index.acl.sig`: the key and the signature.
pub fn parse_signature_file(
    name: &str,
    text: &str,
) -> Result<(PublicKey, [u8; 64]), acl_parser::Error> {
    let document = acl_parser::from_str(name, text)?;
    let block = document
        .blocks("Signature")
        .next()
        .ok_or_else(|| document.error_at(None, "no `Signature { ... }` block"))?;
    let key = block
        .get_str("key")
        .ok()
        .and_then(|key| key.parse::<PublicKey>().ok())
        .ok_or_else(|| {
            document.error_at(block.span(), "`key` must be `ed25519:` and 64 hex digits")
        })?;
    let signature = block
        .get_str("signature")
        .ok()
        .and_then(decode_hex::<64>)
        .ok_or_else(|| document.error_at(block.span(), "`signature` must be 128 hex digits"))?;
    Ok((key, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn sample() -> RegistryIndex {
        RegistryIndex {
            name: "main".into(),
            serial: Some(3),
            expires: Some(1_900_000_000),
            priority: 100,
            packages: vec![IndexPackage {
                name: "hello".into(),
                description: Some("Greets".into()),
                tags: vec!["demo".into()],
                latest: "1.10.0".into(),
                pkg_base_url: None,
                versions: vec![
                    IndexVersion {
                        version: "1.2.0".into(),
                        pkg_url: "hello/hello-1.2.0.psp".into(),
                        sha256: [1; 32].into(),
                        size: Some(10),
                        manifest_url: None,
                        dependencies: vec![],
                        license: None,
                        deprecated: true,
                        deprecation: Some("use 1.10".into()),
                        yanked: true,
                        launcher: None,
                        files: Vec::new(),
                    },
                    IndexVersion {
                        version: "1.10.0".into(),
                        pkg_url: "https://cdn.example/hello-1.10.0.psp".into(),
                        sha256: [2; 32].into(),
                        size: Some(20),
                        manifest_url: Some("hello/1.10.0.acl".into()),
                        dependencies: vec!["libgreet@2.0.0".into()],
                        license: Some("MIT".into()),
                        deprecated: false,
                        deprecation: None,
                        yanked: false,
                        launcher: Some(LauncherRef {
                            sha256: [3; 32],
                            size: 12,
                        }),
                        files: vec![PlatformFile {
                            platform: "linux_aarch64".into(),
                            pkg_url: "hello/hello-1.10.0-arm.psp".into(),
                            sha256: [4; 32].into(),
                            size: Some(21),
                            launcher: None,
                        }],
                    },
                ],
            }],
            compact: None,
        }
    }

    #[test]
    fn each_platform_takes_its_own_file_and_the_others_the_version_file() {
        use crate::format::platform::Platform;
        let index = sample();
        let version = &index.packages[0].versions[1];
        let arm = version
            .file_for(&Platform::parse("linux_arm64").unwrap())
            .unwrap();
        assert_eq!(arm.pkg_url, "hello/hello-1.10.0-arm.psp");
        assert_eq!(arm.platform, Some("linux_aarch64"));
        let other = version
            .file_for(&Platform::parse("linux_x86_64").unwrap())
            .unwrap();
        assert_eq!(other.pkg_url, "https://cdn.example/hello-1.10.0.psp");
        let mut only_arm = version.clone();
        only_arm.pkg_url.clear();
        assert_eq!(
            only_arm.file_for(&Platform::parse("linux_x86_64").unwrap()),
            Err(vec!["linux_aarch64".to_string()])
        );
    }

    #[test]
    fn publisher_text_shows_as_one_line_in_reading_order() {
        let text = "Registry { Package \"a\" { description = \"ok\\nerror: fake \u{202e}txt\"; tags = { \"t\\u001b[2J\" }; latest = \"1.0.0\"; versions = { \"1.0.0\" }; Version \"1.0.0\" { pkg_url = \"a\"; sha256 = \"SHA\"; deprecation = \"old\\r\\n\"; } } }"
            .replace("SHA", &"ab".repeat(32));
        let index = RegistryIndex::parse("index.acl", &text).unwrap();
        let package = &index.packages[0];
        assert_eq!(
            package.description.as_deref(),
            Some("ok\\u{a}error: fake \\u{202e}txt")
        );
        assert_eq!(package.tags, ["t\\u{1b}[2J"]);
        assert_eq!(
            package.versions[0].deprecation.as_deref(),
            Some("old\\u{d}\\u{a}")
        );
    }

    #[test]
    fn a_file_for_no_platform_or_twice_for_one_is_refused() {
        for (files, wanted) in [
            ("File \"beos\" { pkg_url = \"a\"; sha256 = \"SHA\"; }", "not a platform"),
            (
                "File \"linux_x\\nerror: fake\" { pkg_url = \"a\"; sha256 = \"SHA\"; }",
                "not a platform",
            ),
            (
                "File \"linux_arm64\" { pkg_url = \"a\"; sha256 = \"SHA\"; } File \"linux/aarch64\" { pkg_url = \"b\"; sha256 = \"SHA\"; }",
                "a second",
            ),
        ] {
            let text = format!(
                "Registry {{ Package \"a\" {{ latest = \"1.0.0\"; versions = {{ \"1.0.0\" }}; Version \"1.0.0\" {{ {} }} }} }}",
                files.replace("SHA", &"ab".repeat(32))
            );
            let error = RegistryIndex::parse("index.acl", &text).unwrap_err();
            assert!(error.to_string().contains(wanted), "{error}");
        }
    }

    #[test]
    fn package_urls_stay_within_the_index_scheme_family() {
        let https = url::Url::parse("https://example.org/registry/index.acl").unwrap();
        let http = url::Url::parse("http://127.0.0.1:8000/index.acl").unwrap();
        let local = url::Url::parse("file:///srv/registry/index.acl").unwrap();
        assert_eq!(
            package_url(&https, "pkgs/a.psp").unwrap().as_str(),
            "https://example.org/registry/pkgs/a.psp"
        );
        assert!(package_url(&https, "https://cdn.example.org/a.psp").is_ok());
        assert!(package_url(&http, "https://cdn.example.org/a.psp").is_ok());
        assert!(package_url(&local, "a.psp").is_ok());
        assert!(package_url(&local, "https://cdn.example.org/a.psp").is_ok());
        for (index, bad) in [
            (&https, "file:///dev/zero"),
            (&https, "http://example.org/a.psp"),
            (&http, "file:///etc/passwd"),
            (&http, "ftp://example.org/a.psp"),
            (&local, "data:,hello"),
        ] {
            assert!(package_url(index, bad).is_err(), "{index} -> {bad}");
        }
    }

    #[test]
    fn round_trips() {
        let index = sample();
        let text = index.to_acl();
        assert_eq!(RegistryIndex::parse("index.acl", &text).unwrap(), index);
        assert!(
            text.contains("string[] versions = { \"1.2.0\", \"1.10.0\" };"),
            "{text}"
        );
    }

    #[test]
    fn version_order() {
        let mut versions = vec![
            "1.10.0",
            "1.2.0",
            "1.2.0-rc.1",
            "1.2.0-rc.10",
            "1.2.0-rc.2",
            "0.9",
            "2",
        ];
        versions.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            versions,
            [
                "0.9",
                "1.2.0-rc.1",
                "1.2.0-rc.2",
                "1.2.0-rc.10",
                "1.2.0",
                "1.10.0",
                "2"
            ]
        );
        assert_eq!(compare_versions("1.0", "1.0.0"), Ordering::Equal);
    }

    #[test]
    fn invalid_indexes_are_refused_with_positions() {
        let good = sample().to_acl();
        let cases = [
            (good.replace("string latest = \"1.10.0\";", "string latest = \"9.9.9\";"), "`latest` is `9.9.9`, which is not one of the versions"),
            (good.replace("\"1.2.0\", \"1.10.0\"", "\"1.2.0\""), "`versions` lists [\"1.2.0\"] but the Version blocks are [\"1.2.0\", \"1.10.0\"]"),
            (good.replace(&encode_hex(&[1; 32]), "abc"), "`sha256` must be 64 hex digits"),
            (good.replace("int size = 10;", "int size = -1;"), "`size` cannot be negative"),
            (good.replace("int serial = 3;", "string serial = \"3\";"), "`serial` must be an int, not string \"3\""),
            (good.replace("{ \"libgreet@2.0.0\" }", "{ \"libgreet@^2\" }"), "invalid dependency `libgreet@^2`: `^2` is not an exact version such as `1.2.3` or `2.0.0-rc.1`"),
            ("Package \"x\" {}".to_string(), "no `Registry { ... }` block"),
        ];
        for (text, message) in cases {
            let error = RegistryIndex::parse("index.acl", &text).unwrap_err();
            assert_eq!(error.kind().to_string(), message);
        }
    }

    #[test]
    fn design_shaped_indexes_are_read() {
        let text = r#"
            Registry {
                string url = "https://example.org/pandora/";
                int priority = 100;
                bool require_signatures = false;
                string cache_policy = "max-age=300";
                Package "mytool" {
                    string[] versions = { "1.0.0" };
                    string latest = "1.0.0";
                    string pkg_base_url = "pkgs/mytool";
                    Version "1.0.0" {
                        string manifest_url = "manifests/mytool-1.0.0.acl";
                        string pkg_url = "mytool-1.0.0.psp";
                        string sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
                        bool deprecated = true;
                    }
                }
            }
        "#;
        let index = RegistryIndex::parse("index.acl", text).unwrap();
        assert_eq!(
            (index.serial, index.expires, index.name.as_str()),
            (None, None, "")
        );
        let package = index.package("mytool").unwrap();
        let version = &package.versions[0];
        assert_eq!((version.size, version.deprecated), (None, true));
        let https = url::Url::parse("https://example.org/pandora/index.acl").unwrap();
        assert_eq!(
            package
                .version_url(&https, &version.pkg_url)
                .unwrap()
                .as_str(),
            "https://example.org/pandora/pkgs/mytool/mytool-1.0.0.psp"
        );
        assert_eq!(
            package
                .manifest_url(&https, version)
                .unwrap()
                .unwrap()
                .as_str(),
            "https://example.org/pandora/pkgs/mytool/manifests/mytool-1.0.0.acl"
        );
        assert!(package.is_relative(&version.pkg_url));
        // Round trip: the optional fields stay optional.
        assert_eq!(
            RegistryIndex::parse("index.acl", &index.to_acl()).unwrap(),
            index
        );
        // An absolute base, and the scheme rule on it.
        let mut absolute = package.clone();
        absolute.pkg_base_url = Some("https://cdn.example/m/".into());
        assert_eq!(
            absolute
                .version_url(&https, &version.pkg_url)
                .unwrap()
                .as_str(),
            "https://cdn.example/m/mytool-1.0.0.psp"
        );
        assert!(!absolute.is_relative(&version.pkg_url));
        absolute.pkg_base_url = Some("file:///srv/".into());
        assert!(absolute.version_url(&https, &version.pkg_url).is_err());
    }

    #[test]
    fn signature_files_round_trip() {
        let key = crate::format::signing::SigningKey::from_seed("index").public_key();
        let text = signature_file(&key, &[9; 64]);
        assert_eq!(parse_signature_file("sig", &text).unwrap(), (key, [9; 64]));
        assert!(parse_signature_file("sig", "Signature { key = \"x\"; }").is_err());
    }
}
