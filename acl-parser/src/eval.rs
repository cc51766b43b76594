//! Resolution: evaluates the fields the parser could not (expressions and references),
//! following references with cycle detection, checks their declared types and writes their
//! values into the document. A field is evaluated at most once: the first reference to it (or
//! the pass over all pending fields) evaluates it, later ones read the stored value.
//!
//! Blocks and fields are addressed by index paths (the index of each enclosing block among its
//! parent's entries, then the entry's own), so references can go anywhere, up or down.

use std::cell::RefCell;
use std::collections::hash_map::Entry as MapEntry;
use std::sync::Arc;

use crate::ast::{Anchor, DeclaredType, Expr, ExprKind, ParsedDocument, Reference, TypeAnnotation};
use crate::document::{describe_block, Body, Document, Entry};
use crate::error::{Error, ErrorKind, Result};
use crate::hash::FxHashMap;
use crate::path::{self, Member, Target, Tree};
use crate::source::{Source, Span};
use crate::value::{BinaryOperator, ScalarType, Value};

/// How deep evaluation may recurse (nested expressions plus chained references) before it is
/// refused, so hostile input cannot overflow the stack.
const MAX_EVALUATION_DEPTH: usize = 128;

/// Blocks with more entries than this get a hash index for name lookups.
const INDEX_THRESHOLD: usize = 16;

type IndexPath = Vec<u32>;

/// Positions of a block's entries by name.
type NameIndex = FxHashMap<Arc<str>, Vec<u32>>;

enum State {
    Pending(Expr),
    Evaluating,
    Done,
}

struct Evaluator<'d> {
    source: &'d Source,
    document: &'d mut Document,
    annotations: Vec<Option<TypeAnnotation>>,
    paths: Vec<IndexPath>,
    states: Vec<State>,
    by_path: FxHashMap<IndexPath, usize>,
    /// Name indexes of large blocks, built on first lookup.
    indexes: RefCell<FxHashMap<IndexPath, Arc<NameIndex>>>,
    /// Pending fields being evaluated, innermost last, to name a cycle when one closes.
    stack: Vec<usize>,
    depth: usize,
}

/// Evaluates a parsed document's pending fields.
pub(crate) fn resolve(parsed: ParsedDocument) -> Result<Document> {
    let ParsedDocument {
        mut document,
        pending,
    } = parsed;
    if pending.is_empty() {
        return Ok(document);
    }
    let Some(source) = document.source().cloned() else {
        return Ok(document);
    };
    let mut annotations = Vec::with_capacity(pending.len());
    let mut paths = Vec::with_capacity(pending.len());
    let mut states = Vec::with_capacity(pending.len());
    let mut by_path = FxHashMap::default();
    for (id, field) in pending.into_iter().enumerate() {
        by_path.insert(field.path.clone(), id);
        annotations.push(field.annotation);
        paths.push(field.path);
        states.push(State::Pending(field.value));
    }
    let mut evaluator = Evaluator {
        source: &source,
        document: &mut document,
        annotations,
        paths,
        states,
        by_path,
        indexes: RefCell::new(FxHashMap::default()),
        stack: Vec::new(),
        depth: 0,
    };
    for id in 0..evaluator.states.len() {
        evaluator.force(id, None)?;
    }
    Ok(document)
}

