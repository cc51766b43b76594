//! Lockfiles: every package a profile's generation holds, with the SHA-256 of the exact package
//! file it was installed from and the registry it came from, plus the layout rules (namespaces,
//! conflict winners), sorted by name so the same profile always gives the same bytes.
//! `pandora sync` rebuilds a profile from one, here or on another machine.

use pandora_core::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use acl_parser::{Block, Document};

use super::generation::{override_blocks, read_overrides};
use super::ProfileError;
use crate::format::metadata::{decode_hex, encode_hex};
use crate::store::Record;

/// The only lockfile version there is.
const VERSION: i64 = 1;

/// One locked package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// Name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// SHA-256 of the `.psp` it was installed from.
    pub sha256: Sha256,
    /// The registry it came from; `None` for a package installed from a file.
    pub registry: Option<String>,
    /// Where it was downloaded from (or the file), for the record.
    pub source: String,
}

impl Locked {
    /// `name@version`.
    pub fn id(&self) -> String {
        pandora_core::id::id(&self.name, &self.version)
    }
}

/// A profile's lockfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lockfile {
    /// The packages, sorted by name.
    pub packages: Vec<Locked>,
    /// Names of the packages installed as `TOP/NAME-VERSION/...`.
    pub namespaced: BTreeSet<String>,
    /// Path -> the package name that wins it.
    pub overrides: BTreeMap<String, String>,
}

impl Lockfile {
    /// The lockfile of a generation of `members`.
    pub fn of(
        members: &[Record],
        namespaced: &BTreeSet<String>,
        overrides: &BTreeMap<String, String>,
    ) -> Lockfile {
        let mut packages: Vec<Locked> = members
            .iter()
            .map(|record| Locked {
                name: record.name.clone(),
                version: record.version.clone(),
                sha256: record.blob,
                registry: record.registry.clone(),
                source: record.source.clone(),
            })
            .collect();
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        Lockfile {
            packages,
            namespaced: namespaced.clone(),
            overrides: overrides.clone(),
        }
    }

    /// The lockfile as ACL.
    pub fn to_acl(&self) -> String {
        let header = Block::new("Lockfile").with("version", VERSION).with(
            "namespaced",
            self.namespaced.iter().cloned().collect::<Vec<_>>(),
        );
        let mut document = Document::new().with_block(header);
        for locked in &self.packages {
            let mut block = Block::labelled("Package", locked.name.clone())
                .with("version", locked.version.clone())
                .with("sha256", encode_hex(&locked.sha256));
            if let Some(registry) = &locked.registry {
                block = block.with("registry", registry.clone());
            }
            document = document.with_block(block.with("source", locked.source.clone()));
        }
        for rule in override_blocks(&self.overrides) {
            document = document.with_block(rule);
        }
        format!(
            "// Pandora lockfile: written by Pandora. `pandora sync --lockfile FILE` rebuilds the profile.\n{document}"
        )
    }

    /// Reads a lockfile.
    pub fn load(path: &Path) -> Result<Lockfile, ProfileError> {
        let text = fs_err::read_to_string(path).map_err(|source| {
            ProfileError::Io(pandora_core::IoError {
                action: "access",
                path: path.to_path_buf(),
                source,
            })
        })?;
        Lockfile::parse(&path.display().to_string(), &text).map_err(|source| {
            ProfileError::Manifest {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Parses lockfile text; `name` is used in error locations.
    pub fn parse(name: &str, text: &str) -> Result<Lockfile, acl_parser::Error> {
        let document = acl_parser::from_str(name, text)?;
        let header = document
            .blocks("Lockfile")
            .next()
            .ok_or_else(|| document.error_at(None, "no `Lockfile` block: is this a lockfile?"))?;
        let version = header
            .get_int("version")
            .map_err(|_| document.error_at(header.span(), "`version` must be an int"))?;
        if version != VERSION {
            return Err(document.error_at(
                header.span(),
                format!("lockfile version {version} is not one this Pandora reads ({VERSION})"),
            ));
        }
        let mut lockfile = Lockfile {
            namespaced: document
                .string_array(header, "namespaced")?
                .into_iter()
                .collect(),
            ..Lockfile::default()
        };
        for block in document.blocks("Package") {
            let invalid = |what: &str| {
                document.error_at(block.span(), format!("invalid locked package: {what}"))
            };
            let name = block
                .label()
                .ok_or_else(|| invalid("the label must be its name"))?;
            pandora_core::id::validate_name(name).map_err(|reason| invalid(&reason))?;
            let version = block
                .get_str("version")
                .map_err(|_| invalid("`version` must be a string"))?;
            pandora_core::id::validate_version(version).map_err(|reason| invalid(&reason))?;
            let sha256 = block
                .get_str("sha256")
                .ok()
                .and_then(decode_hex)
                .ok_or_else(|| invalid("`sha256` must be 64 hex digits"))?;
            let registry = match block.field("registry") {
                None => None,
                Some(_) => Some(
                    block
                        .get_str("registry")
                        .map_err(|_| invalid("`registry` must be a string"))?
                        .to_string(),
                ),
            };
            lockfile.packages.push(Locked {
                name: name.to_string(),
                version: version.to_string(),
                sha256: sha256.into(),
                registry,
                source: block.get_str("source").unwrap_or_default().to_string(),
            });
        }
        lockfile.overrides = read_overrides(&document, &document)?;
        lockfile.packages.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(lockfile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lockfile {
        Lockfile {
            packages: vec![
                Locked {
                    name: "hello".into(),
                    version: "1.1.0".into(),
                    sha256: [0xab; 32].into(),
                    registry: Some("main".into()),
                    source: "http://127.0.0.1:1/hello-1.1.0.psp".into(),
                },
                Locked {
                    name: "local".into(),
                    version: "0.1.0".into(),
                    sha256: [1; 32].into(),
                    registry: None,
                    source: "/tmp/local.psp".into(),
                },
            ],
            namespaced: BTreeSet::from(["local".to_string()]),
            overrides: BTreeMap::from([("bin/tool".to_string(), "hello".to_string())]),
        }
    }

    #[test]
    fn a_lockfile_round_trips() {
        let lockfile = sample();
        assert_eq!(
            Lockfile::parse("test", &lockfile.to_acl()).unwrap(),
            lockfile
        );
        let empty = Lockfile::default();
        assert_eq!(Lockfile::parse("test", &empty.to_acl()).unwrap(), empty);
    }

    #[test]
    fn damaged_lockfiles_are_refused_with_the_reason() {
        let text = sample().to_acl();
        for (from, to, reason) in [
            ("version = 1", "version = 2", "lockfile version 2"),
            (&"ab".repeat(32), "abc", "64 hex digits"),
            ("\"1.1.0\"", "\"1.1.0 beta\"", "invalid locked package"),
            ("Package \"local\"", "Package \"hello\"", "more than once"),
        ] {
            let damaged = text.replacen(from, to, 1);
            assert_ne!(damaged, text, "{from}");
            let error = Lockfile::parse("test", &damaged).unwrap_err().to_string();
            assert!(error.contains(reason), "{from}: {error}");
        }
    }
}
