//! Resolution: evaluates the fields the parser could not (expressions and references),
//! following references with cycle detection, checks their declared types and writes their
//! values into the document. A field is evaluated at most once: the first reference to it (or
//! the pass over all pending fields) evaluates it, later ones read the stored value.
//!
//! Blocks and fields are addressed by index paths (the index of each enclosing block among its
//! parent's entries, then the entry's own), so references can go anywhere, up or down.
//!
//! Every string or array evaluation builds or copies is measured first and checked against the
//! [`Limits`], so a document that would expand (a string doubled line after line) is refused
//! at the expression that would cross a limit, before the memory is taken.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::Entry as MapEntry;
use std::sync::Arc;

use crate::ast::{
    Anchor, DeclaredType, Expr, ExprKind, ParsedDocument, Reference, Segment, TypeAnnotation,
};
use crate::document::{describe_block, Body, Document, Entry};
use crate::error::{Error, ErrorKind, Result};
use crate::hash::FxHashMap;
use crate::limits::{Limits, Measure};
use crate::path::{self, Member, Target, Tree};
use crate::source::{Source, Span};
use crate::value::{BinaryOperator, ScalarType, Value};

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
    limits: Limits,
    /// Bytes of values built or copied so far, against `limits.max_total_size`. A `Cell`, so
    /// a copy can be paid for while the value it copies is still borrowed from the document.
    total: Cell<usize>,
}

