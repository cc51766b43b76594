//! The signed metadata JSON. Only the fields Pandora uses are typed; the exact bytes are kept
//! elsewhere, because the signature covers them and nothing else.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The metadata, as far as Pandora reads it. Unknown fields are ignored (FlavorPack's
/// `verification`, `build`, `launcher`, ... are informational).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Metadata {
    /// Must be `PSPF/2025`.
    pub format: String,
    /// Informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<String>,
    /// Name, version, description.
    pub package: PackageInfo,
    /// One entry per slot, in slot order.
    pub slots: Vec<SlotInfo>,
    /// What to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Execution>,
    /// Environment rules for the child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    /// Directories and variables of the work environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workenv: Option<Workenv>,
    /// Build information (tool, version, timestamp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildInfo>,
    /// Which launcher stub the package was built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher: Option<LauncherInfo>,
    /// Pandora's own fields; FlavorPack's launchers ignore unknown top-level keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pandora: Option<PandoraInfo>,
}

/// `package`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PackageInfo {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// One-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One `slots[]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SlotInfo {
    /// Slot index.
    pub slot: u64,
    /// Slot name.
    #[serde(default)]
    pub id: String,
    /// Where the builder read it from (informational).
    #[serde(default)]
    pub source: String,
    /// For single-file slots, the path under the work environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Stored size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// `sha256:<64 hex>` of the stored bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// Operation chain name (`tgz`, `tar.zst`, ...).
    pub operations: String,
    /// `payload`, `runtime`, `tool`.
    pub purpose: String,
    /// `runtime`, `cache`, ...
    pub lifecycle: String,
    /// Octal mode for single-file slots, e.g. `0755`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
}

impl SlotInfo {
    /// The full SHA-256 this entry declares, if it is well formed.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        let hex = self.checksum.as_deref()?.strip_prefix("sha256:")?;
        decode_hex::<32>(hex)
    }

    /// The mode for a single-file slot (default 0644).
    pub fn mode(&self) -> u32 {
        self.permissions
            .as_deref()
            .and_then(|text| u32::from_str_radix(text.trim_start_matches("0o"), 8).ok())
            .unwrap_or(0o644)
    }
}

/// `execution`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct Execution {
    /// The command line, split shell-style, with `{workenv}` and friends substituted.
    pub command: String,
    /// Variables set for the child.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// `runtime`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct Runtime {
    /// Environment operations.
    #[serde(default)]
    pub env: RuntimeEnv,
}

/// `runtime.env`: applied in the order unset, pass, map, set.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct RuntimeEnv {
    /// Variables (globs allowed) removed from the inherited environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<String>,
    /// Variables (globs allowed) kept even when unset would remove them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass: Vec<String>,
    /// Variables renamed: old name to new name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub map: BTreeMap<String, String>,
    /// Variables set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
}

/// `workenv`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct Workenv {
    /// Directories created before running.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<Directory>,
    /// Variables set for the child (after `runtime.env`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// One `workenv.directories[]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Directory {
    /// Path, usually `{workenv}/...`.
    pub path: String,
    /// Octal mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// `build`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct BuildInfo {
    /// The builder (`pandora`, `flavor-rs`, `flavor-go`).
    #[serde(default)]
    pub tool: String,
    /// Its version.
    #[serde(default)]
    pub tool_version: String,
    /// When (RFC 3339), as the builder wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Whether the builder claims byte-for-byte reproducibility.
    #[serde(default)]
    pub deterministic: bool,
    /// The platform built on; FlavorPack's rs launcher requires it whenever `build` is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformInfo>,
}

/// `build.platform`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct PlatformInfo {
    /// `linux`.
    #[serde(default)]
    pub os: String,
    /// `x86_64`.
    #[serde(default)]
    pub arch: String,
    /// `linux/x86_64`.
    #[serde(default)]
    pub host: String,
}