/// Checks a value against a field's declared type, widening ints for `float` fields.
/// `is_reference` says whether the value was written as a reference (`ref` fields need one).
pub(crate) fn check_declared(
    source: &Source,
    name: &str,
    annotation: Option<TypeAnnotation>,
    is_reference: bool,
    value: Value,
    span: Span,
) -> Result<Value> {
    let Some(annotation) = annotation else {
        return Ok(value);
    };
    let scalar = match annotation.base {
        DeclaredType::Ref if is_reference => return Ok(value),
        DeclaredType::Ref => {
            return Err(
                Error::at(ErrorKind::NotAReference(name.to_string()), source, span)
                    .with_hint("write a reference such as `$Block.field`, `$.field` or `^field`"),
            )
        }
        DeclaredType::Scalar(scalar) => scalar,
    };
    let mismatch = |value: &Value| {
        let declared = annotation.display();
        let hint = match value {
            Value::Array(_) if !annotation.array => {
                format!("declare it `{declared}[]`, or give a single value")
            }
            _ if annotation.array => "an array value is written `{ a, b }`".to_string(),
            _ => format!(
                "cast it with `({})` or change the declared type",
                scalar.keyword()
            ),
        };
        Error::at(
            ErrorKind::TypeMismatch {
                name: name.to_string(),
                declared,
                found: value.describe(),
            },
            source,
            span,
        )
        .with_hint(hint)
    };
    if !annotation.array {
        return conform(scalar, value).map_err(|value| mismatch(&value));
    }
    let Value::Array(mut items) = value else {
        return Err(mismatch(&value));
    };
    // Checked in place: arrays of the declared type (the usual case) are not rebuilt.
    for item in &mut items {
        if let (ScalarType::Float, Value::Int(number)) = (scalar, &*item) {
            *item = Value::Float(*number as f64);
        } else if item.scalar_type() != Some(scalar) {
            return Err(mismatch(item));
        }
    }
    Ok(Value::Array(items))
}

