//! A generation's manifest, `profiles/NAME/N/generation.acl`: which packages its forest holds
//! (in precedence order), how they are laid out (namespaces, recorded conflict winners) and
//! what changed, for `pandora profile history`, for the next generation and for pruning.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use acl_parser::{Block, Body, Document};

use super::ProfileError;

/// One generation of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generation {
    /// Its number, counting from 1.
    pub number: u64,
    /// Unix time it was made.
    pub created_at: i64,
    /// What changed, in words.
    pub description: String,
    /// The `name@version` of every package it holds, in precedence order.
    pub members: Vec<String>,
    /// Names of the packages installed as `TOP/NAME-VERSION/...`.
    pub namespaced: BTreeSet<String>,
    /// Path in the profile -> the package name that wins it over another that provides it too.
    pub overrides: BTreeMap<String, String>,
    /// Names of the packages the user asked for; the other members came as their
    /// dependencies. `None` in generations written before Pandora tracked it.
    pub requested: Option<BTreeSet<String>>,
    /// The generation that was current when this one was made (what it changed is measured
    /// against it); `None` for a profile's first, and in manifests older than this field.
    pub parent: Option<u64>,
}

impl Generation {
    /// The manifest as ACL.
    pub fn to_acl(&self) -> String {
        let mut block = Block::labelled("Generation", self.number.to_string())
            .with("created_at", self.created_at)
            .with("description", self.description.clone())
            .with("members", self.members.clone())
            .with(
                "namespaced",
                self.namespaced.iter().cloned().collect::<Vec<_>>(),
            );
        if let Some(requested) = &self.requested {
            block = block.with("requested", requested.iter().cloned().collect::<Vec<_>>());
        }
        if let Some(parent) = self.parent {
            block = block.with("parent", i64::try_from(parent).unwrap_or(i64::MAX));
        }
        for rule in override_blocks(&self.overrides) {
            block = block.with_block(rule);
        }
        format!(
            "// Pandora profile generation: written by Pandora.\n{}",
            Document::new().with_block(block)
        )
    }

    /// Reads the manifest of the generation directory `dir`.
    pub fn load(dir: &Path) -> Result<Generation, ProfileError> {
        let path = dir.join("generation.acl");
        let text = fs_err::read_to_string(&path).map_err(|source| {
            ProfileError::Io(pandora_core::IoError {
                action: "access",
                path: path.clone(),
                source,
            })
        })?;
        Generation::parse(&path.display().to_string(), &text).map_err(|source| {
            ProfileError::Manifest {
                path: path.clone(),
                source,
            }
        })
    }

    fn parse(name: &str, text: &str) -> Result<Generation, acl_parser::Error> {
        let document = acl_parser::from_str(name, text)?;
        let block = document
            .blocks("Generation")
            .next()
            .ok_or_else(|| document.error_at(None, "no `Generation` block"))?;
        let invalid =
            |what: &str| document.error_at(block.span(), format!("invalid generation: {what}"));
        let number = block
            .label()
            .and_then(|label| label.parse().ok())
            .ok_or_else(|| invalid("the label must be its number"))?;
        if block.field("members").is_none() {
            return Err(invalid("`members` is missing"));
        }
        let members = document.string_array(block, "members")?;
        let namespaced = document
            .string_array(block, "namespaced")?
            .into_iter()
            .collect();
        let overrides = read_overrides(&document, block)?;
        let requested = match block.field("requested") {
            Some(_) => Some(
                document
                    .string_array(block, "requested")?
                    .into_iter()
                    .collect(),
            ),
            None => None,
        };
        let parent = match block.field("parent") {
            None => None,
            Some(_) => Some(
                block
                    .get_int("parent")
                    .ok()
                    .and_then(|parent| u64::try_from(parent).ok())
                    .ok_or_else(|| invalid("`parent` must be a generation number"))?,
            ),
        };
        Ok(Generation {
            number,
            created_at: block
                .get_int("created_at")
                .map_err(|_| invalid("`created_at` must be an int"))?,
            description: block
                .get_str("description")
                .map_err(|_| invalid("`description` must be a string"))?
                .to_string(),
            members,
            namespaced,
            overrides,
            requested,
            parent,
        })
    }
}

/// Recorded conflict winners as blocks: `Override "PATH" { package = "NAME"; }`.
pub(super) fn override_blocks(
    overrides: &BTreeMap<String, String>,
) -> impl Iterator<Item = Block> + '_ {
    overrides.iter().map(|(path, winner)| {
        Block::labelled("Override", path.clone()).with("package", winner.clone())
    })
}

/// The `Override` blocks directly in `body`, as path -> package name.
pub(super) fn read_overrides(
    document: &Document,
    body: &Body,
) -> Result<BTreeMap<String, String>, acl_parser::Error> {
    let mut overrides = BTreeMap::new();
    for rule in body.blocks("Override") {
        match (rule.label(), rule.get_str("package")) {
            (Some(path), Ok(winner)) => {
                overrides.insert(path.to_string(), winner.to_string());
            }
            _ => {
                return Err(document.error_at(
                    rule.span(),
                    "an `Override` needs its path as label and `package`, a string",
                ))
            }
        }
    }
    Ok(overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips() {
        let generation = Generation {
            number: 7,
            created_at: 1_790_000_000,
            description: "installed hello@1.1.0 \"quoted\"".into(),
            members: vec!["hello@1.1.0".into(), "libgreet@2.0.0".into()],
            namespaced: BTreeSet::from(["libgreet".to_string()]),
            overrides: BTreeMap::from([("bin/a \"b\"".to_string(), "hello".to_string())]),
            requested: Some(BTreeSet::from(["hello".to_string()])),
            parent: Some(5),
        };
        let parsed = Generation::parse("test", &generation.to_acl()).unwrap();
        assert_eq!(parsed, generation);
    }

    #[test]
    fn a_manifest_without_a_numbered_label_is_refused() {
        let generation = Generation {
            number: 3,
            created_at: 0,
            description: String::new(),
            members: Vec::new(),
            namespaced: BTreeSet::new(),
            overrides: BTreeMap::new(),
            requested: None,
            parent: None,
        };
        let text = generation.to_acl();
        let damaged = text.replace("\"3\"", "\"three\"");
        assert_ne!(text, damaged);
        let error = Generation::parse("test", &damaged).unwrap_err();
        assert!(error.to_string().contains("number"), "{error}");
    }
}
