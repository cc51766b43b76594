//! Resolution: evaluates every field's expression, following references (with cycle
//! detection) and checking declared types, and turns the syntax tree into a [`Document`].
//!
//! The tree is flattened into an arena first, so references can reach any block by index.
//! Each field is evaluated at most once: the first reference (or the top-down pass) takes its
//! expression, and later references read the stored value.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::ast::{
    Anchor, DeclaredType, Expr, ExprKind, Item, ParsedDocument, Reference, TypeAnnotation,
};
use crate::document::{describe_block, Block, Body, Document, Entry, Field};
use crate::error::{Error, ErrorKind, Result};
use crate::path::{self, Member, Target, Tree};
use crate::source::{Source, Span};
use crate::value::{BinaryOperator, ScalarType, Value};

/// How deep evaluation may recurse (nested expressions plus chained references) before it is
/// refused, so hostile input cannot overflow the stack.
const MAX_EVALUATION_DEPTH: usize = 128;

/// Blocks with more entries than this get a hash index for name lookups.
const INDEX_THRESHOLD: usize = 16;

enum State {
    Pending(Expr),
    Evaluating,
    Done(Value),
}

struct FieldNode {
    name: String,
    name_span: Span,
    span: Span,
    annotation: Option<TypeAnnotation>,
    block: usize,
    state: State,
}

#[derive(Clone, Copy)]
enum EntryId {
    Field(usize),
    Block(usize),
}

struct BlockNode {
    name: String,
    label: Option<String>,
    span: Span,
    parent: Option<usize>,
    entries: Vec<EntryId>,
    index: Option<HashMap<String, Vec<EntryId>>>,
}

struct Arena {
    source: Arc<Source>,
    blocks: Vec<BlockNode>,
    fields: Vec<FieldNode>,
    /// Fields being evaluated, innermost last, to name a cycle when one closes.
    stack: Vec<usize>,
    depth: usize,
}

/// Resolves a parsed document.
pub(crate) fn resolve(document: ParsedDocument) -> Result<Document> {
    let mut arena = Arena {
        source: document.source,
        blocks: vec![BlockNode {
            name: String::new(),
            label: None,
            span: Span::default(),
            parent: None,
            entries: Vec::new(),
            index: None,
        }],
        fields: Vec::new(),
        stack: Vec::new(),
        depth: 0,
    };
    arena.add_items(0, document.items)?;
    for field in 0..arena.fields.len() {
        arena.force(field)?;
    }
    let body = arena.take_body(0);
    Ok(Document::from_parts(body, arena.source))
}

impl Arena {
    fn error(&self, kind: ErrorKind, span: Span) -> Error {
        Error::at(kind, &self.source, span)
    }

