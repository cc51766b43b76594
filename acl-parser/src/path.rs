//! Walking a path (`Registry.Package["jq"].Version["1.7.1"].sha256`, `modules[0]`) through a
//! tree of blocks. The evaluator (over unevaluated fields) and [`crate::Document`] lookups
//! (over resolved values) share these rules, so a reference and a lookup mean the same thing.

use crate::ast::Segment;
use crate::error::{Error, ErrorKind, Result};
use crate::parser::Parser;
use crate::source::Source;
use crate::value::Value;

/// What a name denotes inside one block.
pub(crate) enum Member<B, F> {
    Field(F),
    /// Every block with that name, in source order (never empty).
    Blocks(Vec<B>),
}

/// A tree the walker can navigate.
pub(crate) trait Tree {
    type Block: Clone;
    type Field;
    fn member(&self, block: Self::Block, name: &str) -> Option<Member<Self::Block, Self::Field>>;
    fn label(&self, block: Self::Block) -> Option<String>;
    /// How a block reads in messages, for example `Registry "main"` or `the top level`.
    fn describe(&self, block: Self::Block) -> String;
}

/// Where a walk ended.
pub(crate) enum Target<B, F> {
    /// A field; the segments from the index on still apply to its value (array indexes).
    Field(F, usize),
    /// One or more blocks.
    Blocks(Vec<B>),
}

/// Follows `segments` from `start`. Errors are the reason, for the caller to wrap.
pub(crate) fn walk<T: Tree>(
    tree: &T,
    start: T::Block,
    segments: &[Segment],
) -> Result<Target<T::Block, T::Field>, String> {
    let mut blocks = vec![start];
    let mut name = String::new();
    for (position, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Name(next) => {
                let [block] = &blocks[..] else {
                    return Err(format!(
                        "there are {} `{name}` blocks; pick one with [\"label\"] or [index]",
                        blocks.len()
                    ));
                };
                match tree.member(block.clone(), next) {
                    None => {
                        return Err(format!(
                            "{} has no field or block `{next}`",
                            tree.describe(block.clone())
                        ))
                    }
                    Some(Member::Field(field)) => return Ok(Target::Field(field, position + 1)),
                    Some(Member::Blocks(found)) => blocks = found,
                }
                name.clone_from(next);
            }
            Segment::Label(label) => {
                blocks.retain(|block| tree.label(block.clone()).as_deref() == Some(label.as_str()));
                if blocks.is_empty() {
                    return Err(format!("no `{name}` block is labelled \"{label}\""));
                }
            }
            Segment::Index(index) => match blocks.get(*index) {
                Some(block) => blocks = vec![block.clone()],
                None => {
                    return Err(format!(
                        "index {index} is out of range: there are {} `{name}` blocks",
                        blocks.len()
                    ))
                }
            },
        }
    }
    Ok(Target::Blocks(blocks))
}

/// Applies the segments left after a field (array indexes) to its value.
pub(crate) fn index_value<'v>(mut value: &'v Value, rest: &[Segment]) -> Result<&'v Value, String> {
    for segment in rest {
        value = match (segment, value) {
            (Segment::Index(index), Value::Array(items)) => items.get(*index).ok_or_else(|| {
                format!(
                    "index {index} is out of range for an array of {} items",
                    items.len()
                )
            })?,
            (Segment::Index(_), other) => {
                return Err(format!("{} cannot be indexed", other.describe()))
            }
            (Segment::Name(name), other) => {
                return Err(format!(
                    "{} is a value, not a block with a `{name}`",
                    other.describe()
                ))
            }
            (Segment::Label(label), other) => {
                return Err(format!(
                    "{} is a value, not blocks labelled \"{label}\"",
                    other.describe()
                ))
            }
        };
    }
    Ok(value)
}

/// Parses a lookup path such as `Registry.Package["jq"].Version["1.7.1"].sha256`.
pub fn parse_path(path: &str) -> Result<Vec<Segment>> {
    let source = Source::new("path", path);
    Parser::new(&source).path().map_err(|error| {
        let reason = match error.kind() {
            ErrorKind::Expected { expected, found } => {
                format!("expected {expected}, found {found}")
            }
            other => other.to_string(),
        };
        Error::new(ErrorKind::InvalidPath {
            path: path.to_string(),
            reason,
        })
        .with_hint("paths look like `Block.field`, `Block[\"label\"].field` or `field[0]`")
    })
}

/// Writes a path back in the syntax `parse_path` reads.
pub fn format_path(segments: &[Segment]) -> String {
    let mut text = String::new();
    for segment in segments {
        match segment {
            Segment::Name(name) if text.is_empty() => text.push_str(name),
            Segment::Name(name) => {
                text.push('.');
                text.push_str(name);
            }
            Segment::Label(label) => text.push_str(&format!("[{}]", Value::String(label.clone()))),
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for path in [
            "a",
            "a.b",
            "Registry.Package[\"jq\"].Version[\"1.7.1\"].sha256",
            "modules[0]",
            "x[\"a\\\"b\"][2]",
        ] {
            assert_eq!(format_path(&parse_path(path).unwrap()), path);
        }
    }

    #[test]
    fn bad_paths() {
        for path in ["", ".a", "a.", "a[", "a[x]", "a b", "$a", "a[\"x\""] {
            let error = parse_path(path).unwrap_err();
            assert!(
                matches!(error.kind(), ErrorKind::InvalidPath { .. }),
                "{path}: {error}"
            );
        }
    }
}
