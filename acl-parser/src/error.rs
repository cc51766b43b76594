//! Errors: what went wrong (an [`ErrorKind`] carrying the values involved), where (a
//! [`Location`] with the offending line) and, where one helps, what to do about it.

use std::fmt;

use crate::source::{Location, Source, Span};

/// Everything that can go wrong while reading, evaluating or querying ACL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A character that starts no token.
    #[error("unexpected character `{0}`")]
    UnexpectedCharacter(char),
    /// A string literal with no closing quote on its line.
    #[error("unterminated string literal")]
    UnterminatedString,
    /// A `/*` with no `*/`.
    #[error("unterminated block comment")]
    UnterminatedComment,
    /// A backslash escape C does not define, or a malformed one.
    #[error("invalid escape sequence `{0}`")]
    InvalidEscape(String),
    /// A number literal that is malformed or does not fit.
    #[error("invalid number literal `{0}`")]
    InvalidNumber(String),
    /// The parser wanted one thing and found another.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What would have been valid here.
        expected: String,
        /// What was there.
        found: String,
    },
    /// Blocks or expressions nested too deeply to be a real configuration.
    #[error("nesting is deeper than {0} levels")]
    TooDeep(usize),
    /// The same field name twice in one block.
    #[error("field `{0}` is defined more than once in this block")]
    DuplicateField(String),
    /// The same labelled block twice in one block.
    #[error("block `{name} \"{label}\"` is defined more than once")]
    DuplicateBlock {
        /// Block name.
        name: String,
        /// Its label.
        label: String,
    },
    /// A name used for a field and for a block in the same scope.
    #[error("`{0}` names both a field and a block in this scope")]
    NameClash(String),
    /// A typed field whose value has another type.
    #[error("`{name}` is declared `{declared}` but its value is {found}")]
    TypeMismatch {
        /// Field name.
        name: String,
        /// Declared type.
        declared: String,
        /// What the value turned out to be.
        found: String,
    },
    /// A binary operator applied to values it does not take.
    #[error("operator `{operator}` cannot be applied to {left} and {right}")]
    BadOperands {
        /// The operator.
        operator: String,
        /// Left operand, described.
        left: String,
        /// Right operand, described.
        right: String,
    },
    /// A unary operator applied to a value it does not take.
    #[error("operator `{operator}` cannot be applied to {operand}")]
    BadOperand {
        /// The operator.
        operator: String,
        /// The operand, described.
        operand: String,
    },
    /// `/` or `%` by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// Integer arithmetic that does not fit in 64 bits.
    #[error("integer overflow: {0}")]
    Overflow(String),
    /// A cast that has no meaningful result.
    #[error("cannot cast {value} to {target}")]
    BadCast {
        /// The value, described.
        value: String,
        /// The target type.
        target: String,
    },
    /// A reference whose target does not exist.
    #[error("reference `{reference}` does not resolve: {reason}")]
    UnresolvedReference {
        /// The reference as written.
        reference: String,
        /// Which step failed, and why.
        reason: String,
    },
    /// A bare name in an expression that names no field of its block or any block around it.
    #[error("unknown name `{name}`: there is no field `{name}` in {searched}")]
    UnknownName {
        /// The name as written.
        name: String,
        /// The blocks searched, innermost first, for example `` `A`, `B` or the top level``.
        searched: String,
    },
    /// A value evaluation would build (or copy) that is larger than [`crate::Limits`] allows.
    #[error("this value would be {size} bytes, over the limit of {limit} bytes for one value")]
    ValueTooLarge {
        /// The value's size, counted as [`crate::Limits`] describes.
        size: usize,
        /// [`crate::Limits::max_value_size`].
        limit: usize,
    },
    /// Evaluation producing more bytes of values in total than [`crate::Limits`] allows.
    #[error("evaluating this document would produce {size} bytes of values, over the limit of {limit} bytes")]
    EvaluationTooLarge {
        /// The total so far, including the value that crossed the limit.
        size: usize,
        /// [`crate::Limits::max_total_size`].
        limit: usize,
    },
    /// Fields whose values depend on each other.
    #[error("reference cycle: {0}")]
    ReferenceCycle(String),
    /// A `ref` field whose value is not written as a reference.
    #[error("`{0}` is declared `ref` but its value is not a reference")]
    NotAReference(String),
    /// A lookup path that is not valid path syntax.
    #[error("invalid path `{path}`: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A lookup path that names nothing.
    #[error("`{path}` not found: {reason}")]
    NotFound {
        /// The path as given.
        path: String,
        /// Which step failed, and why.
        reason: String,
    },
    /// A lookup that found a value of another type than the caller asked for.
    #[error("`{path}` is {found}, not {expected}")]
    WrongType {
        /// The path as given.
        path: String,
        /// The type the caller asked for.
        expected: String,
        /// What the value is.
        found: String,
    },
    /// A source too large for 32-bit spans.
    #[error("{file} is {size} bytes; ACL sources are limited to 4 GiB")]
    TooLarge {
        /// The source's name.
        file: String,
        /// Its size in bytes.
        size: usize,
    },
    /// A message from a caller validating a document (for example, an unknown field).
    #[error("{0}")]
    Custom(String),
}

/// An [`ErrorKind`] with the place it happened and an optional hint.
///
/// Boxed, so that `Result<T, Error>` stays the size of `T` plus a pointer on the parser's hot
/// path instead of carrying a hundred-byte error inline through every call.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(Box<Inner>);

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    location: Option<Location>,
    hint: Option<String>,
}

impl Error {
    /// An error with no position (for documents built in code).
    pub fn new(kind: ErrorKind) -> Self {
        Error(Box::new(Inner {
            kind,
            location: None,
            hint: None,
        }))
    }

    /// An error at `span` in `source`.
    pub fn at(kind: ErrorKind, source: &Source, span: Span) -> Self {
        Error(Box::new(Inner {
            kind,
            location: Some(source.locate(span)),
            hint: None,
        }))
    }

    /// Adds a hint line telling the reader what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Where, if known.
    pub fn location(&self) -> Option<&Location> {
        self.0.location.as_ref()
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }
}

impl fmt::Display for Error {
    /// `message`, then (when known) the file position and the line with a caret, then the hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.kind)?;
        if let Some(location) = &self.0.location {
            write!(f, "\n{location}")?;
        }
        if let Some(hint) = &self.0.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
