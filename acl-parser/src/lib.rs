//! ACL2, the configuration language every file Pandora reads or writes is written in
//! (`registries.acl`, `index.acl`, `manifest.acl`, lockfiles).
//!
//! ```text
//! Registry "main" {                          // a labelled block
//!     string url = "https://example.org/";   // a typed field
//!     int priority = 100 + 5;                // expressions, C precedence
//!     string[] keys = { "ed25519:..." };     // arrays
//!     mirror = $.url + "mirror/";            // inferred type, local reference
//!     Package "jq" { latest = ^priority > 100 ? "1.7.1" : "1.6"; }  // parent reference
//! }
//! ```
//!
//! The pipeline is [`parse`] (text to a [`ParsedDocument`] that keeps spans), then
//! [`ParsedDocument::resolve`] (references and expressions evaluated, declared types checked)
//! to a [`Document`] of plain [`Value`]s, which is queried by path
//! ([`Body::get_str`]`("Registry.Package[\"jq\"].latest")`) and written back as canonical ACL
//! by its `Display` implementation. Documents can also be built in code.
//!
//! Every error carries the file, line and column and renders the offending line with a caret;
//! no input makes this crate panic (nesting and reference chains are bounded).
#![deny(missing_docs)]

mod ast;
mod document;
mod error;
mod eval;
mod hash;
mod lexer;
mod parser;
mod path;
mod source;
mod value;

pub use ast::{
    Anchor, DeclaredType, Expr, ExprKind, ParsedDocument, Reference, Segment, TypeAnnotation,
};
pub use document::{is_identifier, Block, Body, Document, Entry, Field};
pub use error::{Error, ErrorKind, Result};
pub use parser::parse;
pub use path::{format_path, parse_path};
pub use source::{Location, Position, Source, Span, MAX_SOURCE_LEN};
pub use value::{BinaryOperator, ScalarType, UnaryOperator, Value};

impl ParsedDocument {
    /// Evaluates every expression and reference and checks declared types.
    pub fn resolve(self) -> Result<Document> {
        eval::resolve(self)
    }
}

/// Parses and resolves in one step.
pub fn from_str(name: &str, text: &str) -> Result<Document> {
    parse(name, text)?.resolve()
}

/// Parses and resolves text the caller owns (for example, a file just read), without copying it.
pub fn from_string(name: &str, text: String) -> Result<Document> {
    from_source(Source::new(name, text))
}

/// Parses and resolves a source that is already wrapped (keeps one copy of the text).
pub fn from_source(source: std::sync::Arc<Source>) -> Result<Document> {
    parser::parse_source(source)?.resolve()
}
