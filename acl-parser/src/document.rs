//! Resolved documents: blocks and fields holding plain [`Value`]s. They come from
//! [`crate::ParsedDocument::resolve`] or are built in code, are queried by path, and are
//! written back as canonical ACL by their `Display` implementation.

use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::ast::Segment;
use crate::error::{Error, ErrorKind, Result};
use crate::path::{self, Member, Target, Tree};
use crate::source::{Source, Span};
use crate::value::{ScalarType, Value};

/// A resolved document: its top-level entries, and the source it came from (if parsed) so
/// callers can report problems with a caret under the offending text.
#[derive(Debug, Clone, Default)]
pub struct Document {
    body: Body,
    source: Option<Arc<Source>>,
}

/// The contents of a block (or of the top level): fields and blocks in order.
#[derive(Debug, Clone, Default)]
pub struct Body {
    entries: Vec<Entry>,
}

/// One entry of a [`Body`].
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// `name = value;`
    Field(Field),
    /// `Name "label" { ... }` (boxed: blocks are few, fields many, and every entry is as
    /// large as the largest variant)
    Block(Box<Block>),
}

/// A field with its resolved value.
#[derive(Debug, Clone)]
pub struct Field {
    name: Arc<str>,
    value: Value,
    span: Option<Span>,
}

/// A block: name, optional label and contents.
#[derive(Debug, Clone)]
pub struct Block {
    name: Arc<str>,
    label: Option<String>,
    body: Body,
    span: Option<Span>,
}

// Equality is about content: where something was written does not change what it means.
impl PartialEq for Field {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.value == other.value
    }
}
impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.label == other.label && self.body == other.body
    }
}
impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}
impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        self.body == other.body
    }
}

impl Field {
    /// A field named `name` (an identifier) holding `value`.
    pub fn new(name: impl Into<Arc<str>>, value: impl Into<Value>) -> Self {
        Field {
            name: name.into(),
            value: value.into(),
            span: None,
        }
    }

    pub(crate) fn with_span(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.name.clone()
    }

    /// Its value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Where it was written, if it was parsed.
    pub fn span(&self) -> Option<Span> {
        self.span
    }
}

impl Block {
    /// An empty block named `name` (an identifier).
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Block {
            name: name.into(),
            label: None,
            body: Body::default(),
            span: None,
        }
    }

    /// An empty block named `name` with a label.
    pub fn labelled(name: impl Into<Arc<str>>, label: impl Into<String>) -> Self {
        Block {
            label: Some(label.into()),
            ..Block::new(name)
        }
    }

    pub(crate) fn from_parts(
        name: Arc<str>,
        label: Option<String>,
        body: Body,
        span: Span,
    ) -> Self {
        Block {
            name,
            label,
            body,
            span: Some(span),
        }
    }

    /// Builder: adds a field.
    pub fn with(mut self, name: impl Into<Arc<str>>, value: impl Into<Value>) -> Self {
        self.body.push(Entry::Field(Field::new(name, value)));
        self
    }

    /// Builder: adds a nested block.
    pub fn with_block(mut self, block: Block) -> Self {
        self.body.push(Entry::Block(Box::new(block)));
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.name.clone()
    }

    /// Its label, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Where it was written (from its name to its closing brace), if it was parsed.
    pub fn span(&self) -> Option<Span> {
        self.span
    }

    /// Its contents.
    pub fn body(&self) -> &Body {
        &self.body
    }
}

impl Deref for Block {
    type Target = Body;
    fn deref(&self) -> &Body {
        &self.body
    }
}
impl DerefMut for Block {
    fn deref_mut(&mut self) -> &mut Body {
        &mut self.body
    }
}
impl Deref for Document {
    type Target = Body;
    fn deref(&self) -> &Body {
        &self.body
    }
}
impl DerefMut for Document {
    fn deref_mut(&mut self) -> &mut Body {
        &mut self.body
    }
}

impl Body {
    pub(crate) fn from_entries(entries: Vec<Entry>) -> Self {
        Body { entries }
    }

