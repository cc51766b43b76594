//! `registries.acl`: which registries to use, in which order, and which keys they must be signed
//! with.
//!
//! ```text
//! // Hand-written comments survive `pandora registry add` and `remove`.
//! Registry "main" {
//!     string url = "https://example.org/pandora/";
//!     int priority = 100;                  // higher is consulted first
//!     string[] keys = { "ed25519:..." };   // trusted signing keys
//!     bool require_signatures = true;
//!     string[] mirrors = { "https://mirror.example/pandora/" };   // optional; tried in order
//!     // Publishing (`pandora publish`, `yank`, `deprecate`, `registry gc`), all optional:
//!     bool allow_publish = true;                        // off unless set
//!     string publish_url = "s3://bucket/pandora";       // or "file:///srv/pandora"
//!     string s3_endpoint = "http://127.0.0.1:9000";     // S3-compatible storage (default AWS)
//!     string s3_region = "us-east-1";                   // default: AWS_REGION, ~/.aws/config
//! }
//! ```
//!
//! Credentials for `s3://` come from the AWS environment variables and `~/.aws` files, never
//! from this file.
//!
//! Changes edit the text rather than rewrite the whole document, so a hand-edited file keeps
//! its comments and order: `add` appends a canonical block, `remove` cuts one block (and the
//! comment lines directly above it), `set` rewrites only the fields it changes (and appends
//! the ones the block did not have). `mirrors` is written only when there are some, so a file
//! without mirrors reads as it always did.

use std::path::{Path, PathBuf};

use acl_parser::{Block, Document, Entry, Span, Value};
use url::Url;

use super::ConfigError;
use pandora_core::key::PublicKey;

/// Priority of a registry added without `--priority`.
pub const DEFAULT_PRIORITY: i64 = 100;

const FIELDS: &[&str] = &[
    "url",
    "priority",
    "keys",
    "require_signatures",
    "cache_ttl",
    "mirrors",
    "allow_publish",
    "publish_url",
    "s3_endpoint",
    "s3_region",
];

/// Seconds a fetched index is used before asking the registry again, unless configured.
pub const DEFAULT_CACHE_TTL: i64 = 300;

/// One configured registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    /// Its name, unique in the file.
    pub name: String,
    /// Base URL; `index.acl` and packages are resolved against it.
    pub url: Url,
    /// Other base URLs serving the same registry, tried in order when `url` fails.
    pub mirrors: Vec<Url>,
    /// Higher priorities are consulted first.
    pub priority: i64,
    /// Keys allowed to sign its index and packages.
    pub keys: Vec<PublicKey>,
    /// Refuse anything from it that is not signed by one of `keys`.
    pub require_signatures: bool,
    /// Seconds a fetched index stays fresh before the registry is asked again.
    pub cache_ttl: i64,
    /// Whether `pandora publish` (and yank, deprecate, gc) may write to it.
    pub allow_publish: bool,
    /// Where it is written: `file:///dir/` or `s3://bucket/prefix/` (its `url` serves it).
    pub publish_url: Option<Url>,
    /// The S3-compatible endpoint for an `s3://` publish URL (default: AWS, or AWS_ENDPOINT_URL).
    pub s3_endpoint: Option<Url>,
    /// The S3 region (default: AWS_REGION, the AWS profile's, else us-east-1).
    pub s3_region: Option<String>,
    /// Where its block is in the file (absent for registries not read from a file).
    span: Option<Span>,
}

impl Registry {
    /// A registry with validated name and URL.
    pub fn new(
        name: &str,
        url: &str,
        priority: i64,
        keys: Vec<PublicKey>,
        require_signatures: bool,
    ) -> Result<Registry, ConfigError> {
        validate_name(name)?;
        Ok(Registry {
            name: name.to_string(),
            url: parse_url(url)?,
            mirrors: Vec::new(),
            priority,
            keys,
            require_signatures,
            cache_ttl: DEFAULT_CACHE_TTL,
            allow_publish: false,
            publish_url: None,
            s3_endpoint: None,
            s3_region: None,
            span: None,
        })
    }