    fn add_items(&mut self, block: usize, items: Vec<Item>) -> Result<()> {
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Item::Field(field) => {
                    entries.push(EntryId::Field(self.fields.len()));
                    self.fields.push(FieldNode {
                        name: field.name.text,
                        name_span: field.name.span,
                        span: field.span,
                        annotation: field.annotation,
                        block,
                        state: State::Pending(field.value),
                    });
                }
                Item::Block(child) => {
                    let id = self.blocks.len();
                    entries.push(EntryId::Block(id));
                    self.blocks.push(BlockNode {
                        name: child.name.text,
                        label: child.label.map(|(label, _)| label),
                        span: child.span,
                        parent: Some(block),
                        entries: Vec::new(),
                        index: None,
                    });
                    self.add_items(id, child.items)?;
                }
            }
        }
        self.check_names(&entries)?;
        if entries.len() > INDEX_THRESHOLD {
            let mut index: HashMap<String, Vec<EntryId>> = HashMap::with_capacity(entries.len());
            for entry in &entries {
                index
                    .entry(self.entry_name(*entry).to_string())
                    .or_default()
                    .push(*entry);
            }
            self.blocks[block].index = Some(index);
        }
        self.blocks[block].entries = entries;
        Ok(())
    }

    fn entry_name(&self, entry: EntryId) -> &str {
        match entry {
            EntryId::Field(id) => &self.fields[id].name,
            EntryId::Block(id) => &self.blocks[id].name,
        }
    }

    fn entry_span(&self, entry: EntryId) -> Span {
        match entry {
            EntryId::Field(id) => self.fields[id].name_span,
            EntryId::Block(id) => self.blocks[id].span,
        }
    }

    /// Rejects a second field of one name, a second block with the same name and label, and a
    /// name used for both a field and a block: each would make lookups ambiguous. Blocks are
    /// small, so a pairwise scan beats hashing; a large one (a registry's packages) is checked
    /// against the name index built for it anyway.
    fn check_names(&self, entries: &[EntryId]) -> Result<()> {
        if entries.len() <= INDEX_THRESHOLD {
            for (position, entry) in entries.iter().enumerate() {
                for earlier in &entries[..position] {
                    self.check_pair(*earlier, *entry)?;
                }
            }
            return Ok(());
        }
        let mut first_by_key: HashMap<(&str, Option<&str>, bool), EntryId> =
            HashMap::with_capacity(entries.len());
        let mut first_by_name: HashMap<&str, EntryId> = HashMap::with_capacity(entries.len());
        for entry in entries {
            if let Some(earlier) = first_by_name.insert(self.entry_name(*entry), *entry) {
                self.check_pair(earlier, *entry)?;
            }
            if let Some(earlier) = first_by_key.insert(self.entry_key(*entry), *entry) {
                self.check_pair(earlier, *entry)?;
            }
        }
        Ok(())
    }

    fn entry_key(&self, entry: EntryId) -> (&str, Option<&str>, bool) {
        match entry {
            EntryId::Field(id) => (&self.fields[id].name, None, true),
            EntryId::Block(id) => (
                &self.blocks[id].name,
                self.blocks[id].label.as_deref(),
                false,
            ),
        }
    }

    fn check_pair(&self, earlier: EntryId, later: EntryId) -> Result<()> {
        let (name, label, is_field) = self.entry_key(later);
        let (earlier_name, earlier_label, earlier_is_field) = self.entry_key(earlier);
        if name != earlier_name {
            return Ok(());
        }
        if is_field != earlier_is_field {
            return Err(self.error(
                ErrorKind::NameClash(name.to_string()),
                self.entry_span(later),
            ));
        }
        // Unlabelled blocks may repeat; fields and labelled blocks may not.
        if label != earlier_label || (!is_field && label.is_none()) {
            return Ok(());
        }
        let kind = match label {
            Some(label) => ErrorKind::DuplicateBlock {
                name: name.to_string(),
                label: label.to_string(),
            },
            None => ErrorKind::DuplicateField(name.to_string()),
        };
        let line = self.source.position(self.entry_span(earlier).start).line;
        Err(self
            .error(kind, self.entry_span(later))
            .with_hint(format!("the first definition is on line {line}")))
    }

    fn block_path(&self, block: usize) -> String {
        let mut parts = Vec::new();
        let mut current = Some(block);
        while let Some(id) = current {
            let node = &self.blocks[id];
            if node.parent.is_some() {
                parts.push(match &node.label {
                    Some(label) => format!("{}[{}]", node.name, Value::String(label.clone())),
                    None => node.name.clone(),
                });
            }
            current = node.parent;
        }
        parts.reverse();
        parts.join(".")
    }

    fn field_path(&self, field: usize) -> String {
        let node = &self.fields[field];
        match self.block_path(node.block) {
            prefix if prefix.is_empty() => node.name.clone(),
            prefix => format!("{prefix}.{}", node.name),
        }
    }

    /// Evaluates a field if it has not been yet. `at` is the reference that asked for it.
    fn force_from(&mut self, field: usize, at: Option<Span>) -> Result<()> {
        match std::mem::replace(&mut self.fields[field].state, State::Evaluating) {
            State::Done(value) => {
                self.fields[field].state = State::Done(value);
                Ok(())
            }
            State::Evaluating => {
                let start = self.stack.iter().position(|id| *id == field).unwrap_or(0);
                let mut chain: Vec<String> = self.stack[start..]
                    .iter()
                    .map(|id| self.field_path(*id))
                    .collect();
                chain.push(self.field_path(field));
                let span = at.unwrap_or(self.fields[field].name_span);
                Err(self
                    .error(ErrorKind::ReferenceCycle(chain.join(" -> ")), span)
                    .with_hint("a field cannot depend on itself, directly or through other fields"))
            }
            State::Pending(expr) => {
                self.stack.push(field);
                let block = self.fields[field].block;
                let annotation = self.fields[field].annotation;
                let value_span = expr.span;
                let is_reference = is_reference_expression(&expr, annotation);
                let value = self.evaluate(expr, block)?;
                let value = self.check_type(field, annotation, is_reference, value, value_span)?;
                self.stack.pop();
                self.fields[field].state = State::Done(value);
                Ok(())
            }
        }
    }

    fn force(&mut self, field: usize) -> Result<()> {
        self.force_from(field, None)
    }

    fn check_type(
        &self,
        field: usize,
        annotation: Option<TypeAnnotation>,
        is_reference: bool,
        value: Value,
        span: Span,
    ) -> Result<Value> {
        let Some(annotation) = annotation else {
            return Ok(value);
        };
        let name = &self.fields[field].name;
        if annotation.base == DeclaredType::Ref {
            if !is_reference {
                return Err(self
                    .error(ErrorKind::NotAReference(name.clone()), span)
                    .with_hint("write a reference such as `$Block.field`, `$.field` or `^field`"));
            }
            return Ok(value);
        }
        let DeclaredType::Scalar(scalar) = annotation.base else {
            return Ok(value);
        };
        let mismatch = |value: &Value| {
            let declared = annotation.display();
            let hint = match (scalar, value) {
                (_, Value::Array(_)) if !annotation.array => {
                    format!("declare it `{declared}[]`, or give a single value")
                }
                (_, _) if annotation.array => "an array value is written `{ a, b }`".to_string(),
                _ => format!(
                    "cast it with `({})` or change the declared type",
                    scalar.keyword()
                ),
            };
            self.error(
                ErrorKind::TypeMismatch {
                    name: name.clone(),
                    declared,
                    found: value.describe(),
                },
                span,
            )
            .with_hint(hint)
        };
        if annotation.array {
            let Value::Array(items) = value else {
                return Err(mismatch(&value));
            };
            let mut converted = Vec::with_capacity(items.len());
            for item in items {
                match conform(scalar, item) {
                    Ok(item) => converted.push(item),
                    Err(item) => return Err(mismatch(&item)),
                }
            }
            Ok(Value::Array(converted))
        } else {
            conform(scalar, value).map_err(|value| mismatch(&value))
        }
    }

    fn evaluate(&mut self, expr: Expr, block: usize) -> Result<Value> {
        self.depth += 1;
        if self.depth > MAX_EVALUATION_DEPTH {
            return Err(self.error(ErrorKind::TooDeep(MAX_EVALUATION_DEPTH), expr.span));
        }
        let span = expr.span;
        let result = match expr.kind {
            ExprKind::Literal(value) => Ok(value),
            ExprKind::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.evaluate(item, block)?);
                }
                Ok(Value::Array(values))
            }
            ExprKind::Reference(reference) => self.dereference(&reference, block, span),
            ExprKind::Unary(operator, operand) => {
                let value = self.evaluate(*operand, block)?;
                operator.apply(value).map_err(|kind| self.error(kind, span))
            }
            ExprKind::Cast(target, operand) => {
                let value = self.evaluate(*operand, block)?;
                value.cast(target).map_err(|kind| self.error(kind, span))
            }
            ExprKind::Binary(
                operator @ (BinaryOperator::And | BinaryOperator::Or),
                left,
                right,
            ) => {
                let left_value = self.evaluate(*left, block)?;
                // Short-circuit as C does: the right side is not evaluated when the left decides.
                match (operator, &left_value) {
                    (BinaryOperator::And, Value::Bool(false)) => Ok(Value::Bool(false)),
                    (BinaryOperator::Or, Value::Bool(true)) => Ok(Value::Bool(true)),
                    _ => {
                        let right_value = self.evaluate(*right, block)?;
                        operator
                            .apply(left_value, right_value)
                            .map_err(|kind| self.error(kind, span))
                    }
                }
            }
            ExprKind::Binary(operator, left, right) => {
                let left_value = self.evaluate(*left, block)?;
                let right_value = self.evaluate(*right, block)?;
                operator.apply(left_value, right_value).map_err(|kind| {
                    let error = self.error(kind, span);
                    if operator == BinaryOperator::Add {
                        error.with_hint("`+` adds numbers, joins strings (converting the other side) and joins arrays")
                    } else {
                        error
                    }
                })
            }
            ExprKind::Conditional(condition, then, otherwise) => {
                let condition_span = condition.span;
                match self.evaluate(*condition, block)? {
                    Value::Bool(true) => self.evaluate(*then, block),
                    Value::Bool(false) => self.evaluate(*otherwise, block),
                    other => Err(self
                        .error(
                            ErrorKind::BadOperand {
                                operator: "?:".to_string(),
                                operand: other.describe(),
                            },
                            condition_span,
                        )
                        .with_hint("the condition of `c ? a : b` must be a bool; compare it, e.g. `x != 0`")),
                }
            }
        };
        self.depth -= 1;
        result
    }

    fn dereference(&mut self, reference: &Reference, block: usize, span: Span) -> Result<Value> {
        let written = self.source.slice(span).to_string();
        let unresolved = |arena: &Arena, reason: String| {
            arena.error(
                ErrorKind::UnresolvedReference {
                    reference: written.clone(),
                    reason,
                },
                span,
            )
        };
        let start = match reference.anchor {
            Anchor::Global => 0,
            Anchor::Local => block,
            Anchor::Parent(levels) => {
                let mut current = block;
                for _ in 0..levels {
                    current = match self.blocks[current].parent {
                        Some(parent) => parent,
                        None => {
                            return Err(unresolved(self, "`^` goes above the top level".to_string())
                                .with_hint("each `^` goes up one block; use `$Block.field` for a path from the top"))
                        }
                    };
                }
                current
            }
        };
        let segments: Vec<_> = reference
            .segments
            .iter()
            .map(|(segment, _)| segment.clone())
            .collect();
        let target = path::walk(&ArenaTree(self, PhantomData), start, &segments);
        match target.map_err(|reason| unresolved(self, reason))? {
            Target::Field(field, rest) => {
                self.force_from(field, Some(span))?;
                let State::Done(value) = &self.fields[field].state else {
                    return Err(unresolved(
                        self,
                        "the field could not be evaluated".to_string(),
                    ));
                };
                let value = path::index_value(value, &segments[rest..]).map(Value::clone);
                value.map_err(|reason| unresolved(self, reason))
            }
            Target::Blocks(_) => Err(
                unresolved(self, "it names a block, not a value".to_string())
                    .with_hint("add the name of a field inside the block"),
            ),
        }
    }

    /// Moves the evaluated values out into a [`Body`].
    fn take_body(&mut self, block: usize) -> Body {
        let entries = std::mem::take(&mut self.blocks[block].entries);
        let mut body = Vec::with_capacity(entries.len());
        for entry in entries {
            body.push(match entry {
                EntryId::Field(id) => {
                    let node = &mut self.fields[id];
                    let value = match std::mem::replace(&mut node.state, State::Evaluating) {
                        State::Done(value) => value,
                        // Every field was forced before this runs.
                        State::Pending(_) | State::Evaluating => Value::Bool(false),
                    };
                    Entry::Field(
                        Field::new(std::mem::take(&mut node.name), value).with_span(node.span),
                    )
                }
                EntryId::Block(id) => {
                    let inner = self.take_body(id);
                    let node = &mut self.blocks[id];
                    Entry::Block(Block::from_parts(
                        std::mem::take(&mut node.name),
                        node.label.take(),
                        inner,
                        node.span,
                    ))
                }
            });
        }
        Body::from_entries(body)
    }
}

