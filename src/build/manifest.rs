//! `manifest.acl`: what a package is (name, version, pins, entry point), validated with the
//! position of every problem.
//!
//! ```text
//! manifest {
//!     string name = "hello";
//!     string version = "1.0.0";
//!     string description = "Prints a greeting";
//!     string license = "MIT";
//!     string[] authors = { "A. Author <a@example.org>" };
//!     string[] tags = { "demo" };
//!     string[] dependencies = { "libgreet@2.0.0" };   // exact pins only
//!     string command = "bin/hello";                   // relative to the package root
//!     string arch = "linux_amd64";
//!     env { GREETING = "hello"; }                     // set for the program
//!     entry "hello-loud" {                            // another entry point: bin/hello-loud
//!         string command = "bin/hello --loud";        // its own command
//!         env { VOLUME = "11"; }                      // set over the package's env
//!     }
//! }
//! ```
//!
//! Installed, a package with a `command` gets the entry point `bin/NAME` (its name); each
//! `entry` block adds one more, carried signed in the metadata's `pandora.entry_points`.

pub use pandora_core::id::{validate_name, validate_pin, validate_version};
use std::collections::BTreeMap;
use std::path::Path;

use acl_parser::{Block, Document, Value};

use super::recipe::Recipe;
use super::BuildError;
use crate::format::metadata::Hooks;

const FIELDS: &[&str] = &[
    "name",
    "version",
    "description",
    "license",
    "authors",
    "tags",
    "dependencies",
    "command",
    "arch",
    "install_hooks",
    "archive_sha256",
    "pkg_format",
];
const BLOCKS: &[&str] = &["env", "build_meta", "entry", "build", "hooks"];

/// The only `pkg_format` Pandora writes: PSPF/2025 packages.
pub const PKG_FORMAT: &str = "pandora-v1";

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// One line.
    pub description: Option<String>,
    /// SPDX expression.
    pub license: Option<String>,
    /// Authors.
    pub authors: Vec<String>,
    /// Search tags.
    pub tags: Vec<String>,
    /// Exact `name@version` pins.
    pub dependencies: Vec<String>,
    /// The entry point command line, relative to the package root, if the package has one.
    pub command: Option<String>,
    /// Target platform.
    pub arch: Option<String>,
    /// Variables set for the program.
    pub env: BTreeMap<String, String>,
    /// Named entry points (`entry "NAME" { ... }`), by name.
    pub entry_points: BTreeMap<String, EntryPoint>,
    /// How to build `files/` from source (`build { ... }`), if the package says.
    pub recipe: Option<Recipe>,
    /// Install and removal hooks (`hooks { ... }` and the `install_hooks` files).
    pub hooks: Hooks,
    /// `build_meta { ... }`: the builder's own notes, signed into the provenance.
    pub build_meta: BTreeMap<String, String>,
    /// `archive_sha256`: the SHA-256 the built `.psp` must have (checked after the build).
    pub archive_sha256: Option<String>,
}

/// One `entry "NAME" { command = "..."; env { ... } }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPoint {
    /// Its command line, relative to the package root as `command` is.
    pub command: String,
    /// Variables set for it, over the package's `env`.
    pub env: BTreeMap<String, String>,
}

/// Everything a manifest says is inside its one `manifest { ... }` block: what stands beside
/// it (a `hooks { ... }` written at the top, say) would be silently left out of the package.
fn outside_nothing(document: &Document) -> Result<(), acl_parser::Error> {
    let hint =
        "everything goes inside the one `manifest { ... }` block; see `pandora build --help`";
    if let Some(field) = document.fields().next() {
        let message = format!("`{}` stands outside `manifest {{ ... }}`", field.name());
        return Err(document.error_at(field.span(), message).with_hint(hint));
    }
    if let Some(labelled) = document
        .all_blocks()
        .find(|block| block.name() == "manifest" && block.label().is_some())
    {
        let message = "`manifest` takes no label";
        return Err(document.error_at(labelled.span(), message).with_hint(hint));
    }
    let mut manifests = document
        .all_blocks()
        .filter(|block| block.name() == "manifest");
    if let Some(second) = manifests.nth(1) {
        let message = "a second `manifest { ... }` block";
        return Err(document.error_at(second.span(), message).with_hint(hint));
    }
    if let Some(other) = document
        .all_blocks()
        .find(|block| block.name() != "manifest")
    {
        let message = format!(
            "`{} {{ ... }}` stands outside `manifest {{ ... }}`",
            other.name()
        );
        return Err(document.error_at(other.span(), message).with_hint(hint));
    }
    Ok(())
}