    /// All entries in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Replaces the value of the field at `index` in the block reached by the index path
    /// `parents` (each step an index into a body's entries). Used by the evaluator.
    pub(crate) fn set_at(&mut self, parents: &[u32], index: usize, value: Value) {
        let mut body = self;
        for step in parents {
            match body.entries.get_mut(*step as usize) {
                Some(Entry::Block(block)) => body = &mut block.body,
                _ => return,
            }
        }
        if let Some(Entry::Field(field)) = body.entries.get_mut(index) {
            field.value = value;
        }
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// Sets a field: replaces the value of an existing field of that name, or appends one.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        let value = value.into();
        for entry in &mut self.entries {
            if let Entry::Field(field) = entry {
                if &*field.name == name {
                    field.value = value;
                    return;
                }
            }
        }
        self.entries.push(Entry::Field(Field::new(name, value)));
    }

    /// Appends a block.
    pub fn push_block(&mut self, block: Block) {
        self.entries.push(Entry::Block(Box::new(block)));
    }

    /// Keeps only the blocks for which `keep` returns true (fields are untouched).
    pub fn retain_blocks(&mut self, mut keep: impl FnMut(&Block) -> bool) {
        self.entries.retain(|entry| match entry {
            Entry::Block(block) => keep(block),
            Entry::Field(_) => true,
        });
    }

    /// The fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.entries.iter().filter_map(|entry| match entry {
            Entry::Field(field) => Some(field),
            Entry::Block(_) => None,
        })
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields().find(|field| &*field.name == name)
    }

    /// Every nested block, in order.
    pub fn all_blocks(&self) -> impl Iterator<Item = &Block> {
        self.entries.iter().filter_map(|entry| match entry {
            Entry::Block(block) => Some(&**block),
            Entry::Field(_) => None,
        })
    }

    /// The nested blocks called `name`, in order.
    pub fn blocks<'b>(&'b self, name: &'b str) -> impl Iterator<Item = &'b Block> + 'b {
        self.all_blocks().filter(move |block| &*block.name == name)
    }

    /// The nested block called `name` with the given label (or no label).
    pub fn block(&self, name: &str, label: Option<&str>) -> Option<&Block> {
        self.all_blocks()
            .find(|block| &*block.name == name && block.label.as_deref() == label)
    }

    /// The value at `path`, for example `Registry.Package["jq"].Version["1.7.1"].sha256` or
    /// `modules[0]`, relative to this body.
    pub fn get(&self, path: &str) -> Result<&Value> {
        // Most lookups name a field of this body: they need no path parsing.
        if let Some(field) = self.field(path) {
            return Ok(field.value());
        }
        let segments = path::parse_path(path)?;
        self.get_segments(path, &segments)
    }

    fn get_segments(&self, path: &str, segments: &[Segment]) -> Result<&Value> {
        let not_found = |reason: String| {
            Error::new(ErrorKind::NotFound {
                path: path.to_string(),
                reason,
            })
        };
        let root = Node {
            body: self,
            name: "",
            label: None,
            block: None,
        };
        match path::walk(&BodyTree(PhantomData), root, segments).map_err(not_found)? {
            Target::Field(field, rest) => {
                path::index_value(&field.value, &segments[rest..]).map_err(not_found)
            }
            Target::Blocks(_) => Err(not_found("it names a block, not a value".to_string())
                .with_hint("add the name of a field inside the block to the path")),
        }
    }

    /// The block at `path`, for example `Registry.Package["jq"]`.
    pub fn get_block(&self, path: &str) -> Result<&Block> {
        let segments = path::parse_path(path)?;
        let not_found = |reason: String| {
            Error::new(ErrorKind::NotFound {
                path: path.to_string(),
                reason,
            })
        };
        let root = Node {
            body: self,
            name: "",
            label: None,
            block: None,
        };
        match path::walk(&BodyTree(PhantomData), root, &segments).map_err(not_found)? {
            Target::Blocks(blocks) => match blocks[..] {
                [Node {
                    block: Some(block), ..
                }] => Ok(block),
                _ => Err(not_found(format!(
                    "there are {} such blocks; pick one with [\"label\"] or [index]",
                    blocks.len()
                ))),
            },
            Target::Field(..) => Err(not_found("it names a field, not a block".to_string())),
        }
    }

    fn get_typed<'a, T>(
        &'a self,
        path: &str,
        expected: &str,
        convert: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<T> {
        let value = self.get(path)?;
        convert(value).ok_or_else(|| {
            Error::new(ErrorKind::WrongType {
                path: path.to_string(),
                expected: expected.to_string(),
                found: value.describe(),
            })
        })
    }

    /// The string at `path`.
    pub fn get_str(&self, path: &str) -> Result<&str> {
        self.get_typed(path, "a string", |value| match value {
            Value::String(text) => Some(text.as_str()),
            _ => None,
        })
    }

    /// The integer at `path`.
    pub fn get_int(&self, path: &str) -> Result<i64> {
        self.get_typed(path, "an int", |value| match value {
            Value::Int(number) => Some(*number),
            _ => None,
        })
    }

    /// The number at `path` (an int is widened).
    pub fn get_float(&self, path: &str) -> Result<f64> {
        self.get_typed(path, "a float", |value| match value {
            Value::Float(number) => Some(*number),
            Value::Int(number) => Some(*number as f64),
            _ => None,
        })
    }

    /// The boolean at `path`.
    pub fn get_bool(&self, path: &str) -> Result<bool> {
        self.get_typed(path, "a bool", |value| match value {
            Value::Bool(flag) => Some(*flag),
            _ => None,
        })
    }

    /// The array at `path`.
    pub fn get_array(&self, path: &str) -> Result<&[Value]> {
        self.get_typed(path, "an array", |value| match value {
            Value::Array(items) => Some(items.as_slice()),
            _ => None,
        })
    }
}

