//! The `build { ... }` block of `manifest.acl`: how a package is built from source.
//!
//! ```text
//! build {
//!     string[] sources = { "src", "include/config.h" };   // copied to /build/PATH
//!     fetch "https://example.org/zlib-1.3.tar.gz" {        // fetched before the sandbox starts
//!         string sha256 = "3f8a...";                       // required, checked
//!         string path = "vendor/zlib-1.3.tar.gz";          // under /build [default: file name]
//!     }
//!     string[] build_dependencies = { "cc-extra@1.0.0" };  // read-only at /deps/NAME@VERSION
//!     string[] steps = {                                   // each a `sh -c` in the sandbox
//!         "mkdir -p $OUT/bin",
//!         "cc -O2 -o $OUT/bin/hello src/hello.c",
//!     };
//!     env { CFLAGS = "-O2"; }                               // besides the fixed environment
//!     int time_limit = 600;                                 // seconds per step [default: 900]
//!     int max_file_size = 512;                              // MiB per file [default: 4096]
//!     int tmp_size = 256;                                   // MiB of /tmp [default: 1024]
//! }
//! ```
//!
//! Steps run in `/build` (`$SRC`) and write the package's files under `/out` (`$OUT`), which
//! then becomes the package's `files/` tree.

use std::collections::BTreeMap;

use acl_parser::{Block, Document, Value};
use serde::Serialize;

use super::manifest::{env_of, validate_pin};

/// The default per-step time limit, in seconds.
pub const DEFAULT_TIME_LIMIT: u64 = 900;
const MAX_TIME_LIMIT: u64 = 24 * 60 * 60;
const FIELDS: &[&str] = &[
    "sources",
    "build_dependencies",
    "steps",
    "time_limit",
    "max_file_size",
    "tmp_size",
];
/// The largest `max_file_size` and `tmp_size`, in MiB (1 TiB).
const MAX_MIB: u64 = 1 << 20;
const BLOCKS: &[&str] = &["fetch", "env"];

/// A validated `build { ... }` block. Serialised, it is what the recipe digest covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipe {
    /// Local paths, relative to the package directory, copied into `/build`.
    pub sources: Vec<String>,
    /// Remote sources.
    pub fetches: Vec<Fetch>,
    /// Exact pins of installed packages mounted read-only at `/deps/NAME@VERSION`.
    pub build_dependencies: Vec<String>,
    /// Shell command lines, run in order.
    pub steps: Vec<String>,
    /// Variables set for the steps.
    pub env: BTreeMap<String, String>,
    /// Seconds each step may take.
    pub time_limit: u64,
    /// MiB a step may write to one file; `None`: the sandbox's default. Left out of the digest
    /// when absent, so recipes without it keep their cache keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    /// MiB of the sandbox's `/tmp`; `None`: the sandbox's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmp_size: Option<u64>,
}

impl Recipe {
    /// [`Recipe::max_file_size`] in bytes.
    pub fn max_file_size_bytes(&self) -> u64 {
        self.max_file_size
            .map_or(crate::sandbox::DEFAULT_MAX_FILE_SIZE, |mib| mib << 20)
    }

    /// [`Recipe::tmp_size`] in bytes.
    pub fn tmp_size_bytes(&self) -> u64 {
        self.tmp_size
            .map_or(crate::sandbox::DEFAULT_TMP_SIZE, |mib| mib << 20)
    }
}

/// One `fetch "URL" { sha256 = "..."; path = "..."; }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fetch {
    /// Where from (`https://` or `http://`).
    pub url: String,
    /// The expected SHA-256, lowercase hex.
    pub sha256: String,
    /// Where it goes under `/build`.
    pub path: String,
}