impl Manifest {
    /// Reads and validates `manifest.acl`.
    pub fn load(path: &Path) -> Result<Manifest, BuildError> {
        let text = match fs_err::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(BuildError::ManifestMissing {
                    path: path.to_path_buf(),
                })
            }
            Err(source) => {
                return Err(BuildError::Io(pandora_core::IoError {
                    action: "access",
                    path: path.to_path_buf(),
                    source,
                }))
            }
        };
        let invalid = |source: acl_parser::Error| BuildError::Manifest {
            path: path.to_path_buf(),
            source,
        };
        let document = acl_parser::from_str(&path.display().to_string(), &text).map_err(invalid)?;
        let block = document
            .all_blocks()
            .find(|block| block.name() == "manifest")
            .ok_or_else(|| {
                invalid(
                    document
                        .error_at(None, "no `manifest { ... }` block")
                        .with_hint("see `pandora build --help` for the manifest's fields"),
                )
            })?;
        outside_nothing(&document).map_err(invalid)?;
        let mut manifest = Manifest::from_block(&document, block).map_err(invalid)?;
        let files = document
            .string_array(block, "install_hooks")
            .map_err(invalid)?;
        let root = path.parent().unwrap_or(Path::new("."));
        super::hooks::from_files(root, &files, &mut manifest.hooks)?;
        Ok(manifest)
    }

    fn from_block(document: &Document, block: &Block) -> Result<Manifest, acl_parser::Error> {
        check_known(document, block, FIELDS, BLOCKS, &["entry"], "the manifest")?;
        let at = |field: &str| block.field(field).and_then(|f| f.span()).or(block.span());
        let text = |field: &str| -> Result<Option<String>, acl_parser::Error> {
            match block.field(field).map(|f| f.value()) {
                None => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(other) => Err(document.error_at(
                    at(field),
                    format!("`{field}` must be a string, not {}", other.describe()),
                )),
            }
        };
        let list = |field: &str| document.string_array(block, field);
        let required = |field: &str| -> Result<String, acl_parser::Error> {
            text(field)?.ok_or_else(|| {
                document
                    .error_at(block.span(), format!("the manifest has no `{field}`"))
                    .with_hint(format!("add `string {field} = \"...\";`"))
            })
        };
        let name = required("name")?;
        validate_name(&name).map_err(|reason| {
            document.error_at(at("name"), format!("invalid package name {reason}"))
        })?;
        let version = required("version")?;
        validate_version(&version).map_err(|reason| {
            document.error_at(at("version"), format!("invalid version: {reason}"))
        })?;
        let dependencies = list("dependencies")?;
        for pin in &dependencies {
            validate_pin(pin).map_err(|reason| {
                document
                    .error_at(at("dependencies"), format!("invalid dependency {reason}"))
                    .with_hint("dependencies are exact pins: `name@1.2.3`, not ranges")
            })?;
        }
        let command = text("command")?;
        if command
            .as_deref()
            .is_some_and(|command| command.trim().is_empty())
        {
            return Err(document.error_at(at("command"), "`command` is empty"));
        }
        let env = env_of(document, block)?;
        let mut entry_points = BTreeMap::new();
        for entry in block.all_blocks().filter(|inner| inner.name() == "entry") {
            let name = entry.label().map(str::to_string).ok_or_else(|| {
                document
                    .error_at(entry.span(), "an `entry` block without a name")
                    .with_hint("write `entry \"NAME\" { string command = \"bin/tool\"; }`")
            })?;
            validate_name(&name).map_err(|reason| {
                document.error_at(entry.span(), format!("invalid entry point name {reason}"))
            })?;
            for field in entry.fields() {
                if field.name() != "command" {
                    return Err(document
                        .error_at(
                            field.span(),
                            format!("unknown field `{}` in an entry point", field.name()),
                        )
                        .with_hint("an entry point has `command` and an `env { ... }` block"));
                }
            }
            if let Some(inner) = entry.all_blocks().find(|inner| inner.name() != "env") {
                return Err(document.error_at(
                    inner.span(),
                    format!("unknown block `{}` in an entry point", inner.name()),
                ));
            }
            let command = match entry.field("command").map(|field| field.value()) {
                Some(Value::String(command)) if !command.trim().is_empty() => command.clone(),
                _ => {
                    return Err(document
                        .error_at(
                            entry.span(),
                            format!("entry point `{name}` has no `command`"),
                        )
                        .with_hint("add `string command = \"bin/tool\";`"))
                }
            };
            if entry_points.contains_key(&name) {
                return Err(document.error_at(
                    entry.span(),
                    format!("entry point `{name}` is declared twice"),
                ));
            }
            let env = env_of(document, entry)?;
            entry_points.insert(name, EntryPoint { command, env });
        }
        let mut recipes = block.all_blocks().filter(|inner| inner.name() == "build");
        let recipe = recipes
            .next()
            .map(|build| Recipe::from_block(document, build))
            .transpose()?;
        if let Some(second) = recipes.next() {
            return Err(document.error_at(second.span(), "a second `build` block"));
        }
        let mut hooks = Hooks::default();
        for inner in block.all_blocks().filter(|inner| inner.name() == "hooks") {
            super::hooks::from_block(document, inner, &mut hooks)?;
        }
        let mut build_meta = BTreeMap::new();
        for inner in block
            .all_blocks()
            .filter(|inner| inner.name() == "build_meta")
        {
            if let Some(nested) = inner.all_blocks().next() {
                return Err(document.error_at(
                    nested.span(),
                    format!(
                        "`build_meta {{ ... }}` holds notes, not blocks (`{} {{ ... }}`)",
                        nested.name()
                    ),
                ));
            }
            for field in inner.fields() {
                let value = match field.value() {
                    Value::String(text) => text.clone(),
                    Value::Int(number) => number.to_string(),
                    Value::Bool(flag) => flag.to_string(),
                    other => {
                        return Err(document.error_at(
                            field.span(),
                            format!(
                                "`build_meta.{}` must be a string, not {}",
                                field.name(),
                                other.describe()
                            ),
                        ))
                    }
                };
                build_meta.insert(field.name().to_string(), value);
            }
        }
        if let Some(format) = text("pkg_format")? {
            if format != PKG_FORMAT {
                return Err(document
                    .error_at(at("pkg_format"), format!("`pkg_format` is `{format}`, but Pandora writes `{PKG_FORMAT}` (PSPF/2025) packages only"))
                    .with_hint(format!("write `string pkg_format = \"{PKG_FORMAT}\";` or leave the field out")));
            }
        }
        let archive_sha256 = text("archive_sha256")?;
        if let Some(digest) = &archive_sha256 {
            if digest.len() != 64 || !digest.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                return Err(document
                    .error_at(at("archive_sha256"), format!("`{digest}` is not a SHA-256 (64 hexadecimal digits)"))
                    .with_hint("archive_sha256 is the SHA-256 the built .psp must have; leave it out to accept any"));
            }
        }
        Ok(Manifest {
            name,
            version,
            description: text("description")?,
            license: text("license")?,
            authors: list("authors")?,
            tags: list("tags")?,
            dependencies,
            command,
            arch: text("arch")?,
            env,
            entry_points,
            recipe,
            hooks,
            build_meta,
            archive_sha256: archive_sha256.map(|digest| digest.to_ascii_lowercase()),
        })
    }

    /// The named entry points as the metadata records them (commands anchored as
    /// [`Manifest::execution_command`] anchors the package's).
    pub fn metadata_entry_points(&self) -> BTreeMap<String, crate::format::metadata::EntryPoint> {
        self.entry_points
            .iter()
            .map(|(name, entry)| {
                (
                    name.clone(),
                    crate::format::metadata::EntryPoint {
                        command: anchor(&entry.command),
                        env: entry.env.clone(),
                    },
                )
            })
            .collect()
    }

    /// The command as the metadata records it: relative programs are anchored at `{workenv}`.
    pub fn execution_command(&self) -> Option<String> {
        self.command.as_deref().map(anchor)
    }
}