#[derive(Clone, Copy)]
struct Node<'d> {
    body: &'d Body,
    name: &'d str,
    label: Option<&'d str>,
    block: Option<&'d Block>,
}

impl<'d> Node<'d> {
    fn of(block: &'d Block) -> Self {
        Node {
            body: &block.body,
            name: &block.name,
            label: block.label.as_deref(),
            block: Some(block),
        }
    }
}

struct BodyTree<'d>(PhantomData<&'d Body>);

impl<'d> Tree for BodyTree<'d> {
    type Block = Node<'d>;
    type Field = &'d Field;

    fn member(&self, node: Node<'d>, name: &str) -> Option<Member<Node<'d>, &'d Field>> {
        if let Some(field) = node.body.field(name) {
            return Some(Member::Field(field));
        }
        let blocks: Vec<_> = node
            .body
            .all_blocks()
            .filter(|block| &*block.name == name)
            .map(Node::of)
            .collect();
        (!blocks.is_empty()).then_some(Member::Blocks(blocks))
    }

    fn label(&self, node: Node<'d>) -> Option<String> {
        node.label.map(str::to_string)
    }

    fn describe(&self, node: Node<'d>) -> String {
        describe_block(node.name, node.label)
    }
}

/// How a block reads in messages: `Registry "main"`, `build_meta`, or `the top level`.
pub(crate) fn describe_block(name: &str, label: Option<&str>) -> String {
    match (name, label) {
        ("", _) => "the top level".to_string(),
        (name, None) => format!("`{name}`"),
        (name, Some(label)) => format!("`{name} {}`", Value::String(label.to_string())),
    }
}

impl Document {
    /// An empty document, to build in code.
    pub fn new() -> Self {
        Document::default()
    }

    pub(crate) fn from_parts(body: Body, source: Arc<Source>) -> Self {
        Document {
            body,
            source: Some(source),
        }
    }

    /// The source this document was parsed from, if any.
    pub fn source(&self) -> Option<&Arc<Source>> {
        self.source.as_ref()
    }