/// A path under the build directory: relative, no `..`, not empty.
pub fn check_relative(path: &str) -> Result<(), String> {
    let candidate = std::path::Path::new(path);
    if path.is_empty()
        || candidate.is_absolute()
        || candidate.components().any(|part| {
            !matches!(
                part,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    {
        return Err(format!(
            "`{path}` must be a relative path inside the package directory, without `..`"
        ));
    }
    Ok(())
}

impl Recipe {
    /// Validates the `build` block inside `manifest`.
    pub(super) fn from_block(
        document: &Document,
        block: &Block,
    ) -> Result<Recipe, acl_parser::Error> {
        super::manifest::check_known(
            document,
            block,
            FIELDS,
            BLOCKS,
            &["fetch"],
            "the build block",
        )?;
        let at = |field: &str| block.field(field).and_then(|f| f.span()).or(block.span());
        let sources = document.string_array(block, "sources")?;
        for source in &sources {
            check_relative(source).map_err(|reason| document.error_at(at("sources"), reason))?;
        }
        let build_dependencies = document.string_array(block, "build_dependencies")?;
        for pin in &build_dependencies {
            validate_pin(pin).map_err(|reason| {
                document
                    .error_at(
                        at("build_dependencies"),
                        format!("invalid build dependency {reason}"),
                    )
                    .with_hint(
                        "build dependencies are exact pins of installed packages: `name@1.2.3`",
                    )
            })?;
        }
        let steps = document.string_array(block, "steps")?;
        if steps.is_empty() || steps.iter().any(|step| step.trim().is_empty()) {
            return Err(document
                .error_at(at("steps"), "the build block needs non-empty `steps`")
                .with_hint("add `string[] steps = { \"cc -o $OUT/bin/hello src/hello.c\" };`"));
        }
        let time_limit = match block.field("time_limit").map(|field| field.value()) {
            None => DEFAULT_TIME_LIMIT,
            Some(Value::Int(seconds)) if (1..=MAX_TIME_LIMIT as i64).contains(seconds) => {
                *seconds as u64
            }
            Some(other) => {
                return Err(document.error_at(
                    at("time_limit"),
                    format!(
                    "`time_limit` must be a number of seconds from 1 to {MAX_TIME_LIMIT}, not {}",
                    describe(other)
                ),
                ))
            }
        };
        let mebibytes = |name: &str| match block.field(name).map(|field| field.value()) {
            None => Ok(None),
            Some(Value::Int(mib)) if (1..=MAX_MIB as i64).contains(mib) => Ok(Some(*mib as u64)),
            Some(other) => Err(document.error_at(
                at(name),
                format!(
                    "`{name}` must be a number of MiB from 1 to {MAX_MIB}, not {}",
                    describe(other)
                ),
            )),
        };
        let max_file_size = mebibytes("max_file_size")?;
        let tmp_size = mebibytes("tmp_size")?;
        let mut fetches = Vec::new();
        for fetch in block.all_blocks().filter(|inner| inner.name() == "fetch") {
            fetches.push(fetch_of(document, fetch)?);
        }
        Ok(Recipe {
            sources,
            fetches,
            build_dependencies,
            steps,
            env: env_of(document, block)?,
            time_limit,
            max_file_size,
            tmp_size,
        })
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Int(number) => number.to_string(),
        other => other.describe(),
    }
}

fn fetch_of(document: &Document, block: &Block) -> Result<Fetch, acl_parser::Error> {
    let url = block.label().map(str::to_string).ok_or_else(|| {
        document
            .error_at(block.span(), "a `fetch` block without a URL")
            .with_hint("write `fetch \"https://...\" { string sha256 = \"...\"; }`")
    })?;
    let parsed = url::Url::parse(&url).map_err(|error| {
        document.error_at(block.span(), format!("invalid URL `{url}`: {error}"))
    })?;
    // A `file://` source would read whatever the builder's machine has at that path (a key,
    // a token) into the package: local sources belong in the package directory.
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(document
            .error_at(
                block.span(),
                format!("`{url}`: sources are fetched over https or http"),
            )
            .with_hint("put local files in the package directory and list them in `sources`"));
    }
    if let Some(nested) = block.all_blocks().next() {
        return Err(document
            .error_at(
                nested.span(),
                format!("unknown block `{}` in a fetch", nested.name()),
            )
            .with_hint("a fetch has `sha256` and `path`"));
    }
    for field in block.fields() {
        if !matches!(field.name(), "sha256" | "path") {
            return Err(document
                .error_at(
                    field.span(),
                    format!("unknown field `{}` in a fetch", field.name()),
                )
                .with_hint("a fetch has `sha256` and `path`"));
        }
    }
    let text = |name: &str| match block.field(name).map(|field| (field.value(), field.span())) {
        None => Ok(None),
        Some((Value::String(text), _)) => Ok(Some(text.clone())),
        Some((other, span)) => Err(document.error_at(
            span,
            format!("`{name}` must be a string, not {}", other.describe()),
        )),
    };
    let sha256 = text("sha256")?.ok_or_else(|| {
        document
            .error_at(block.span(), format!("fetch `{url}` has no `sha256`"))
            .with_hint("every fetched source is pinned by its digest: `sha256sum FILE` gives it")
    })?;
    if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(document.error_at(
            block.field("sha256").and_then(|field| field.span()),
            format!("`{sha256}` is not a SHA-256 (64 hexadecimal digits)"),
        ));
    }
    let default_path = parsed
        .path_segments()
        .and_then(|mut segments| segments.next_back().map(str::to_string))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "source".to_string());
    let path = text("path")?.unwrap_or(default_path);
    check_relative(&path).map_err(|reason| {
        document.error_at(
            block
                .field("path")
                .and_then(|field| field.span())
                .or(block.span()),
            reason,
        )
    })?;
    Ok(Fetch {
        url,
        sha256: sha256.to_ascii_lowercase(),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(body: &str) -> Result<Recipe, String> {
        let text = format!("build {{ {body} }}");
        let document =
            acl_parser::from_str("manifest.acl", &text).map_err(|error| error.to_string())?;
        let block = document.all_blocks().next().unwrap();
        Recipe::from_block(&document, block).map_err(|error| error.kind().to_string())
    }

    #[test]
    fn a_full_recipe() {
        let parsed = recipe(
            r#"string[] sources = { "src", "include/config.h" };
            fetch "https://example.org/zlib-1.3.tar.gz" { string sha256 = "AB00000000000000000000000000000000000000000000000000000000000000"; }
            string[] build_dependencies = { "cc-extra@1.0.0" };
            string[] steps = { "make", "make install" };
            env { CFLAGS = "-O2"; }
            int time_limit = 60;"#,
        )
        .unwrap();
        assert_eq!(parsed.sources, ["src", "include/config.h"]);
        assert_eq!(parsed.fetches[0].path, "zlib-1.3.tar.gz");
        assert_eq!(parsed.fetches[0].sha256, format!("ab{}", "0".repeat(62)));
        assert_eq!(parsed.build_dependencies, ["cc-extra@1.0.0"]);
        assert_eq!(parsed.env["CFLAGS"], "-O2");
        assert_eq!(parsed.time_limit, 60);
        assert_eq!(
            recipe(r#"string[] steps = { "true" };"#)
                .unwrap()
                .time_limit,
            DEFAULT_TIME_LIMIT
        );
    }

    #[test]
    fn mistakes() {
        for (body, message) in [
            (
                r#"string[] steps = { "true" }; string[] sources = { "/etc" };"#,
                "`/etc` must be a relative path inside the package directory, without `..`",
            ),
            (
                r#"string[] steps = { "true" }; fetch "https://x/y" { string sha256 = "12"; }"#,
                "`12` is not a SHA-256 (64 hexadecimal digits)",
            ),
            (
                r#"string[] steps = { "true" }; fetch "https://x/y" { string sha256 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; string path = "../y"; }"#,
                "`../y` must be a relative path inside the package directory, without `..`",
            ),
            (
                r#"string[] steps = { " " };"#,
                "the build block needs non-empty `steps`",
            ),
            (
                r#"string[] steps = { "true" }; int time_limit = 100000;"#,
                "`time_limit` must be a number of seconds from 1 to 86400, not 100000",
            ),
            (
                r#"string[] steps = { "true" }; cache { }"#,
                "unknown block `cache` in the build block",
            ),
        ] {
            assert_eq!(recipe(body).unwrap_err(), message, "{body}");
        }
    }
}