impl PlatformInfo {
    /// The platform this binary was compiled for.
    pub fn current() -> PlatformInfo {
        PlatformInfo {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            host: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// `launcher`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct LauncherInfo {
    /// The stub's file name.
    #[serde(default)]
    pub tool: String,
    /// Its version, when known.
    #[serde(default)]
    pub tool_version: String,
    /// Its size.
    #[serde(default)]
    pub size: u64,
    /// `sha256:<hex>` of the stub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// What the stub can do (FlavorPack lists `mmap`, `signed`).
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// Pandora's own, signed fields.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct PandoraInfo {
    /// Exact `name@version` pins.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// SPDX expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Authors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    /// Search tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Target platform, e.g. `linux_amd64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Named entry points, by name: an installed package's profile gets `bin/NAME` for each
    /// (besides `bin/<package name>` for `execution.command`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub entry_points: BTreeMap<String, EntryPoint>,
    /// Commands and messages run at install and removal, in Pandora's sandbox.
    #[serde(default, skip_serializing_if = "Hooks::is_empty")]
    pub hooks: Hooks,
    /// How the package was built from source, when it was (signed with the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// SHA-256 (lowercase hex) of the package's attestation slot (`_attestation`: its SPDX SBOM
    /// and provenance), also in the index at offset 1440 as FlavorPack binds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_sha256: Option<String>,
}

/// `pandora.hooks`: what runs when the package is installed or removed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
pub struct Hooks {
    /// Before `post_install`, at the same point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_install: Vec<Hook>,
    /// After the package's files are in place, before they are sealed read-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_install: Vec<Hook>,
    /// Before the package is removed (its files read-only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_remove: Vec<Hook>,
    /// Seconds each command may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit: Option<u64>,
}

impl Hooks {
    /// No hook at all.
    pub fn is_empty(&self) -> bool {
        self.pre_install.is_empty() && self.post_install.is_empty() && self.pre_remove.is_empty()
    }
}

/// One hook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    /// A shell command line, run in the sandbox in the package's directory.
    Run(String),
    /// A message shown to the user.
    Warn(String),
}

/// `pandora.provenance`: what a package was built from, how, and by what.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
pub struct Provenance {
    /// The tool, `pandora VERSION`.
    pub builder: String,
    /// SHA-256 of the recipe (the manifest's `build` block, canonical JSON).
    pub recipe_sha256: String,
    /// Every input under `/build`: path -> SHA-256 (`x:` executable, `link:` a link's target).
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// Fetched sources: URL -> SHA-256.
    #[serde(default)]
    pub fetched: BTreeMap<String, String>,
    /// Build dependencies: `name@version` -> SHA-256 of their installed tree.
    #[serde(default)]
    pub build_dependencies: BTreeMap<String, String>,
    /// The sandbox the steps ran in: `off` (`--no-sandbox`) or its protections.
    pub sandbox: String,
    /// `SOURCE_DATE_EPOCH` as RFC 3339.
    pub time: String,
    /// The manifest's own `build_meta { ... }` fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub build_meta: BTreeMap<String, String>,
}

/// One `pandora.entry_points` entry: its own command, and variables set over `execution.env`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
pub struct EntryPoint {
    /// The command line, as `execution.command` is written (`{workenv}` and friends).
    pub command: String,
    /// Variables set for this entry point, after (and over) `execution.env`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

pub use pandora_core::hex::decode as decode_hex;

/// Lowercase hex of bytes (digests, keys, byte arrays), taken by reference.
pub fn encode_hex<T: AsRef<[u8]> + ?Sized>(bytes: &T) -> String {
    pandora_core::hex::encode(bytes.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flavorpack_go_metadata() {
        let json = r#"{"format":"PSPF/2025","format_version":"","package":{"name":"hello","version":"1.0.0","description":"test"},
            "slots":[{"slot":0,"id":"payload","source":"payload.tgz","target":"{workenv}","size":223,
            "checksum":"sha256:f3e574809f19f134687e972b4c0f05a4c41738f402092990b205686caa54cb77","operations":"tgz",
            "purpose":"payload","lifecycle":"runtime","resolution":"build","permissions":"0600"}],
            "execution":{"command":"{workenv}/bin/hello","env":{"GREETING":"hi"}},
            "verification":{"signed":false},"build":{"tool":"flavor-go","tool_version":"1.0.0","timestamp":"2023-11-14T22:13:20Z","deterministic":false}}"#;
        let metadata: Metadata = serde_json::from_str(json).unwrap();
        assert_eq!(metadata.package.name, "hello");
        assert_eq!(metadata.slots[0].sha256().unwrap()[0], 0xf3);
        assert_eq!(metadata.slots[0].mode(), 0o600);
        assert_eq!(metadata.execution.unwrap().env["GREETING"], "hi");
        assert!(metadata.pandora.is_none());
    }
}
