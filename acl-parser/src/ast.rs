//! The syntax tree: what was written, with spans, before references and expressions are
//! evaluated.

use std::sync::Arc;

use crate::source::{Source, Span};
use crate::value::{BinaryOperator, ScalarType, UnaryOperator, Value};

/// A parsed file: its items and the source they came from.
#[derive(Debug, Clone)]
pub struct ParsedDocument {
    pub(crate) source: Arc<Source>,
    pub(crate) items: Vec<Item>,
}

impl ParsedDocument {
    /// The source text this document was parsed from.
    pub fn source(&self) -> &Arc<Source> {
        &self.source
    }

    /// Top-level items in source order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }
}

/// A block or a field.
#[derive(Debug, Clone)]
pub enum Item {
    /// `Name "label"? { ... }`
    Block(BlockDecl),
    /// `type? name = expr;`
    Field(FieldDecl),
}

/// A name with its span.
#[derive(Debug, Clone)]
pub struct Name {
    /// The identifier.
    pub text: String,
    /// Where it was written.
    pub span: Span,
}

/// A block as written.
#[derive(Debug, Clone)]
pub struct BlockDecl {
    /// Block name.
    pub name: Name,
    /// Optional label, with the span of its string literal.
    pub label: Option<(String, Span)>,
    /// Contents in source order.
    pub items: Vec<Item>,
    /// From the name to the closing brace.
    pub span: Span,
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

/// A field as written.
#[derive(Debug, Clone)]
pub struct FieldDecl {
    /// Declared type, if any.
    pub annotation: Option<TypeAnnotation>,
    /// Field name.
    pub name: Name,
    /// The value expression.
    pub value: Expr,
    /// From the type (or name) to the semicolon.
    pub span: Span,
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
    /// `$a.b`, `$.x`, `^x`
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