    /// Builder: adds a top-level field.
    pub fn with(mut self, name: impl Into<Arc<str>>, value: impl Into<Value>) -> Self {
        self.body.push(Entry::Field(Field::new(name, value)));
        self
    }

    /// Builder: adds a top-level block.
    pub fn with_block(mut self, block: Block) -> Self {
        self.body.push(Entry::Block(Box::new(block)));
        self
    }

    /// An error about this document, located at `span` when the document was parsed. Callers
    /// use it to report their own validation failures (an unknown field, a bad URL) in the same
    /// `file:line:column` + caret form as syntax errors.
    pub fn error_at(&self, span: Option<Span>, message: impl Into<String>) -> Error {
        let kind = ErrorKind::Custom(message.into());
        match (&self.source, span) {
            (Some(source), Some(span)) => Error::at(kind, source, span),
            _ => Error::new(kind),
        }
    }

    /// The strings of `block`'s array field `field`, empty when the field is absent. Anything
    /// but an array of strings is an error located at the field.
    pub fn string_array(&self, block: &Block, field: &str) -> Result<Vec<String>> {
        let Some(found) = block.field(field) else {
            return Ok(Vec::new());
        };
        let at = found.span().or(block.span());
        match found.value() {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    other => Err(self.error_at(
                        at,
                        format!("`{field}` must hold strings, not {}", other.describe()),
                    )),
                })
                .collect(),
            other => Err(self.error_at(
                at,
                format!(
                    "`{field}` must be an array of strings, not {}",
                    other.describe()
                ),
            )),
        }
    }
}

/// Whether `text` is a valid ACL identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// Arrays longer than this when written inline are written one element per line.
const INLINE_WIDTH: usize = 100;

/// The declared type the writer gives a value: its scalar type, `T[]` for non-empty arrays of
/// one scalar type, none otherwise (empty, mixed and nested arrays are written untyped).
fn declared_type(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) => {
            let first = items.first()?.scalar_type()?;
            items
                .iter()
                .all(|item| item.scalar_type() == Some(first))
                .then(|| format!("{}[]", first.keyword()))
        }
        scalar => scalar
            .scalar_type()
            .map(|scalar: ScalarType| scalar.keyword().to_string()),
    }
}

fn write_body(out: &mut String, body: &Body, depth: usize) {
    let indent = "    ".repeat(depth);
    let mut previous_was_block = None;
    for entry in &body.entries {
        let is_block = matches!(entry, Entry::Block(_));
        // Blocks stand apart from their neighbours; runs of fields stay together.
        if previous_was_block.is_some_and(|previous| previous || is_block) {
            out.push('\n');
        }
        previous_was_block = Some(is_block);
        match entry {
            Entry::Field(field) => write_field(out, field, &indent),
            Entry::Block(block) => {
                out.push_str(&indent);
                out.push_str(&block.name);
                if let Some(label) = &block.label {
                    let _ = write!(out, " {}", Value::String(label.clone()));
                }
                if block.body.entries.is_empty() {
                    out.push_str(" {}\n");
                } else {
                    out.push_str(" {\n");
                    write_body(out, &block.body, depth + 1);
                    out.push_str(&indent);
                    out.push_str("}\n");
                }
            }
        }
    }
}

fn write_field(out: &mut String, field: &Field, indent: &str) {
    out.push_str(indent);
    if let Some(declared) = declared_type(&field.value) {
        out.push_str(&declared);
        out.push(' ');
    }
    out.push_str(&field.name);
    out.push_str(" = ");
    let inline = field.value.to_string();
    match &field.value {
        Value::Array(items) if indent.len() + field.name.len() + inline.len() > INLINE_WIDTH => {
            out.push_str("{\n");
            for item in items {
                let _ = writeln!(out, "{indent}    {item},");
            }
            out.push_str(indent);
            out.push('}');
        }
        _ => out.push_str(&inline),
    }
    out.push_str(";\n");
}

/// Canonical ACL: four-space indentation, a declared type wherever the value determines one,
/// blank lines around blocks, and literals that parse back to the same values.
impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_body(&mut out, &self.body, 0);
        f.write_str(&out)
    }
}