/// A command line with a relative program anchored at `{workenv}`.
fn anchor(command: &str) -> String {
    let command = command.trim();
    if command.starts_with('{') || command.starts_with('/') {
        command.to_string()
    } else {
        format!("{{workenv}}/{}", command.trim_start_matches("./"))
    }
}

/// The `env { NAME = "value"; }` block inside `block`, if any.
pub(super) fn env_of(
    document: &Document,
    block: &Block,
) -> Result<BTreeMap<String, String>, acl_parser::Error> {
    let mut env = BTreeMap::new();
    let mut env_blocks = block.blocks("env");
    if let Some(env_block) = env_blocks.next() {
        if let Some(second) = env_blocks.next() {
            return Err(document
                .error_at(second.span(), "a second `env { ... }` block")
                .with_hint("write every variable in the first one"));
        }
        if let Some(label) = env_block.label() {
            return Err(document.error_at(
                env_block.span(),
                format!("`env` takes no label (`\"{label}\"`)"),
            ));
        }
        if let Some(inner) = env_block.all_blocks().next() {
            return Err(document
                .error_at(
                    inner.span(),
                    format!(
                        "`env {{ ... }}` holds variables, not blocks (`{} {{ ... }}`)",
                        inner.name()
                    ),
                )
                .with_hint("write each variable as NAME = \"value\";"));
        }
        for field in env_block.fields() {
            match field.value() {
                Value::String(value) => {
                    env.insert(field.name().to_string(), value.clone());
                }
                other => {
                    return Err(document.error_at(
                        field.span(),
                        format!(
                            "environment variable `{}` must be a string, not {}",
                            field.name(),
                            other.describe()
                        ),
                    ))
                }
            }
        }
    }
    Ok(env)
}