/// Evaluates a parsed document's pending fields within `limits`.
pub(crate) fn resolve(parsed: ParsedDocument, limits: Limits) -> Result<Document> {
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
        limits,
        total: Cell::new(0),
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
                let (value, _) = self.evaluate(expr, block)?;
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

    /// Refuses a value that nests or weighs more than the limits allow for one value.
    fn check_value(&self, measure: Measure, span: Span) -> Result<()> {
        if measure.nesting > self.limits.max_nesting {
            return Err(self
                .error(ErrorKind::TooDeep(self.limits.max_nesting), span)
                .with_hint(format!(
                    "arrays may nest at most {} deep",
                    self.limits.max_nesting
                )));
        }
        if measure.size > self.limits.max_value_size {
            return Err(self
                .error(
                    ErrorKind::ValueTooLarge {
                        size: measure.size,
                        limit: self.limits.max_value_size,
                    },
                    span,
                )
                .with_hint(
                    "values are capped so that a small file cannot expand into gigabytes (for example by doubling a string field after field)",
                ));
        }
        Ok(())
    }

    /// Checks a value about to be built or copied and adds it to the document's total.
    fn admit(&self, measure: Measure, span: Span) -> Result<()> {
        self.check_value(measure, span)?;
        let total = self.total.get().saturating_add(measure.size);
        if total > self.limits.max_total_size {
            return Err(self
                .error(
                    ErrorKind::EvaluationTooLarge {
                        size: total,
                        limit: self.limits.max_total_size,
                    },
                    span,
                )
                .with_hint(
                    "every copy a reference makes counts, so a document cannot copy a large value over and over",
                ));
        }
        self.total.set(total);
        Ok(())
    }

    /// Evaluates an expression to its value and that value's measure. Literals are taken as
    /// written (the input bounds them); what evaluation builds or copies is admitted against
    /// the limits before it is built.
    fn evaluate(&mut self, expr: Expr, block: &[u32]) -> Result<(Value, Measure)> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.error(ErrorKind::TooDeep(self.limits.max_depth), expr.span));
        }
        let span = expr.span;
        let scalar = |value: Value| (value, Measure::default());
        let result = match expr.kind {
            ExprKind::Literal(value) => {
                let measure = Measure::of(&value);
                Ok((value, measure))
            }
            ExprKind::Array(items) => {
                // The slots are as many as the items written, so the input bounds them; the
                // items' own sizes are checked as they come, before the next is evaluated.
                let mut measure = Measure {
                    size: items.len().saturating_mul(crate::limits::ELEMENT_SIZE),
                    nesting: 1,
                };
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    let (value, inner) = self.evaluate(item, block)?;
                    measure.size = measure.size.saturating_add(inner.size);
                    measure.nesting = measure.nesting.max(inner.nesting + 1);
                    self.check_value(measure, span)?;
                    values.push(value);
                }
                Ok((Value::Array(values), measure))
            }
            ExprKind::Reference(reference) => self.dereference(&reference, block, span),
            ExprKind::Unary(operator, operand) => {
                let (value, _) = self.evaluate(*operand, block)?;
                operator
                    .apply(value)
                    .map(scalar)
                    .map_err(|kind| self.error(kind, span))
            }
            ExprKind::Cast(target, operand) => {
                let (value, _) = self.evaluate(*operand, block)?;
                let value = value.cast(target).map_err(|kind| self.error(kind, span))?;
                // Measured after the cast: a cast builds at most the operand's text, which was
                // admitted already, or a number's few bytes, so it cannot grow anything.
                let measure = Measure::of(&value);
                if target == ScalarType::String {
                    self.admit(measure, span)?;
                }
                Ok((value, measure))
            }
            ExprKind::Binary(
                operator @ (BinaryOperator::And | BinaryOperator::Or),
                left,
                right,
            ) => {
                let (left_value, _) = self.evaluate(*left, block)?;
                // Short-circuit as C does: the right side is not evaluated when the left decides.
                match (operator, &left_value) {
                    (BinaryOperator::And, Value::Bool(false)) => Ok(scalar(Value::Bool(false))),
                    (BinaryOperator::Or, Value::Bool(true)) => Ok(scalar(Value::Bool(true))),
                    _ => {
                        let (right_value, _) = self.evaluate(*right, block)?;
                        operator
                            .apply(left_value, right_value)
                            .map(scalar)
                            .map_err(|kind| self.error(kind, span))
                    }
                }
            }
            ExprKind::Binary(operator, left, right) => {
                let left = self.evaluate(*left, block)?;
                let right = self.evaluate(*right, block)?;
                let grown = match operator {
                    BinaryOperator::Add => joined(&left, &right),
                    _ => None,
                };
                if let Some(measure) = grown {
                    self.admit(measure, span)?;
                }
                operator
                    .apply(left.0, right.0)
                    .map(|value| (value, grown.unwrap_or_default()))
                    .map_err(|kind| {
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
                match self.evaluate(*condition, block)?.0 {
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

    fn dereference(
        &mut self,
        reference: &Reference,
        block: &[u32],
        span: Span,
    ) -> Result<(Value, Measure)> {
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
        let segments: Vec<_> = reference
            .segments
            .iter()
            .map(|(segment, _)| segment.clone())
            .collect();
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
            Anchor::Nearest => {
                let Some((Segment::Name(name), name_span)) = reference.segments.first() else {
                    return Err(unresolved(self, "it names nothing".to_string()));
                };
                let field = self.nearest_field(name, block, *name_span)?;
                return self.field_value(&field, &segments, 1, span, &unresolved);
            }
        };
        let target = path::walk(&DocumentTree(self), start, &segments);
        match target.map_err(|reason| unresolved(self, reason))? {
            Target::Field(field, rest) => {
                self.field_value(&field, &segments, rest, span, &unresolved)
            }
            Target::Blocks(_) => Err(
                unresolved(self, "it names a block, not a value".to_string())
                    .with_hint("add the name of a field inside the block"),
            ),
        }
    }

    /// The value of the field at `field` (evaluating it first if it is pending), indexed by
    /// `segments[rest..]`, copied once it is admitted against the limits.
    fn field_value(
        &mut self,
        field: &[u32],
        segments: &[Segment],
        rest: usize,
        span: Span,
        unresolved: &dyn Fn(&Evaluator<'_>, String) -> Error,
    ) -> Result<(Value, Measure)> {
        if let Some(id) = self.by_path.get(field).copied() {
            self.force(id, Some(span))?;
        }
        let Some(Entry::Field(target)) = self.entry_at(field) else {
            return Err(unresolved(
                self,
                "the field could not be evaluated".to_string(),
            ));
        };
        let value = path::index_value(target.value(), &segments[rest..])
            .map_err(|reason| unresolved(self, reason))?;
        let measure = Measure::of(value);
        self.admit(measure, span)?;
        Ok((value.clone(), measure))
    }

    /// The field a bare `name` written in `block` stands for: the one in `block`, else in the
    /// closest block around it that has one.
    fn nearest_field(&self, name: &str, block: &[u32], span: Span) -> Result<IndexPath> {
        let tree = DocumentTree(self);
        let mut searched = Vec::new();
        let mut shadowing_block = false;
        for end in (0..=block.len()).rev() {
            match tree.member(block[..end].to_vec(), name) {
                Some(Member::Field(field)) => {
                    // A name stands for the nearest field even when that is the field being
                    // defined, as `$.name` would; say how to reach an outer one instead.
                    let own = self.by_path.get(&field).copied();
                    if own.is_some() && own == self.stack.last().copied() {
                        let path = self.display_path(&field);
                        return Err(self
                            .error(ErrorKind::ReferenceCycle(format!("{path} -> {path}")), span)
                            .with_hint(format!(
                                "`{name}` here is this field itself; a `{name}` in the block around it is written `^{name}`"
                            )));
                    }
                    return Ok(field);
                }
                Some(Member::Blocks(_)) => shadowing_block = true,
                None => {}
            }
            searched.push(tree.describe(block[..end].to_vec()));
        }
        let searched = match searched.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, inner)) => format!("{} or {last}", inner.join(", ")),
            None => String::new(),
        };
        let hint = if shadowing_block {
            format!("`{name}` is a block: name a field inside it, such as `$.{name}.field`, or `$Block.{name}.field` from the top level")
        } else {
            format!("text needs double quotes: \"{name}\"; a field of another block is written `$Block.{name}`")
        };
        Err(self
            .error(
                ErrorKind::UnknownName {
                    name: name.to_string(),
                    searched,
                },
                span,
            )
            .with_hint(hint))
    }
}