/// `int` fields accept only ints; `float` fields also accept ints (widened); the rest exact.
fn conform(scalar: ScalarType, value: Value) -> Result<Value, Value> {
    match (scalar, value) {
        (ScalarType::Float, Value::Int(number)) => Ok(Value::Float(number as f64)),
        (scalar, value) if value.scalar_type() == Some(scalar) => Ok(value),
        (_, value) => Err(value),
    }
}

/// A `ref` field must be written as a reference (`ref[]`: an array of references).
fn is_reference_expression(expr: &Expr, annotation: Option<TypeAnnotation>) -> bool {
    match (&expr.kind, annotation) {
        (ExprKind::Reference(_), Some(TypeAnnotation { array: false, .. })) => true,
        (ExprKind::Array(items), Some(TypeAnnotation { array: true, .. })) => items
            .iter()
            .all(|item| matches!(item.kind, ExprKind::Reference(_))),
        _ => false,
    }
}

struct ArenaTree<'a>(&'a Arena, PhantomData<&'a ()>);

impl Tree for ArenaTree<'_> {
    type Block = usize;
    type Field = usize;

    fn member(&self, block: usize, name: &str) -> Option<Member<usize, usize>> {
        let node = &self.0.blocks[block];
        let matches: Vec<EntryId> = match &node.index {
            Some(index) => index.get(name)?.clone(),
            None => node
                .entries
                .iter()
                .copied()
                .filter(|entry| self.0.entry_name(*entry) == name)
                .collect(),
        };
        match matches.first()? {
            EntryId::Field(field) => Some(Member::Field(*field)),
            EntryId::Block(_) => Some(Member::Blocks(
                matches
                    .iter()
                    .filter_map(|entry| match entry {
                        EntryId::Block(id) => Some(*id),
                        EntryId::Field(_) => None,
                    })
                    .collect(),
            )),
        }
    }

    fn label(&self, block: usize) -> Option<&str> {
        self.0.blocks[block].label.as_deref()
    }

    fn describe(&self, block: usize) -> String {
        let node = &self.0.blocks[block];
        describe_block(&node.name, node.label.as_deref())
    }
}
