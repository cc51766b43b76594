//! Bounds on what evaluating a document may build, so that a small hostile file cannot expand
//! into gigabytes (`a1 = $.a0 + $.a0; a2 = $.a1 + $.a1; ...` doubles a string per line) or
//! nest deeply enough to overflow the stack.
//!
//! Sizes are measured in bytes, approximately what a value occupies in memory: a string counts
//! its length, an array counts [`ELEMENT_SIZE`] bytes per element plus the sizes of its
//! elements (recursively); ints, floats and bools count nothing beyond the slot they sit in.
//! The evaluator computes a result's size before building it, so memory stays within the
//! limits rather than being checked after the fact.

use crate::value::Value;

/// Bytes an array element counts for, besides its own contents: what a [`Value`] occupies on
/// a 64-bit platform. Fixed rather than `size_of`, so limits and messages do not vary by
/// platform.
pub const ELEMENT_SIZE: usize = 32;

/// Limits on evaluation, checked as values are built. [`Limits::default`] suits every file
/// Pandora reads (registry indexes of tens of thousands of packages, lockfiles, manifests,
/// install records) with a wide margin; [`crate::from_str`] and
/// [`crate::ParsedDocument::resolve`] use it.
///
/// What is not limited here is bounded by the input, whose size the caller controls: literal
/// values written in the file are taken as they are (a registry index is almost all literals),
/// and the parser refuses blocks nested more than 64 deep and expressions nested more than 128
/// deep.
///
/// ```
/// use acl_parser::{from_str_with_limits, ErrorKind, Limits};
///
/// let limits = Limits::default().with_max_value_size(3);
/// let error = from_str_with_limits("t.acl", "a = \"xx\"; b = $a + $a;", limits).unwrap_err();
/// assert_eq!(error.kind(), &ErrorKind::ValueTooLarge { size: 4, limit: 3 });
/// assert_eq!(error.location().map(|at| (at.line, at.column)), Some((1, 15)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest value evaluation may build or copy, in bytes (see the module documentation for
    /// how sizes are counted). Default [`Limits::DEFAULT_MAX_VALUE_SIZE`], 1 MiB.
    pub max_value_size: usize,
    /// Most bytes of values evaluation may produce for one document, summed over every value a
    /// reference copies and every string or array an operator, cast or array expression builds
    /// (including intermediate ones). Counting copies, not only the values finally stored,
    /// also bounds the time a document can make evaluation spend copying.
    /// Default [`Limits::DEFAULT_MAX_TOTAL_SIZE`], 64 MiB.
    pub max_total_size: usize,
    /// How deep evaluation may recurse: nested expressions plus chains of references to fields
    /// not yet evaluated. Each level is a few stack frames, so values far above the default
    /// give up the protection against stack overflow. Default [`Limits::DEFAULT_MAX_DEPTH`],
    /// 128.
    pub max_depth: usize,
    /// How deeply arrays may nest inside an evaluated value. Values are cloned, compared,
    /// written and dropped recursively, so this bounds the stack those need; the default keeps
    /// every value writable as text the parser reads back. Default
    /// [`Limits::DEFAULT_MAX_NESTING`], 32.
    pub max_nesting: usize,
}

impl Limits {
    /// 1 MiB: far more than any real field (a registry's longest value is a list of a few
    /// hundred versions), small enough that doubling a string stops after 20 steps.
    pub const DEFAULT_MAX_VALUE_SIZE: usize = 1 << 20;
    /// 64 MiB: a registry index resolves by copying next to nothing, so this only stops
    /// documents that copy large values over and over.
    pub const DEFAULT_MAX_TOTAL_SIZE: usize = 64 << 20;
    /// 128 levels of expressions and references.
    pub const DEFAULT_MAX_DEPTH: usize = 128;
    /// 32 levels of arrays within arrays.
    pub const DEFAULT_MAX_NESTING: usize = 32;

    /// The default limits, as a constant.
    pub const DEFAULT: Limits = Limits {
        max_value_size: Limits::DEFAULT_MAX_VALUE_SIZE,
        max_total_size: Limits::DEFAULT_MAX_TOTAL_SIZE,
        max_depth: Limits::DEFAULT_MAX_DEPTH,
        max_nesting: Limits::DEFAULT_MAX_NESTING,
    };

    /// Builder: sets [`Limits::max_value_size`].
    pub fn with_max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// Builder: sets [`Limits::max_total_size`].
    pub fn with_max_total_size(mut self, bytes: usize) -> Self {
        self.max_total_size = bytes;
        self
    }

    /// Builder: sets [`Limits::max_depth`].
    pub fn with_max_depth(mut self, levels: usize) -> Self {
        self.max_depth = levels;
        self
    }

    /// Builder: sets [`Limits::max_nesting`].
    pub fn with_max_nesting(mut self, levels: usize) -> Self {
        self.max_nesting = levels;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// A value's size in bytes and how deeply its arrays nest (0 for a scalar).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Measure {
    pub(crate) size: usize,
    pub(crate) nesting: usize,
}

impl Measure {
    /// Measures a value. Recursion is bounded: every value is either a literal (nested no
    /// deeper than the parser allows) or was checked against [`Limits::max_nesting`] when it
    /// was built.
    pub(crate) fn of(value: &Value) -> Measure {
        match value {
            Value::String(text) => Measure {
                size: text.len(),
                nesting: 0,
            },
            Value::Array(items) => {
                let mut measure = Measure {
                    size: items.len().saturating_mul(ELEMENT_SIZE),
                    nesting: 1,
                };
                for item in items {
                    let inner = Measure::of(item);
                    measure.size = measure.size.saturating_add(inner.size);
                    measure.nesting = measure.nesting.max(inner.nesting + 1);
                }
                measure
            }
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => Measure::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures() {
        let cases: Vec<(Value, Measure)> = vec![
            (Value::Int(7), Measure::default()),
            (Value::Bool(true), Measure::default()),
            ("".into(), Measure::default()),
            (
                "héllo".into(),
                Measure {
                    size: 6,
                    nesting: 0,
                },
            ),
            (
                Value::Array(vec![]),
                Measure {
                    size: 0,
                    nesting: 1,
                },
            ),
            (
                vec![1i64, 2, 3].into(),
                Measure {
                    size: 3 * ELEMENT_SIZE,
                    nesting: 1,
                },
            ),
            (
                Value::Array(vec!["ab".into(), vec!["cde"].into()]),
                Measure {
                    size: 2 * ELEMENT_SIZE + 2 + ELEMENT_SIZE + 3,
                    nesting: 2,
                },
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(Measure::of(&value), expected, "{value}");
        }
    }

    #[test]
    fn builders_set_each_limit() {
        let limits = Limits::default()
            .with_max_value_size(1)
            .with_max_total_size(2)
            .with_max_depth(3)
            .with_max_nesting(4);
        assert_eq!(
            (
                limits.max_value_size,
                limits.max_total_size,
                limits.max_depth,
                limits.max_nesting
            ),
            (1, 2, 3, 4)
        );
        assert_eq!(Limits::default(), Limits::DEFAULT);
    }
}
