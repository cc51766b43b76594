//! `pandora verify --provenance FILE.psp`: the attestation a package carries (SBOM and
//! provenance) against its signed metadata and its index, and the provenance against what this
//! machine has: fetched sources in the source cache, installed build dependencies.

use std::io::Read;
use std::path::Path;

use super::verify::{Check, Status};
use super::{Error, Result};
use crate::build::sbom::ATTESTATION;
use crate::format::metadata::{encode_hex, Provenance};
use crate::format::package::{Package, Scope};
use crate::layout::Layout;

/// Largest attestation read (an SBOM of a very large package still fits).
const ATTESTATION_LIMIT: u64 = 64 << 20;

fn line(status: Status, name: &str, detail: impl Into<String>) -> Check {
    Check {
        status,
        name: name.to_string(),
        detail: detail.into(),
    }
}

/// The provenance checks for the (already verified) package `file`.
pub fn check(layout: &Layout, file: &Path) -> Result<Vec<Check>> {
    let package = Package::open(file)?;
    let verified = package.verified(Scope::Full)?;
    let pandora = verified.metadata.pandora.clone().unwrap_or_default();
    let mut checks = Vec::new();
    let slot = verified.slots.iter().find(|slot| slot.id == ATTESTATION);
    let index_digest = package
        .index()
        .sbom_digest
        .map(|digest| String::from_utf8_lossy(&digest).into_owned());
    match (slot, &pandora.attestation_sha256) {
        (Some(slot), Some(signed)) => {
            let stored = encode_hex(&slot.sha256);
            let agree = &stored == signed && index_digest.as_deref() == Some(signed.as_str());
            checks.push(line(
                if agree { Status::Ok } else { Status::Fail },
                "attestation",
                if agree {
                    format!("sha256:{signed} (slot, signed metadata and index offset 1440 agree)")
                } else {
                    format!(
                        "slot sha256:{stored}, signed metadata sha256:{signed}, index {}",
                        index_digest.as_deref().unwrap_or("empty")
                    )
                },
            ));
            let mut bytes = Vec::new();
            package
                .slot_reader(&slot.descriptor)
                .take(ATTESTATION_LIMIT)
                .read_to_end(&mut bytes)
                .map_err(|source| {
                    Error::Io(pandora_core::IoError {
                        action: "read",
                        path: file.to_path_buf(),
                        source,
                    })
                })?;
            let document: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let sbom_ok = document["sbom"]["spdxVersion"] == "SPDX-2.3";
            checks.push(line(
                if sbom_ok { Status::Ok } else { Status::Fail },
                "sbom",
                if sbom_ok {
                    format!(
                        "SPDX 2.3, {} file(s)",
                        document["sbom"]["files"].as_array().map_or(0, Vec::len)
                    )
                } else {
                    "the attestation holds no SPDX 2.3 SBOM".to_string()
                },
            ));
            let carried: Option<Provenance> =
                serde_json::from_value(document["provenance"].clone()).ok();
            if carried != pandora.provenance {
                checks.push(line(
                    Status::Fail,
                    "provenance",
                    "the attestation's provenance differs from the signed metadata's",
                ));
            }
        }
        _ => checks.push(line(
            Status::Fail,
            "attestation",
            "the package carries no attestation (built by something other than `pandora build`)",
        )),
    }
    let Some(provenance) = &pandora.provenance else {
        checks.push(line(
            Status::Fail,
            "provenance",
            "none recorded: the package was not built by `pandora build`",
        ));
        return Ok(checks);
    };
    checks.push(line(
        Status::Ok,
        "provenance",
        format!(
            "built by {} at {}; sandbox: {}",
            provenance.builder, provenance.time, provenance.sandbox
        ),
    ));
    if provenance.sandbox.starts_with("off") {
        checks.push(line(
            Status::Note,
            "sandbox",
            "built with --no-sandbox: the steps ran on the builder's machine without isolation",
        ));
    }
    for (url, sha256) in &provenance.fetched {
        let cached = layout.cache_dir().join("sources").join(sha256);
        let found =
            crate::registry::download::file_sha256(&cached).map(|digest| encode_hex(&digest));
        checks.push(match found {
            Ok(found) if &found == sha256 => line(
                Status::Ok,
                "fetched",
                format!("{url} sha256:{sha256} (cached here)"),
            ),
            Ok(found) => line(
                Status::Fail,
                "fetched",
                format!("{url}: the cached copy hashes to {found}, the provenance says {sha256}"),
            ),
            Err(_) => line(
                Status::Skip,
                "fetched",
                format!("{url}: not in this machine's source cache"),
            ),
        });
    }
    for (pin, digest) in &provenance.build_dependencies {
        let entry = layout.store_dir().join(pin);
        checks.push(if entry.is_dir() {
            let found = super::source_build::tree_sha256(&entry)?;
            if &found == digest {
                line(
                    Status::Ok,
                    "build dependency",
                    format!("{pin}: the installed tree matches"),
                )
            } else {
                line(
                    Status::Fail,
                    "build dependency",
                    format!(
                        "{pin}: the installed tree hashes to {found}, the provenance says {digest}"
                    ),
                )
            }
        } else {
            line(
                Status::Skip,
                "build dependency",
                format!("{pin}: not installed here"),
            )
        });
    }
    checks.push(line(
        Status::Note,
        "inputs",
        format!(
            "{} input file(s) recorded; `pandora build --verify-reproducible DIR` rebuilds from them",
            provenance.inputs.len()
        ),
    ));
    Ok(checks)
}