impl Evaluator<'_> {
    fn error(&self, kind: ErrorKind, span: Span) -> Error {
        Error::at(kind, self.source, span)
    }

    fn body_at(&self, path: &[u32]) -> &Body {
        let mut body: &Body = self.document;
        for index in path {
            match body.entries().get(*index as usize) {
                Some(Entry::Block(block)) => body = block.body(),
                // Paths come from the parser and from walking this same tree.
                _ => break,
            }
        }
        body
    }

    fn entry_at(&self, path: &[u32]) -> Option<&Entry> {
        let (last, parents) = path.split_last()?;
        self.body_at(parents).entries().get(*last as usize)
    }

    /// `Registry["main"].Package["jq"].latest`, for messages.
    fn display_path(&self, path: &[u32]) -> String {
        let mut parts = Vec::new();
        for end in 1..=path.len() {
            match self.entry_at(&path[..end]) {
                Some(Entry::Block(block)) => parts.push(match block.label() {
                    Some(label) => format!("{}[{}]", block.name(), Value::from(label)),
                    None => block.name().to_string(),
                }),
                Some(Entry::Field(field)) => parts.push(field.name().to_string()),
                None => {}
            }
        }
        parts.join(".")
    }

    fn field_span(&self, id: usize) -> Span {
        match self.entry_at(&self.paths[id]) {
            Some(Entry::Field(field)) => field.span().unwrap_or_default(),
            _ => Span::default(),
        }
    }

    /// Evaluates pending field `id` unless it already is. `at` is the reference asking for it.
    fn force(&mut self, id: usize, at: Option<Span>) -> Result<()> {
        match std::mem::replace(&mut self.states[id], State::Evaluating) {
            State::Done => {
                self.states[id] = State::Done;
                Ok(())
            }
            State::Evaluating => {
                let start = self
                    .stack
                    .iter()
                    .position(|other| *other == id)
                    .unwrap_or(0);
                let mut chain: Vec<String> = self.stack[start..]
                    .iter()
                    .map(|other| self.display_path(&self.paths[*other]))
                    .collect();
                chain.push(self.display_path(&self.paths[id]));
                let span = at.unwrap_or_else(|| self.field_span(id));
                Err(self
                    .error(ErrorKind::ReferenceCycle(chain.join(" -> ")), span)
                    .with_hint("a field cannot depend on itself, directly or through other fields"))
            }
            State::Pending(expr) => {
                self.stack.push(id);
                let annotation = self.annotations[id];
                let is_reference = is_reference_expression(&expr, annotation);
                let span = expr.span;
                let path = self.paths[id].clone();
                let (block, _) = path
                    .split_last()
                    .map_or((&path[..], 0), |(last, rest)| (rest, *last));
                let value = self.evaluate(expr, block)?;
                let name = match self.entry_at(&path) {
                    Some(Entry::Field(field)) => field.name().to_string(),
                    _ => String::new(),
                };
                let value =
                    check_declared(self.source, &name, annotation, is_reference, value, span)?;
                if let Some((last, parents)) = path.split_last() {
                    self.document.set_at(parents, *last as usize, value);
                }
                self.stack.pop();
                self.states[id] = State::Done;
                Ok(())
            }
        }
    }

    fn evaluate(&mut self, expr: Expr, block: &[u32]) -> Result<Value> {
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

    fn dereference(&mut self, reference: &Reference, block: &[u32], span: Span) -> Result<Value> {
        let written = self.source.slice(span).to_string();
        let unresolved = |arena: &Evaluator<'_>, reason: String| {
            arena.error(
                ErrorKind::UnresolvedReference {
                    reference: written.clone(),
                    reason,
                },
                span,
            )
        };
        let start: IndexPath = match reference.anchor {
            Anchor::Global => Vec::new(),
            Anchor::Local => block.to_vec(),
            Anchor::Parent(levels) if levels <= block.len() => {
                block[..block.len() - levels].to_vec()
            }
            Anchor::Parent(_) => {
                return Err(
                    unresolved(self, "`^` goes above the top level".to_string()).with_hint(
                        "each `^` goes up one block; use `$Block.field` for a path from the top",
                    ),
                )
            }
        };
        let segments: Vec<_> = reference
            .segments
            .iter()
            .map(|(segment, _)| segment.clone())
            .collect();
        let target = path::walk(&DocumentTree(self), start, &segments);
        match target.map_err(|reason| unresolved(self, reason))? {
            Target::Field(field, rest) => {
                if let Some(id) = self.by_path.get(&field).copied() {
                    self.force(id, Some(span))?;
                }
                let Some(Entry::Field(target)) = self.entry_at(&field) else {
                    return Err(unresolved(
                        self,
                        "the field could not be evaluated".to_string(),
                    ));
                };
                let value = path::index_value(target.value(), &segments[rest..]).cloned();
                value.map_err(|reason| unresolved(self, reason))
            }
            Target::Blocks(_) => Err(
                unresolved(self, "it names a block, not a value".to_string())
                    .with_hint("add the name of a field inside the block"),
            ),
        }
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

/// The document as the path walker sees it; blocks and fields are index paths.
struct DocumentTree<'e, 'd>(&'e Evaluator<'d>);

impl DocumentTree<'_, '_> {
    fn block_label(&self, path: &[u32]) -> Option<(&str, Option<&str>)> {
        match self.0.entry_at(path) {
            Some(Entry::Block(block)) => Some((block.name(), block.label())),
            _ => None,
        }
    }
}

impl Tree for DocumentTree<'_, '_> {
    type Block = IndexPath;
    type Field = IndexPath;

    fn member(&self, block: IndexPath, name: &str) -> Option<Member<IndexPath, IndexPath>> {
        let body = self.0.body_at(&block);
        let positions: Vec<u32> = if body.entries().len() > INDEX_THRESHOLD {
            let index = {
                let mut indexes = self.0.indexes.borrow_mut();
                match indexes.entry(block.clone()) {
                    MapEntry::Occupied(found) => found.get().clone(),
                    MapEntry::Vacant(slot) => {
                        let mut index = NameIndex::default();
                        for (position, entry) in body.entries().iter().enumerate() {
                            let name = match entry {
                                Entry::Field(field) => field.name_arc(),
                                Entry::Block(block) => block.name_arc(),
                            };
                            index.entry(name).or_default().push(position as u32);
                        }
                        slot.insert(Arc::new(index)).clone()
                    }
                }
            };
            index.get(name)?.clone()
        } else {
            body.entries()
                .iter()
                .enumerate()
                .filter(|(_, entry)| match entry {
                    Entry::Field(field) => field.name() == name,
                    Entry::Block(block) => block.name() == name,
                })
                .map(|(position, _)| position as u32)
                .collect()
        };
        let child = |position: &u32| {
            let mut path = block.clone();
            path.push(*position);
            path
        };
        match body.entries().get(*positions.first()? as usize)? {
            Entry::Field(_) => Some(Member::Field(child(&positions[0]))),
            Entry::Block(_) => Some(Member::Blocks(positions.iter().map(child).collect())),
        }
    }

    fn label(&self, block: IndexPath) -> Option<String> {
        self.block_label(&block)
            .and_then(|(_, label)| label.map(str::to_string))
    }

    fn describe(&self, block: IndexPath) -> String {
        match self.block_label(&block) {
            Some((name, label)) => describe_block(name, label),
            None => describe_block("", None),
        }
    }
}