    /// The registry's base URLs in the order they are tried: `url`, then each mirror.
    pub fn urls(&self) -> impl Iterator<Item = &Url> {
        std::iter::once(&self.url).chain(&self.mirrors)
    }

    fn to_block(&self) -> Block {
        let keys: Vec<String> = self.keys.iter().map(PublicKey::to_string).collect();
        let block = Block::labelled("Registry", self.name.clone())
            .with("url", self.url.as_str())
            .with("priority", self.priority)
            .with("keys", keys)
            .with("require_signatures", self.require_signatures)
            .with("cache_ttl", self.cache_ttl);
        let mut block = if self.mirrors.is_empty() {
            block
        } else {
            let mirrors: Vec<String> = self.mirrors.iter().map(Url::to_string).collect();
            block.with("mirrors", mirrors)
        };
        // The publishing fields are written only when set, so other blocks read as before.
        if self.allow_publish || self.publish_url.is_some() {
            block = block.with("allow_publish", self.allow_publish);
        }
        if let Some(url) = &self.publish_url {
            block = block.with("publish_url", url.as_str());
        }
        if let Some(endpoint) = &self.s3_endpoint {
            block = block.with("s3_endpoint", endpoint.as_str());
        }
        if let Some(region) = &self.s3_region {
            block = block.with("s3_region", region.clone());
        }
        block
    }
}

/// One field as the canonical writer writes it in a top-level block (`string url = "...";`,
/// long arrays over several lines), without the indentation of its first line.
fn field_text(block: &Block, name: &str) -> Option<String> {
    let value = block.field(name)?.value().clone();
    let rendered = Block::new("Field").with(name, value).to_string();
    let lines: Vec<&str> = rendered.lines().collect();
    // The first line opens `Field {`, the last closes it.
    let inner = lines.get(1..lines.len().saturating_sub(1))?;
    Some(inner.join("\n").trim_start().to_string())
}

/// Checks a registry name: short, and safe to use in file names and messages.
pub fn validate_name(name: &str) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let mut characters = name.chars();
    match characters.next() {
        None => return Err(invalid("it is empty")),
        Some(first) if !first.is_ascii_alphanumeric() => {
            return Err(invalid("it must start with a letter or a digit"))
        }
        Some(_) => {}
    }
    if name.len() > 64 {
        return Err(invalid("it is longer than 64 characters"));
    }
    if let Some(bad) =
        characters.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(invalid(&format!("it contains `{bad}`")));
    }
    Ok(())
}

/// Parses and normalises a registry URL: http(s) with a host, or file with an absolute path
/// (a bare absolute path is taken as one). A trailing `index.acl` is dropped and the base always
/// ends with `/`, so relative package paths resolve inside it.
pub fn parse_url(text: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidUrl {
        url: text.to_string(),
        reason,
    };
    let mut url = if text.starts_with('/') {
        Url::from_directory_path(text)
            .map_err(|()| invalid("not a valid absolute path".to_string()))?
    } else {
        Url::parse(text).map_err(|error| invalid(error.to_string()))?
    };
    match url.scheme() {
        "http" | "https" if url.host_str().is_none_or(str::is_empty) => {
            return Err(invalid("it has no host".to_string()))
        }
        "http" | "https" | "file" => {}
        other => return Err(invalid(format!("the `{other}` scheme is not supported"))),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "a registry URL cannot have a query or a fragment".to_string(),
        ));
    }
    let mut path = url.path().to_string();
    if let Some(base) = path.strip_suffix("index.acl") {
        path = base.to_string();
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    url.set_path(&path);
    Ok(url)
}

/// `registries.acl`, as text plus what it means.
#[derive(Debug)]
pub struct RegistriesFile {
    path: PathBuf,
    text: String,
    registries: Vec<Registry>,
}

