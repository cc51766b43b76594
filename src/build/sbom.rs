//! The SBOM every build writes: SPDX 2.3 JSON naming the package, every file with its SHA-1
//! (SPDX requires it) and SHA-256, its license, its dependencies and build dependencies as
//! package URLs, and the builder. It travels in the package inside the attestation
//! ([`ATTESTATION`]), a raw slot of its own whose checksum the signed metadata carries; the
//! attestation's SHA-256 is in the metadata and the index (offset 1440).

use std::io::Read;
use std::path::Path;

use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{BuildError, EntryKind, Manifest, TreeEntry};
use crate::format::metadata::encode_hex;

/// The attestation's slot and file name: `{"provenance": ..., "sbom": SPDX}` at the top of a
/// package's tree (and so of an installed store entry), as FlavorPack's builders write it.
pub const ATTESTATION: &str = "_attestation";

/// The attestation's bytes: compact JSON, the SBOM under `sbom`, the provenance (or `null`)
/// under `provenance`.
pub fn attestation(
    sbom: &Value,
    provenance: Option<&crate::format::metadata::Provenance>,
) -> Vec<u8> {
    let document = json!({ "provenance": provenance, "sbom": sbom });
    serde_json::to_vec(&document).expect("JSON values serialise")
}

/// The SBOM inside attestation bytes.
pub fn sbom_of(attestation: &[u8]) -> Option<Value> {
    let mut document: Value = serde_json::from_slice(attestation).ok()?;
    Some(document.get_mut("sbom")?.take())
}

/// The SPDX document for `entries` under `root` (deterministic: no wall-clock time, fields in
/// a fixed order).
pub fn spdx(
    manifest: &Manifest,
    root: &Path,
    entries: &[TreeEntry],
    build_dependencies: &[String],
    timestamp: u64,
) -> Result<Value, BuildError> {
    let mut files = Vec::new();
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Package",
    })];
    let mut sha1_of_files = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if !matches!(entry.kind, EntryKind::File { .. }) {
            continue;
        }
        let path = root.join(&entry.relative);
        let (sha1, sha256) = digests(&path)?;
        let id = format!("SPDXRef-File-{index}");
        sha1_of_files.push(sha1.clone());
        files.push(json!({
            "SPDXID": id,
            "fileName": format!("./{}", entry.relative.display()),
            "checksums": [
                { "algorithm": "SHA1", "checksumValue": sha1 },
                { "algorithm": "SHA256", "checksumValue": sha256 },
            ],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Package",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    // SPDX 2.3 §7.9: SHA-1 of the sorted, concatenated SHA-1s of the package's files.
    sha1_of_files.sort();
    let verification = encode_hex(&Sha1::digest(sha1_of_files.concat().as_bytes()));
    let license = manifest
        .license
        .clone()
        .unwrap_or_else(|| "NOASSERTION".to_string());
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Package",
        "name": manifest.name,
        "versionInfo": manifest.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": true,
        "packageVerificationCode": { "packageVerificationCodeValue": verification },
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": license,
        "copyrightText": "NOASSERTION",
        "externalRefs": [purl(&manifest.name, &manifest.version)],
    })];
    if let Some(description) = &manifest.description {
        packages[0]["summary"] = Value::String(description.clone());
    }
    for (kind, pins) in [
        ("DEPENDS_ON", &manifest.dependencies),
        ("BUILD_DEPENDENCY_OF", &build_dependencies.to_vec()),
    ] {
        for pin in pins {
            let (name, version) = pandora_core::id::split_id(pin).unwrap_or((pin.as_str(), ""));
            let id = format!("SPDXRef-Dependency-{}", sanitize(pin));
            packages.push(json!({
                "SPDXID": id,
                "name": name,
                "versionInfo": version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "externalRefs": [purl(name, version)],
            }));
            relationships.push(if kind == "DEPENDS_ON" {
                json!({ "spdxElementId": "SPDXRef-Package", "relationshipType": kind, "relatedSpdxElement": id })
            } else {
                json!({ "spdxElementId": id, "relationshipType": kind, "relatedSpdxElement": "SPDXRef-Package" })
            });
        }
    }
    let content_digest = encode_hex(&Sha256::digest(
        serde_json::to_vec(&files).expect("JSON values serialise"),
    ));
    let document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}-{}", manifest.name, manifest.version),
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/pandora/{}-{}-{}",
            manifest.name, manifest.version, content_digest
        ),
        "creationInfo": {
            "created": pandora_core::time::rfc3339(timestamp),
            "creators": [format!("Tool: pandora-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "files": files,
        "relationships": relationships,
    });
    Ok(document)
}

fn purl(name: &str, version: &str) -> Value {
    json!({
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": format!("pkg:generic/{name}@{version}"),
    })
}

/// SPDX identifiers allow letters, digits, `.` and `-`.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn digests(path: &Path) -> Result<(String, String), BuildError> {
    let mut file = fs_err::File::open(path).map_err(|source| BuildError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let (mut sha1, mut sha256) = (Sha1::new(), Sha256::new());
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|source| BuildError::Unreadable {
                path: path.to_path_buf(),
                source,
            })?;
        if read == 0 {
            return Ok((encode_hex(&sha1.finalize()), encode_hex(&sha256.finalize())));
        }
        sha1.update(&buffer[..read]);
        sha256.update(&buffer[..read]);
    }
}
