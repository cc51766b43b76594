//! ACL2, the configuration language every file Pandora reads or writes is written in
//! (`registries.acl`, `index.acl`, `manifest.acl`, lockfiles).
//!
//! ```text
//! Registry "main" {                          // a labelled block
//!     string url = "https://example.org/";   // a typed field
//!     int priority = 100 + 5;                // expressions, C precedence
//!     string[] keys = { "ed25519:..." };     // arrays
//!     mirror = $.url + "mirror/";            // inferred type, local reference
//!     backup = url + "backup/";              // a bare name: the nearest field called `url`
//!     Package "jq" { latest = ^priority > 100 ? "1.7.1" : "1.6"; }  // parent reference
//! }
//! ```
//!
//! A bare name in an expression (`url`, `versions[0]`) is the nearest field of that name: in
//! the block holding the expression, else in the block around that, out to the top level.
//! `$.name` looks only in the holding block, `^name` only in its parent, `$Block.name` from the
//! top level. `true` and `false` are values, never names; `null` and the type keywords are
//! refused (a field called `int` is written `$.int`).
//!
//! The pipeline is [`parse`] (text to a [`ParsedDocument`] that keeps spans), then
//! [`ParsedDocument::resolve`] (references and expressions evaluated, declared types checked)
//! to a [`Document`] of plain [`Value`]s, which is queried by path
//! ([`Body::get_str`]`("Registry.Package[\"jq\"].latest")`) and written back as canonical ACL
//! by its `Display` implementation. Documents can also be built in code.
//!
//! Every error carries the file, line and column and renders the offending line with a caret;
//! no input makes this crate panic (nesting and reference chains are bounded).
//!
//! Evaluation is bounded by [`Limits`] so that a small hostile file cannot expand into
//! gigabytes or overflow the stack: by default no value evaluation builds may exceed 1 MiB,
//! evaluation may produce at most 64 MiB of values per document, recursion stops at 128 levels
//! and arrays nest at most 32 deep. [`from_str`] and [`ParsedDocument::resolve`] use the
//! defaults; [`from_str_with_limits`], [`from_source_with_limits`] and
//! [`ParsedDocument::resolve_with_limits`] take others. Exceeding a limit is an ordinary error
//! at the expression that would have exceeded it.
#![deny(missing_docs)]

mod ast;
mod document;
mod error;
mod eval;
mod hash;
mod lexer;
mod limits;
mod parser;
mod path;
mod source;
mod value;

pub use ast::{
    Anchor, DeclaredType, Expr, ExprKind, ParsedDocument, Reference, Segment, TypeAnnotation,
};
pub use document::{is_identifier, Block, Body, Document, Entry, Field};
pub use error::{Error, ErrorKind, Result};
pub use limits::{Limits, ELEMENT_SIZE};
pub use parser::parse;
pub use path::{format_path, parse_path};
pub use source::{Location, Position, Source, Span, MAX_SOURCE_LEN};
pub use value::{BinaryOperator, ScalarType, UnaryOperator, Value};

impl ParsedDocument {
    /// Evaluates every expression and reference and checks declared types, within the default
    /// [`Limits`].
    pub fn resolve(self) -> Result<Document> {
        self.resolve_with_limits(Limits::default())
    }

    /// Evaluates every expression and reference and checks declared types, within `limits`.
    pub fn resolve_with_limits(self, limits: Limits) -> Result<Document> {
        eval::resolve(self, limits)
    }
}

/// Parses and resolves in one step, within the default [`Limits`].
pub fn from_str(name: &str, text: &str) -> Result<Document> {
    parse(name, text)?.resolve()
}

/// Parses and resolves in one step, within `limits`.
pub fn from_str_with_limits(name: &str, text: &str, limits: Limits) -> Result<Document> {
    parse(name, text)?.resolve_with_limits(limits)
}

/// Parses and resolves text the caller owns (for example, a file just read), without copying it.
pub fn from_string(name: &str, text: String) -> Result<Document> {
    from_source(Source::new(name, text))
}

/// Parses and resolves a source that is already wrapped (keeps one copy of the text).
pub fn from_source(source: std::sync::Arc<Source>) -> Result<Document> {
    from_source_with_limits(source, Limits::default())
}

/// [`from_source`] within `limits` (`Source::new(name, text)` wraps text the caller owns).
pub fn from_source_with_limits(source: std::sync::Arc<Source>, limits: Limits) -> Result<Document> {
    parser::parse_source(source)?.resolve_with_limits(limits)
}