impl RegistriesFile {
    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<RegistriesFile, ConfigError> {
        let text = match fs_err::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let registries = parse(path, &text)?;
        Ok(RegistriesFile {
            path: path.to_path_buf(),
            text,
            registries,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configured registries, in file order.
    pub fn registries(&self) -> &[Registry] {
        &self.registries
    }

    /// The registries in the order they are consulted: highest priority first, then by name.
    pub fn by_priority(&self) -> Vec<&Registry> {
        let mut ordered: Vec<&Registry> = self.registries.iter().collect();
        ordered.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        ordered
    }

    /// The text the file will have.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Appends a registry. Refuses a name that is taken.
    pub fn add(&mut self, registry: Registry) -> Result<(), ConfigError> {
        if let Some(existing) = self.registries.iter().find(|r| r.name == registry.name) {
            return Err(ConfigError::DuplicateRegistry {
                name: registry.name,
                url: existing.url.to_string(),
            });
        }
        let mut text = self.text.clone();
        if !text.is_empty() {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            if !text.ends_with("\n\n") {
                text.push('\n');
            }
        }
        text.push_str(&registry.to_block().to_string());
        self.replace_text(text)
    }

    /// The registry called `name`; the error lists the configured ones.
    pub fn find(&self, name: &str) -> Result<&Registry, ConfigError> {
        self.registries
            .iter()
            .find(|registry| registry.name == name)
            .ok_or_else(|| ConfigError::UnknownRegistry {
                name: name.to_string(),
                known: self
                    .registries
                    .iter()
                    .map(|registry| registry.name.clone())
                    .collect(),
            })
    }

    /// Removes the registry called `name` and the comment lines directly above it.
    pub fn remove(&mut self, name: &str) -> Result<Registry, ConfigError> {
        let registry = self.find(name)?.clone();
        let span = registry.span.unwrap_or_default();
        let (start, end) = removal_range(&self.text, span.range());
        let mut text = String::with_capacity(self.text.len());
        text.push_str(&self.text[..start]);
        text.push_str(&self.text[end..]);
        self.replace_text(text)?;
        Ok(registry)
    }

    /// Changes the registry called `name` in place: each field whose value `change` altered is
    /// rewritten where it stands (a field the block did not have is added before its closing
    /// brace), so comments and everything else are kept. The name cannot change.
    pub fn update(
        &mut self,
        name: &str,
        change: impl FnOnce(&mut Registry) -> Result<(), ConfigError>,
    ) -> Result<Registry, ConfigError> {
        let before = self.find(name)?.clone();
        let mut after = before.clone();
        change(&mut after)?;
        after.name = before.name.clone();
        let span = before.span.unwrap_or_default().range();
        let document = acl_parser::from_str(&self.path.display().to_string(), &self.text).map_err(
            |source| ConfigError::Invalid {
                path: self.path.clone(),
                source,
            },
        )?;
        let parsed = document
            .blocks("Registry")
            .find(|block| block.label() == Some(name));
        let (old_block, new_block) = (before.to_block(), after.to_block());
        // (start, end, replacement), applied from the end so earlier offsets stay valid.
        let mut edits: Vec<(usize, usize, String)> = Vec::new();
        let mut appended = String::new();
        for field in FIELDS {
            let (old, new) = (field_text(&old_block, field), field_text(&new_block, field));
            if old == new {
                continue;
            }
            let new = match new {
                Some(new) => new,
                // `mirrors` is left out when empty: an empty array says the same.
                None if *field == "mirrors" => field_text(
                    &Block::new("Field").with(*field, Vec::<String>::new()),
                    field,
                )
                .unwrap_or_default(),
                // An optional setting unset: its line goes.
                None => {
                    if let Some(existing) = parsed
                        .and_then(|block| block.field(field))
                        .and_then(|field| field.span())
                    {
                        let (start, end) = line_of(&self.text, existing.range());
                        edits.push((start, end, String::new()));
                    }
                    continue;
                }
            };
            match parsed
                .and_then(|block| block.field(field))
                .and_then(|field| field.span())
            {
                Some(existing) => {
                    let range = existing.range();
                    edits.push((range.start, range.end, new));
                }
                None => {
                    appended.push_str("    ");
                    appended.push_str(&new);
                    appended.push('\n');
                }
            }
        }
        if !appended.is_empty() {
            // Before the block's closing brace, on lines of their own.
            let close = self.text[..span.end].rfind('}').unwrap_or(span.end);
            let line_start = self.text[..close]
                .rfind('\n')
                .map_or(0, |newline| newline + 1);
            if self.text[line_start..close].trim().is_empty() {
                edits.push((line_start, line_start, appended));
            } else {
                edits.push((close, close, format!("\n{appended}")));
            }
        }
        edits.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
        let mut text = self.text.clone();
        for (start, end, replacement) in edits {
            text.replace_range(start..end, &replacement);
        }
        self.replace_text(text)?;
        Ok(self.find(name)?.clone())
    }

    /// Adopts new text only if it parses: an edit can never leave an unreadable file.
    fn replace_text(&mut self, text: String) -> Result<(), ConfigError> {
        self.registries = parse(&self.path, &text)?;
        self.text = text;
        Ok(())
    }

    /// Writes the file atomically.
    pub fn save(&self) -> Result<(), ConfigError> {
        crate::fs::write_atomic(&self.path, self.text.as_bytes()).map_err(|source| {
            ConfigError::Write {
                path: self.path.clone(),
                source,
            }
        })
    }
}

/// The whole line of `range` when nothing else is on it, else `range` itself.
fn line_of(text: &str, range: std::ops::Range<usize>) -> (usize, usize) {
    let start = text[..range.start]
        .rfind('\n')
        .map_or(0, |newline| newline + 1);
    let end = text[range.end..]
        .find('\n')
        .map_or(text.len(), |newline| range.end + newline + 1);
    let rest = &text[range.end..end];
    if text[start..range.start].trim().is_empty()
        && (rest.trim().is_empty() || rest.trim_start().starts_with("//"))
    {
        (start, end)
    } else {
        (range.start, range.end)
    }
}

/// Parses where a registry is published: `s3://bucket/prefix` or a directory (`file:///dir`,
/// or an absolute path). The base always ends with `/`.
pub fn parse_publish_url(text: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidUrl {
        url: text.to_string(),
        reason,
    };
    if text.starts_with('/') {
        return parse_url(text);
    }
    let mut url = Url::parse(text).map_err(|error| invalid(error.to_string()))?;
    match url.scheme() {
        "file" => return parse_url(text),
        "s3" if url.host_str().is_none_or(str::is_empty) => {
            return Err(invalid(
                "it names no bucket: write `s3://BUCKET/PREFIX`".into(),
            ))
        }
        "s3" => {}
        other => {
            return Err(invalid(format!(
            "publishing to `{other}` is not supported: use `s3://BUCKET/PREFIX` or `file:///DIR`"
        )))
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "a publish URL cannot have a query or a fragment".into(),
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Parses an S3 endpoint: http(s) with a host.
pub fn parse_endpoint(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|error| ConfigError::InvalidUrl {
        url: text.to_string(),
        reason: error.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::InvalidUrl {
            url: text.to_string(),
            reason: "an S3 endpoint is `http(s)://HOST[:PORT]`".into(),
        });
    }
    Ok(url)
}

/// The byte range to cut for a block at `block`: whole lines, plus the comment lines directly
/// above it, plus one blank line so no double gap is left behind.
fn removal_range(text: &str, block: std::ops::Range<usize>) -> (usize, usize) {
    let line_start = |offset: usize| text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
    let mut start = line_start(block.start);
    if !text[start..block.start].trim().is_empty() {
        start = block.start;
    }
    while start > 0 {
        let previous = line_start(start - 1);
        let line = text[previous..start].trim();
        if line.starts_with("//") {
            start = previous;
        } else {
            break;
        }
    }
    let mut end = match text[block.end..].find('\n') {
        Some(newline) if text[block.end..block.end + newline].trim().is_empty() => {
            block.end + newline + 1
        }
        _ => block.end,
    };
    let blank_follows = text[end..].starts_with('\n');
    let blank_precedes = start == 0 || text[..start].ends_with("\n\n");
    if blank_follows && blank_precedes {
        end += 1;
    }
    (start, end)
}

fn parse(path: &Path, text: &str) -> Result<Vec<Registry>, ConfigError> {
    let name = path.display().to_string();
    let invalid = |source: acl_parser::Error| ConfigError::Invalid {
        path: path.to_path_buf(),
        source,
    };
    let document = acl_parser::from_str(&name, text).map_err(invalid)?;
    let mut registries: Vec<Registry> = Vec::new();
    for entry in document.entries() {
        let block = match entry {
            Entry::Block(block) if block.name() == "Registry" => block,
            Entry::Block(block) => {
                return Err(invalid(document.error_at(block.span(), format!(
                    "unexpected block `{}`: registries.acl holds only `Registry \"name\" {{ ... }}` blocks",
                    block.name()
                ))))
            }
            Entry::Field(field) => {
                return Err(invalid(document.error_at(field.span(), format!(
                    "unexpected top-level field `{}`: settings go inside a `Registry \"name\" {{ ... }}` block",
                    field.name()
                ))))
            }
        };
        // Two `Registry "x"` blocks are already refused by the language (duplicate label).
        let registry = parse_registry(&document, block).map_err(invalid)?;
        registries.push(registry);
    }
    Ok(registries)
}

/// An error located at a field of `block` (or at the block when the field is absent).
fn field_error(
    document: &Document,
    block: &Block,
    field: &str,
    message: String,
) -> acl_parser::Error {
    document.error_at(
        block.field(field).and_then(|f| f.span()).or(block.span()),
        message,
    )
}

/// The value of an optional field, converted by `convert`, or an error naming the type it
/// should have had.
fn optional<'b, T>(
    document: &Document,
    block: &'b Block,
    field: &str,
    expected: &str,
    convert: impl FnOnce(&'b Value) -> Option<T>,
) -> Result<Option<T>, acl_parser::Error> {
    let Some(value) = block.field(field).map(|f| f.value()) else {
        return Ok(None);
    };
    convert(value).map(Some).ok_or_else(|| {
        field_error(
            document,
            block,
            field,
            format!("`{field}` must be {expected}, not {}", value.describe()),
        )
    })
}

fn parse_registry(document: &Document, block: &Block) -> Result<Registry, acl_parser::Error> {
    let Some(name) = block.label() else {
        return Err(document
            .error_at(block.span(), "a Registry block needs a name")
            .with_hint("write it as `Registry \"main\" { ... }`"));
    };
    validate_name(name).map_err(|error| document.error_at(block.span(), error.to_string()))?;
    if let Some(inner) = block.all_blocks().next() {
        return Err(document.error_at(
            inner.span(),
            format!("unexpected block `{}` inside a Registry", inner.name()),
        ));
    }
    for field in block.fields() {
        if !FIELDS.contains(&field.name()) {
            return Err(document
                .error_at(
                    field.span(),
                    format!("unknown field `{}` in registry `{name}`", field.name()),
                )
                .with_hint(format!("known fields: {}", FIELDS.join(", "))));
        }
    }
    let field_error = |field: &str, message: String| field_error(document, block, field, message);
    let Some(url) = optional(document, block, "url", "a string", |value| match value {
        Value::String(text) => Some(text),
        _ => None,
    })?
    else {
        return Err(document
            .error_at(block.span(), format!("registry `{name}` has no `url`"))
            .with_hint("add `string url = \"https://...\";`"));
    };
    let url = parse_url(url).map_err(|error| field_error("url", error.to_string()))?;
    let priority = optional(document, block, "priority", "an int", |value| match value {
        Value::Int(number) => Some(*number),
        _ => None,
    })?
    .unwrap_or(DEFAULT_PRIORITY);
    let require_signatures =
        optional(
            document,
            block,
            "require_signatures",
            "a bool",
            |value| match value {
                Value::Bool(flag) => Some(*flag),
                _ => None,
            },
        )?
        .unwrap_or(false);
    let keys = optional(
        document,
        block,
        "keys",
        "an array of strings",
        |value| match value {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(key) => Some(key),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>(),
            _ => None,
        },
    )?
    .unwrap_or_default()
    .into_iter()
    .map(|key| {
        key.parse::<PublicKey>()
            .map_err(|error| field_error("keys", error.to_string()))
    })
    .collect::<Result<Vec<_>, _>>()?;
    let cache_ttl = optional(
        document,
        block,
        "cache_ttl",
        "an int",
        |value| match value {
            Value::Int(seconds) if *seconds >= 0 => Some(*seconds),
            _ => None,
        },
    )?
    .unwrap_or(DEFAULT_CACHE_TTL);
    let mirrors = optional(
        document,
        block,
        "mirrors",
        "an array of strings",
        |value| match value {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(url) => Some(url),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>(),
            _ => None,
        },
    )?
    .unwrap_or_default()
    .into_iter()
    .map(|mirror| parse_url(mirror).map_err(|error| field_error("mirrors", error.to_string())))
    .collect::<Result<Vec<_>, _>>()?;
    let string = |field: &str| {
        optional(document, block, field, "a string", |value| match value {
            Value::String(text) => Some(text.clone()),
            _ => None,
        })
    };
    let allow_publish = optional(
        document,
        block,
        "allow_publish",
        "a bool",
        |value| match value {
            Value::Bool(flag) => Some(*flag),
            _ => None,
        },
    )?
    .unwrap_or(false);
    let publish_url = string("publish_url")?
        .map(|url| {
            parse_publish_url(&url).map_err(|error| field_error("publish_url", error.to_string()))
        })
        .transpose()?;
    let s3_endpoint = string("s3_endpoint")?
        .map(|url| {
            parse_endpoint(&url).map_err(|error| field_error("s3_endpoint", error.to_string()))
        })
        .transpose()?;
    let s3_region = string("s3_region")?;
    if require_signatures && keys.is_empty() {
        return Err(field_error(
            "require_signatures",
            format!("registry `{name}` requires signatures but trusts no key"),
        )
        .with_hint("add its key to `keys`, or set `require_signatures = false`"));
    }
    Ok(Registry {
        name: name.to_string(),
        url,
        mirrors,
        priority,
        keys,
        require_signatures,
        cache_ttl,
        allow_publish,
        publish_url,
        s3_endpoint,
        s3_region,
        span: block.span(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PublicKey {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
        PublicKey::from_bytes(signing.verifying_key().to_bytes()).unwrap()
    }

    fn other_key() -> PublicKey {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[4u8; 32]);
        PublicKey::from_bytes(signing.verifying_key().to_bytes()).unwrap()
    }

    fn file(text: &str) -> Result<RegistriesFile, ConfigError> {
        let mut file = RegistriesFile::load(Path::new("/nonexistent/registries.acl"))?;
        file.replace_text(text.to_string())?;
        Ok(file)
    }

    #[test]
    fn urls_are_normalised() {
        let cases = [
            (
                "https://example.org/pandora",
                "https://example.org/pandora/",
            ),
            (
                "https://example.org/pandora/index.acl",
                "https://example.org/pandora/",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
            ("file:///srv/registry", "file:///srv/registry/"),
            ("/srv/registry", "file:///srv/registry/"),
        ];
        for (given, expected) in cases {
            assert_eq!(parse_url(given).unwrap().as_str(), expected, "{given}");
        }
        for bad in [
            "ftp://example.org/",
            "not a url",
            "relative/path",
            "https://example.org/?q=1",
            "http://",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        for good in ["main", "a", "my-registry_2.0"] {
            validate_name(good).unwrap();
        }
        for bad in ["", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn add_and_remove_keep_comments_and_order() {
        let original = "// My registries.\n\n// The company mirror.\nRegistry \"corp\" {\n    url = \"https://corp.example/\"; // internal\n}\n\n// Public.\nRegistry \"public\" {\n    url = \"https://example.org/\";\n    priority = 10;\n}\n";
        let mut registries = file(original).unwrap();
        registries
            .add(Registry::new("local", "/srv/pandora", 200, vec![key()], true).unwrap())
            .unwrap();
        let names: Vec<_> = registries
            .by_priority()
            .iter()
            .map(|r| r.name.clone())
            .collect();
        assert_eq!(names, ["local", "corp", "public"]);
        assert!(registries.text().starts_with(original));
        registries.remove("corp").unwrap();
        assert_eq!(
            registries.text(),
            format!(
                "// My registries.\n\n// Public.\nRegistry \"public\" {{\n    url = \"https://example.org/\";\n    priority = 10;\n}}\n\nRegistry \"local\" {{\n    string url = \"file:///srv/pandora/\";\n    int priority = 200;\n    string[] keys = {{ \"{}\" }};\n    bool require_signatures = true;\n    int cache_ttl = 300;\n}}\n",
                key()
            )
        );
        registries.remove("local").unwrap();
        registries.remove("public").unwrap();
        assert_eq!(registries.text(), "// My registries.\n\n");
    }

    #[test]
    fn update_rewrites_only_changed_fields_and_keeps_comments() {
        let original = "// Mine.\nRegistry \"main\" {\n    url = \"https://a.example/\"; // primary\n    // how much I like it\n    priority = 5;\n}\n\nRegistry \"other\" { url = \"https://b.example/\"; }\n";
        let mut registries = file(original).unwrap();
        let updated = registries
            .update("main", |registry| {
                registry.priority = 7;
                registry.mirrors = vec![parse_url("https://m.example/x").unwrap()];
                registry.cache_ttl = 60;
                Ok(())
            })
            .unwrap();
        assert_eq!(updated.priority, 7);
        assert_eq!(
            registries.text(),
            "// Mine.\nRegistry \"main\" {\n    url = \"https://a.example/\"; // primary\n    // how much I like it\n    int priority = 7;\n    int cache_ttl = 60;\n    string[] mirrors = { \"https://m.example/x/\" };\n}\n\nRegistry \"other\" { url = \"https://b.example/\"; }\n"
        );
        registries
            .update("other", |registry| {
                registry.keys = vec![key()];
                Ok(())
            })
            .unwrap();
        assert!(registries.text().ends_with(&format!(
            "Registry \"other\" {{ url = \"https://b.example/\"; \n    string[] keys = {{ \"{}\" }};\n}}\n",
            key()
        )), "{}", registries.text());
        registries
            .update("main", |registry| {
                registry.keys = vec![key(), other_key()];
                Ok(())
            })
            .unwrap();
        assert_eq!(registries.find("main").unwrap().keys, [key(), other_key()]);
        registries
            .update("main", |registry| {
                registry.keys = vec![other_key()];
                Ok(())
            })
            .unwrap();
        assert_eq!(registries.find("main").unwrap().keys, [other_key()]);
        registries
            .update("main", |registry| {
                registry.mirrors.clear();
                Ok(())
            })
            .unwrap();
        assert!(
            registries.text().contains("    mirrors = {};\n"),
            "{}",
            registries.text()
        );
        assert!(registries.find("main").unwrap().mirrors.is_empty());
        let error = registries.update("nope", |_| Ok(())).unwrap_err();
        assert_eq!(
            pandora_core::Hint::hint(&error).unwrap(),
            "configured registries: main, other"
        );
    }

    #[test]
    fn publishing_settings_are_set_and_unset_in_place() {
        let original = "Registry \"main\" {\n    url = \"https://a.example/\"; // served\n}\n";
        let mut registries = file(original).unwrap();
        registries
            .update("main", |registry| {
                registry.allow_publish = true;
                registry.publish_url = Some(parse_publish_url("s3://bucket/pandora").unwrap());
                registry.s3_endpoint = Some(parse_endpoint("http://127.0.0.1:9000").unwrap());
                registry.s3_region = Some("eu-west-1".into());
                Ok(())
            })
            .unwrap();
        let main = registries.find("main").unwrap();
        assert!(main.allow_publish);
        assert_eq!(
            main.publish_url.as_ref().unwrap().as_str(),
            "s3://bucket/pandora/"
        );
        assert_eq!(main.s3_region.as_deref(), Some("eu-west-1"));
        assert!(registries.text().contains("// served"));
        registries
            .update("main", |registry| {
                registry.allow_publish = false;
                registry.publish_url = None;
                registry.s3_endpoint = None;
                registry.s3_region = None;
                Ok(())
            })
            .unwrap();
        assert_eq!(registries.text(), original);
        for bad in ["s3://", "ftp://x/y", "relative"] {
            assert!(parse_publish_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_publish_url("/srv/reg").unwrap().as_str(),
            "file:///srv/reg/"
        );
        assert!(parse_endpoint("s3://x").is_err());
    }

    #[test]
    fn duplicates_and_unknowns_are_refused() {
        let mut registries = file("Registry \"main\" { url = \"https://a.example/\"; }\n").unwrap();
        let error = registries
            .add(Registry::new("main", "https://b.example/", 1, vec![], false).unwrap())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "a registry named `main` already exists (https://a.example/)"
        );
        let error = registries.remove("nope").unwrap_err();
        assert_eq!(
            pandora_core::Hint::hint(&error).unwrap(),
            "configured registries: main"
        );
    }

    #[test]
    fn invalid_files_are_reported_with_positions() {
        let cases = [
            ("Registry \"a\" { url = \"https://a/\"; prority = 1; }", "unknown field `prority` in registry `a`", 1, 36),
            ("Registry { url = \"https://a/\"; }", "a Registry block needs a name", 1, 1),
            ("Registry \"a\" { priority = 1; }", "registry `a` has no `url`", 1, 1),
            ("Registry \"a\" { url = 5; }", "`url` must be a string, not int 5", 1, 16),
            ("Registry \"a\" { url = \"ftp://x/\"; }", "invalid registry URL `ftp://x/`: the `ftp` scheme is not supported", 1, 16),
            ("Registry \"a\" { url = \"https://a/\"; keys = { \"nope\" }; }", "`nope` does not start with `ed25519:`", 1, 36),
            ("Registry \"a\" { url = \"https://a/\"; require_signatures = true; }", "registry `a` requires signatures but trusts no key", 1, 36),
            ("Registry \"a\" { url = \"https://a/\"; }\nRegistry \"a\" { url = \"https://b/\"; }", "block `Registry \"a\"` is defined more than once", 2, 1),
            ("Mirror \"a\" {}", "unexpected block `Mirror`: registries.acl holds only `Registry \"name\" { ... }` blocks", 1, 1),
            ("url = \"x\";", "unexpected top-level field `url`: settings go inside a `Registry \"name\" { ... }` block", 1, 1),
            ("Registry \"a\" { url = ", "expected a value, found end of file", 1, 22),
        ];
        for (text, message, line, column) in cases {
            let ConfigError::Invalid { source, .. } = file(text).unwrap_err() else {
                panic!("{text}: not an Invalid error");
            };
            assert_eq!(source.kind().to_string(), message, "{text}");
            let location = source.location().unwrap();
            assert_eq!((location.line, location.column), (line, column), "{text}");
        }
    }
}