/// Refuses a field or block of `block` not in `fields` / `blocks` (a typo is never ignored),
/// at its position, listing the known ones; `place` says where (`the manifest`).
/// Blocks not in `named` (which each carry a label and may repeat) appear at most once and
/// without a label: a second one, or a label, would be ignored.
pub(super) fn check_known(
    document: &Document,
    block: &Block,
    fields: &[&str],
    blocks: &[&str],
    named: &[&str],
    place: &str,
) -> Result<(), acl_parser::Error> {
    for field in block.fields() {
        if !fields.contains(&field.name()) {
            return Err(document
                .error_at(
                    field.span(),
                    format!("unknown field `{}` in {place}", field.name()),
                )
                .with_hint(format!("known fields: {}", fields.join(", "))));
        }
    }
    for inner in block.all_blocks() {
        if !blocks.contains(&inner.name()) {
            return Err(document
                .error_at(
                    inner.span(),
                    format!("unknown block `{}` in {place}", inner.name()),
                )
                .with_hint(format!("known blocks: {}", blocks.join(", "))));
        }
        if named.contains(&inner.name()) {
            continue;
        }
        if let Some(label) = inner.label() {
            return Err(document.error_at(
                inner.span(),
                format!(
                    "`{}` in {place} takes no label (`\"{label}\"`)",
                    inner.name()
                ),
            ));
        }
        if let Some(second) = block.blocks(inner.name()).nth(1) {
            return Err(document
                .error_at(
                    second.span(),
                    format!("a second `{} {{ ... }}` block in {place}", inner.name()),
                )
                .with_hint("write everything it holds in the first one"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Manifest, BuildError> {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("manifest.acl");
        fs_err::write(&path, text).unwrap();
        Manifest::load(&path)
    }

    #[test]
    fn full_manifest() {
        let manifest = load(
            "manifest { name = \"hello\"; version = \"1.0.0\"; dependencies = { \"libgreet@2.0.0\" };\n command = \"bin/hello --loud\"; env { GREETING = \"hi\"; } build_meta { builder = \"mpt\"; } }",
        )
        .unwrap();
        assert_eq!(
            manifest.execution_command().unwrap(),
            "{workenv}/bin/hello --loud"
        );
        assert_eq!(manifest.env["GREETING"], "hi");
        assert_eq!(manifest.dependencies, ["libgreet@2.0.0"]);
    }

    #[test]
    fn named_entry_points() {
        let manifest = load(
            "manifest { name = \"hello\"; version = \"1.0.0\"; command = \"bin/hello\";\n entry \"hello-loud\" { command = \"bin/hello --loud\"; env { VOLUME = \"11\"; } }\n entry \"hi\" { command = \"/bin/echo hi\"; } }",
        )
        .unwrap();
        let entries = manifest.metadata_entry_points();
        assert_eq!(entries["hello-loud"].command, "{workenv}/bin/hello --loud");
        assert_eq!(entries["hello-loud"].env["VOLUME"], "11");
        assert_eq!(entries["hi"].command, "/bin/echo hi");
        for (text, message) in [
            ("entry \"x\" { }", "entry point `x` has no `command`"),
            ("entry \"X\" { command = \"a\"; }", "invalid entry point name `X` must start with a lowercase letter or digit and be at most 64 characters"),
            ("entry \"x\" { command = \"a\"; path = \"b\"; }", "unknown field `path` in an entry point"),
        ] {
            match load(&format!("manifest {{ name = \"hello\"; version = \"1.0.0\"; {text} }}")) {
                Err(BuildError::Manifest { source, .. }) => {
                    assert_eq!(source.kind().to_string(), message, "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    /// A `hooks { ... }` written beside the manifest block was left out of the package without
    /// a word.
    #[test]
    fn nothing_stands_outside_the_manifest_block() {
        let manifest = "manifest { name = \"hello\"; version = \"1.0.0\"; }\n";
        for (extra, message) in [
            (
                "hooks { post_install = { \"bin/setup\" }; }",
                "`hooks { ... }` stands outside `manifest { ... }`",
            ),
            (
                "command = \"bin/hello\";",
                "`command` stands outside `manifest { ... }`",
            ),
            (manifest, "a second `manifest { ... }` block"),
        ] {
            match load(&format!("{manifest}{extra}\n")) {
                Err(BuildError::Manifest { source, .. }) => {
                    assert_eq!(source.kind().to_string(), message, "{extra}");
                    assert!(source.hint().is_some_and(|hint| hint.contains("inside")));
                }
                other => panic!("{extra}: {other:?}"),
            }
        }
        load(manifest).unwrap();
    }

    /// Blocks a manifest does not read twice, or with a label, or inside `env`, were ignored
    /// without a word.
    #[test]
    fn what_would_be_ignored_is_refused() {
        let head = "name = \"hello\"; version = \"1.0.0\"; command = \"bin/hello\";";
        for (body, message) in [
            (
                "env { FOO = \"1\"; bogus { BAR = \"2\"; } }",
                "`env { ... }` holds variables, not blocks (`bogus { ... }`)",
            ),
            (
                "env { FOO = \"1\"; } env { BAR = \"2\"; }",
                "a second `env { ... }` block in the manifest",
            ),
            (
                "env \"x\" { FOO = \"1\"; }",
                "`env` in the manifest takes no label (`\"x\"`)",
            ),
            (
                "entry \"e\" { command = \"a\"; env { A = \"1\"; } env { B = \"2\"; } }",
                "a second `env { ... }` block",
            ),
            (
                "build_meta { a = \"1\"; } build_meta { b = \"2\"; }",
                "a second `build_meta { ... }` block in the manifest",
            ),
        ] {
            match load(&format!("manifest {{ {head} {body} }}")) {
                Err(BuildError::Manifest { source, .. }) => {
                    assert_eq!(source.kind().to_string(), message, "{body}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        match load(&format!("manifest \"lbl\" {{ {head} }}")) {
            Err(BuildError::Manifest { source, .. }) => {
                assert_eq!(source.kind().to_string(), "`manifest` takes no label");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Hook files, `build_meta` and `fetch` blocks left out what they did not read.
    #[test]
    fn hook_files_and_notes_hold_only_what_is_read() {
        let head = "name = \"hello\"; version = \"1.0.0\";";
        for (hooks, message) in [
            (
                "string[] commands = { \"rm -rf ~\" };\npostinstall { command = \"a\"; }",
                "`commands` stands outside a hook block",
            ),
            (
                "postinstall \"x\" { command = \"a\"; }",
                "hook `postinstall` takes no label (`\"x\"`)",
            ),
            (
                "postinstall { command = \"a\"; comands = { \"b\" }; }",
                "unknown field `comands` in hook `postinstall`",
            ),
            (
                "postinstall { command = \"a\"; msg = \"m\"; }",
                "unknown field `msg` in hook `postinstall`",
            ),
            (
                "postinstall { command = \"a\"; nested { x = 1; } }",
                "unknown block `nested` in hook `postinstall`",
            ),
            (
                "postinstall { action = \"warn\"; msg = \"a\"; message = \"b\"; }",
                "a hook has one message: `msg` or `message`, not both",
            ),
            (
                "postinstall { action = \"warn\"; msg = \"a\"; time_limit = 5; }",
                "unknown field `time_limit` in hook `postinstall`",
            ),
        ] {
            let directory = tempfile::tempdir().unwrap();
            fs_err::write(directory.path().join("h.acl"), hooks).unwrap();
            let path = directory.path().join("manifest.acl");
            fs_err::write(
                &path,
                format!("manifest {{ {head} install_hooks = {{ \"h.acl\" }}; }}"),
            )
            .unwrap();
            match Manifest::load(&path) {
                Err(BuildError::Manifest { source, .. }) => {
                    assert_eq!(source.kind().to_string(), message, "{hooks}");
                }
                other => panic!("{hooks}: {other:?}"),
            }
        }
        for (body, message) in [
            ("build_meta { x = \"1\"; inner { y = \"2\"; } }", "`build_meta { ... }` holds notes, not blocks (`inner { ... }`)"),
            ("build { steps = { \"true\" }; fetch \"https://example.org/a.tgz\" { sha256 = \"00\"; verify { strict = true; } } }", "unknown block `verify` in a fetch"),
        ] {
            match load(&format!("manifest {{ {head} {body} }}")) {
                Err(BuildError::Manifest { source, .. }) => {
                    assert_eq!(source.kind().to_string(), message, "{body}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn versions_and_pins() {
        for good in ["1.0.0", "2", "1.2.3-rc.1", "1.0.0+build.5"] {
            validate_version(good).unwrap();
        }
        for bad in ["", "^1.0", ">=2", "1.*", "1..2", "v1.0", "1.0-"] {
            assert!(validate_version(bad).is_err(), "{bad}");
        }
        validate_pin("libfoo@1.0.0").unwrap();
        for bad in ["libfoo", "libfoo@^1.0", "Libfoo@1.0.0", "libfoo@"] {
            assert!(validate_pin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_point_at_the_field() {
        let cases = [
            ("manifest { name = \"Hello\"; version = \"1.0.0\"; }", "invalid package name `Hello` must start with a lowercase letter or digit and be at most 64 characters"),
            ("manifest { name = \"hello\"; version = \"latest\"; }", "invalid version: `latest` is not an exact version such as `1.2.3` or `2.0.0-rc.1`"),
            ("manifest { name = \"hello\"; version = \"1.0.0\"; dependencies = { \"libfoo@>=1\" }; }", "invalid dependency `libfoo@>=1`: `>=1` is not an exact version such as `1.2.3` or `2.0.0-rc.1`"),
            ("manifest { name = \"hello\"; }", "the manifest has no `version`"),
            ("manifest { name = \"hello\"; version = \"1\"; colour = \"red\"; }", "unknown field `colour` in the manifest"),
            ("package { }", "no `manifest { ... }` block"),
        ];
        for (text, message) in cases {
            match load(text) {
                Err(BuildError::Manifest { source, .. }) => {
                    assert_eq!(source.kind().to_string(), message, "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            Manifest::load(Path::new("/nonexistent/manifest.acl")),
            Err(BuildError::ManifestMissing { .. })
        ));
    }
}