/// The measure of `left + right` when it builds a string or an array, from its operands'
/// measures (a number or bool joined to a string counts its text), so the result can be
/// refused before it is built. `None` when `+` adds numbers or fails.
fn joined(left: &(Value, Measure), right: &(Value, Measure)) -> Option<Measure> {
    let text_size = |(value, measure): &(Value, Measure)| match value {
        Value::String(_) => measure.size,
        other => other.to_text().len(),
    };
    match (&left.0, &right.0) {
        (Value::Array(_), Value::Array(_)) => Some(Measure {
            size: left.1.size.saturating_add(right.1.size),
            nesting: left.1.nesting.max(right.1.nesting),
        }),
        (Value::Array(_), _) | (_, Value::Array(_)) => None,
        (Value::String(_), _) | (_, Value::String(_)) => Some(Measure {
            size: text_size(left).saturating_add(text_size(right)),
            nesting: 0,
        }),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    fn run(text: &str, limits: Limits) -> Result<Document> {
        resolve(parse("t.acl", text)?, limits)
    }

    #[test]
    fn limits_are_checked_where_values_are_built_or_copied() {
        let value = |bytes| Limits::default().with_max_value_size(bytes);
        let total = |bytes| Limits::default().with_max_total_size(bytes);
        let too_large = |size, limit| Some(ErrorKind::ValueTooLarge { size, limit });
        let too_much = |size, limit| Some(ErrorKind::EvaluationTooLarge { size, limit });
        // (document, limits, the error, or None when it resolves)
        let cases: Vec<(&str, Limits, Option<ErrorKind>)> = vec![
            ("a = \"0123456789\"; b = a + a;", value(20), None),
            (
                "a = \"0123456789\"; b = a + a;",
                value(19),
                too_large(20, 19),
            ),
            ("a = \"0123456789\"; b = a;", value(9), too_large(10, 9)),
            // A number or bool joined to a string counts its text.
            ("a = 12345; b = \"x\" + a;", value(5), too_large(6, 5)),
            ("a = 1.5; b = a + \"xy\";", value(4), too_large(5, 4)),
            ("b = \"xy\" + true;", value(5), too_large(6, 5)),
            // Arrays count a slot per element as well as the elements.
            ("a = { 1 }; b = a + a;", value(64), None),
            ("a = { 1 }; b = a + a;", value(63), too_large(64, 63)),
            ("a = { \"ab\" }; b = { a, a };", value(132), None),
            (
                "a = { \"ab\" }; b = { a, a };",
                value(131),
                too_large(132, 131),
            ),
            (
                "a = { \"ab\" }; b = { a, a };",
                Limits::default().with_max_nesting(1),
                Some(ErrorKind::TooDeep(1)),
            ),
            (
                "v = { \"0123456789\", 1 }; b = v[0] + v[1];",
                value(11),
                None,
            ),
            (
                "v = { \"0123456789\", 1 }; b = v[0] + v[1];",
                value(10),
                too_large(11, 10),
            ),
            // Literals are taken as written (the input bounds them), but an array built around
            // one is a new value.
            ("b = true ? \"0123456789\" : \"\";", value(1), None),
            ("b = { \"0123456789\", -1.5 };", value(1), too_large(74, 1)),
            // Every copy and every join counts towards the total, even when thrown away.
            ("a = \"0123456789\"; b = a + a;", total(40), None),
            (
                "a = \"0123456789\"; b = a + a;",
                total(39),
                too_much(40, 39),
            ),
            (
                "a = \"0123456789\"; b = a == a;",
                total(19),
                too_much(20, 19),
            ),
            (
                "a = \"0123456789\"; b = (string)a;",
                total(19),
                too_much(20, 19),
            ),
            // What is never evaluated costs nothing.
            ("a = \"0123456789\"; b = false && a == a;", total(0), None),
            ("a = \"0123456789\"; b = true ? 1 : a + a;", total(0), None),
            // Depth counts expression nodes and references followed.
            ("b = -(-(1.5));", Limits::default().with_max_depth(3), None),
            (
                "b = -(-(1.5));",
                Limits::default().with_max_depth(2),
                Some(ErrorKind::TooDeep(2)),
            ),
            (
                "a = b; b = c; c = 1;",
                Limits::default().with_max_depth(2),
                None,
            ),
            (
                "a = b; b = c; c = 1;",
                Limits::default().with_max_depth(1),
                Some(ErrorKind::TooDeep(1)),
            ),
        ];
        for (text, limits, expected) in cases {
            let result = run(text, limits);
            match (&result, &expected) {
                (Ok(_), None) => {}
                (Err(error), Some(kind)) => {
                    assert_eq!(error.kind(), kind, "{text}");
                    assert!(error.location().is_some(), "{text}");
                }
                _ => panic!("{text} with {limits:?}: expected {expected:?}, got {result:?}"),
            }
        }
    }

    #[test]
    fn bare_names_find_the_nearest_field() {
        // (document, path, expected value)
        let cases: &[(&str, &str, Value)] = &[
            ("x = 1; y = x;", "y", Value::Int(1)),
            ("x = 1; A { y = x; }", "A.y", Value::Int(1)),
            (
                "x = 1; A { x = 2; B { C { y = x; } } }",
                "A.B.C.y",
                Value::Int(2),
            ),
            ("x = 1; A { x = 2; } B { y = x; }", "B.y", Value::Int(1)),
            ("A { y = x; x = z + 1; } z = 1;", "A.y", Value::Int(2)),
            ("x = 1; A { x { } y = x; }", "A.y", Value::Int(1)),
            ("v = { { 7 } }; y = v[0][0];", "y", Value::Int(7)),
        ];
        for (text, path, expected) in cases {
            let document =
                run(text, Limits::default()).unwrap_or_else(|error| panic!("{text}\n{error}"));
            assert_eq!(document.get(path).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn unknown_bare_names_list_the_blocks_searched() {
        let cases = [
            ("y = x;", "the top level"),
            ("A { y = x; }", "`A` or the top level"),
            (
                "A { B \"b\" { C { y = x; } } }",
                "`C`, `B \"b\"`, `A` or the top level",
            ),
        ];
        for (text, searched) in cases {
            let error = run(text, Limits::default()).unwrap_err();
            assert_eq!(
                error.kind(),
                &ErrorKind::UnknownName {
                    name: "x".to_string(),
                    searched: searched.to_string()
                },
                "{text}"
            );
        }
    }
}
