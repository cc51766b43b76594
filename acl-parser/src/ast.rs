//! The syntax tree: what was written, with spans, before references and expressions are
//! evaluated.

use std::sync::Arc;

use crate::document::Document;
use crate::source::{Source, Span};
use crate::value::{BinaryOperator, ScalarType, UnaryOperator, Value};

/// A parsed file. Its blocks and literal fields are already the resolved [`Document`]
/// (values type-checked as they were read); fields written as expressions or references are
/// kept aside until [`ParsedDocument::resolve`] evaluates them and writes their values in.
/// A registry index is almost all literals, so resolving it costs next to nothing.
#[derive(Debug, Clone)]
pub struct ParsedDocument {
    pub(crate) document: Document,
    pub(crate) pending: Vec<PendingField>,
}

impl ParsedDocument {
    /// The source text this document was parsed from.
    pub fn source(&self) -> &Arc<Source> {
        self.document
            .source()
            .expect("a parsed document always keeps its source")
    }

    /// How many fields still need evaluating (expressions and references).
    pub fn pending_fields(&self) -> usize {
        self.pending.len()
    }
}

/// A field whose value is an expression, with where it sits in the document: the index of
/// each enclosing block among its parent's entries, then the field's own index.
#[derive(Debug, Clone)]
pub(crate) struct PendingField {
    pub(crate) path: Vec<u32>,
    pub(crate) annotation: Option<TypeAnnotation>,
    pub(crate) value: Expr,
}

/// A declared field type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredType {
    /// `int`, `float`, `bool`, `string`.
    Scalar(ScalarType),
    /// `ref`: the value must be written as a reference.
    Ref,
}

impl DeclaredType {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            DeclaredType::Scalar(scalar) => scalar.keyword(),
            DeclaredType::Ref => "ref",
        }
    }
}

/// `type` or `type[]` before a field name.
#[derive(Debug, Clone, Copy)]
pub struct TypeAnnotation {
    /// Element type.
    pub base: DeclaredType,
    /// Whether `[]` follows.
    pub array: bool,
    /// Where it was written.
    pub span: Span,
}

impl TypeAnnotation {
    /// As written: `int`, `string[]`.
    pub fn display(&self) -> String {
        format!(
            "{}{}",
            self.base.keyword(),
            if self.array { "[]" } else { "" }
        )
    }
}

/// An expression with its span.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What kind of expression.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// Expression forms.
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// A literal value.
    Literal(Value),
    /// `{ a, b }`
    Array(Vec<Expr>),
    /// `$a.b`, `$.x`, `^x`, `x`
    Reference(Reference),
    /// `!x`, `-x`, `+x`
    Unary(UnaryOperator, Box<Expr>),
    /// `a op b`
    Binary(BinaryOperator, Box<Expr>, Box<Expr>),
    /// `(type) x`
    Cast(ScalarType, Box<Expr>),
    /// `c ? a : b`
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// Where a reference starts looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// `$Name...`: the document's top level.
    Global,
    /// `$.name`: the block holding the field.
    Local,
    /// `^name` (one `^` per level): that many blocks up from the one holding the field.
    Parent(usize),
    /// `name`, bare: the nearest field called `name`, looking in the block holding the field
    /// and then in each block around it, out to the top level.
    Nearest,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// `.name` (or the first name)
    Name(String),
    /// `["label"]`
    Label(String),
    /// `[index]`
    Index(usize),
}

/// A reference: an anchor and the steps from it.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Where the lookup starts.
    pub anchor: Anchor,
    /// The steps, each with its span.
    pub segments: Vec<(Segment, Span)>,
}