/// The block alone, in canonical form (as it would appear at the top level).
impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_body(
            &mut out,
            &Body::from_entries(vec![Entry::Block(Box::new(self.clone()))]),
            0,
        );
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        Document::new().with("top", 1).with_block(
            Block::labelled("Registry", "main")
                .with("url", "https://example.org/index.acl")
                .with("keys", vec!["a", "b"])
                .with_block(
                    Block::labelled("Package", "jq").with_block(
                        Block::labelled("Version", "1.7.1")
                            .with("sha256", "abc")
                            .with("size", 10),
                    ),
                )
                .with_block(Block::labelled("Package", "yq")),
        )
    }

    #[test]
    fn writes_canonical_text() {
        let expected = r#"int top = 1;

Registry "main" {
    string url = "https://example.org/index.acl";
    string[] keys = { "a", "b" };

    Package "jq" {
        Version "1.7.1" {
            string sha256 = "abc";
            int size = 10;
        }
    }

    Package "yq" {}
}
"#;
        assert_eq!(sample().to_string(), expected);
    }

    #[test]
    fn long_arrays_wrap() {
        let items: Vec<String> = (0..20).map(|n| format!("item-{n}")).collect();
        let text = Document::new().with("list", items).to_string();
        assert!(
            text.starts_with("string[] list = {\n    \"item-0\",\n"),
            "{text}"
        );
        assert!(text.ends_with("    \"item-19\",\n};\n"), "{text}");
    }

    #[test]
    fn lookups() {
        let document = sample();
        assert_eq!(document.get_int("top").unwrap(), 1);
        assert_eq!(
            document.get_str("Registry.url").unwrap(),
            "https://example.org/index.acl"
        );
        assert_eq!(document.get_str("Registry[\"main\"].keys[1]").unwrap(), "b");
        assert_eq!(
            document
                .get_str("Registry.Package[\"jq\"].Version[\"1.7.1\"].sha256")
                .unwrap(),
            "abc"
        );
        assert_eq!(
            document.get_block("Registry.Package[1]").unwrap().label(),
            Some("yq")
        );
        assert_eq!(document.blocks("Registry").count(), 1);
        assert_eq!(document.get_float("top").unwrap(), 1.0);
    }

    #[test]
    fn lookup_errors() {
        let document = sample();
        let cases = [
            ("nope", "`nope` not found: the top level has no field or block `nope`"),
            ("Registry.Package.x", "`Registry.Package.x` not found: there are 2 `Package` blocks; pick one with [\"label\"] or [index]"),
            ("Registry.Package[\"zz\"]", "`Registry.Package[\"zz\"]` not found: no `Package` block is labelled \"zz\""),
            ("Registry.Package[5].x", "`Registry.Package[5].x` not found: index 5 is out of range: there are 2 `Package` blocks"),
            ("Registry.keys[9]", "`Registry.keys[9]` not found: index 9 is out of range for an array of 2 items"),
            ("Registry", "`Registry` not found: it names a block, not a value"),
            ("top.x", "`top.x` not found: int 1 is a value, not a block with a `x`"),
        ];
        for (path, message) in cases {
            assert_eq!(
                document.get(path).unwrap_err().kind().to_string(),
                message,
                "{path}"
            );
        }
        assert_eq!(
            document.get_str("top").unwrap_err().kind().to_string(),
            "`top` is int 1, not a string"
        );
    }

    #[test]
    fn set_replaces_or_appends() {
        let mut document = Document::new().with("a", 1);
        document.set("a", 2);
        document.set("b", true);
        assert_eq!(document.to_string(), "int a = 2;\nbool b = true;\n");
        document.retain_blocks(|_| false);
        assert_eq!(document.fields().count(), 2);
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("a_1"));
        assert!(is_identifier("_"));
        assert!(!is_identifier("1a"));
        assert!(!is_identifier("a-b"));
        assert!(!is_identifier(""));
    }
}
