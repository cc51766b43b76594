//! Recursive-descent parser: text to [`ParsedDocument`]. Expression precedence follows C:
//! `?:` < `||` < `&&` < `== !=` < `< <= > >=` < `+ -` < `* / %` < unary and casts.

use std::sync::Arc;

use crate::ast::{
    Anchor, DeclaredType, Expr, ExprKind, ParsedDocument, PendingField, Reference, Segment,
    TypeAnnotation,
};
use crate::document::{Block, Body, Document, Entry, Field};
use crate::error::{Error, ErrorKind, Result};
use crate::eval::check_declared;
use crate::hash::FxHashMap;
use crate::lexer::{float_value, integer_value, string_value, Lexer, Token};
use crate::source::{Source, Span, MAX_SOURCE_LEN};
use crate::value::{BinaryOperator, ScalarType, UnaryOperator, Value};

/// How deeply blocks may nest: deep enough for any real configuration, shallow enough that
/// recursion cannot overflow the stack on hostile input.
pub(crate) const MAX_BLOCK_DEPTH: usize = 64;

/// How deeply an expression may nest, counting parentheses, arrays, unary operators, casts,
/// `?:` and each operator of a chain like `a + b + c` (which nests to the left). Parsing,
/// evaluating and dropping an expression all recurse through it, so it is bounded however it
/// was written; this matches the evaluator's default depth ([`crate::Limits::max_depth`]),
/// since a deeper expression could not be evaluated anyway. Counted apart from blocks, so a
/// field deep in blocks may still hold any expression.
pub(crate) const MAX_EXPRESSION_DEPTH: usize = 128;

/// Type keywords: a field may be called one, but a bare one in an expression is refused, so
/// that `(int)` and a field called `int` are never confused.
const TYPE_KEYWORDS: [&str; 5] = ["int", "float", "bool", "string", "ref"];

const INTEGER_RANGE_HINT: &str =
    "integers are 64-bit: from -9223372036854775808 to 9223372036854775807";

const TYPE_HINT: &str =
    "field types are `int`, `float`, `bool`, `string` and `ref`, optionally followed by `[]`";

/// Parses ACL text. `name` (usually the file path) appears in error messages.
pub fn parse(name: &str, text: &str) -> Result<ParsedDocument> {
    parse_source(Source::new(name, text))
}

/// Parses a source that is already wrapped.
pub(crate) fn parse_source(source: Arc<Source>) -> Result<ParsedDocument> {
    if source.text().len() > MAX_SOURCE_LEN {
        return Err(Error::new(ErrorKind::TooLarge {
            file: source.name().to_string(),
            size: source.text().len(),
        }));
    }
    let (body, pending) = {
        let mut parser = Parser::new(&source);
        let entries = parser.items(None)?;
        (Body::from_entries(entries), parser.pending)
    };
    Ok(ParsedDocument {
        document: Document::from_parts(body, source),
        pending,
    })
}

pub(crate) struct Parser<'a> {
    source: &'a Source,
    lexer: Lexer<'a>,
    /// Tokens read but not yet taken: `lookahead[..ahead]`, the next one first. Three is the
    /// most any rule looks ahead (a cast: `(`, type, `)`).
    lookahead: [(Token, Span); 3],
    ahead: usize,
    /// End of the last token taken, so "expected `;`" can point just past the value.
    last_end: usize,
    /// Nesting of the expression being parsed, up to `MAX_EXPRESSION_DEPTH`.
    depth: usize,
    /// Nesting of blocks, up to `MAX_BLOCK_DEPTH`.
    block_depth: usize,
    /// Index of each enclosing block among its parent's entries.
    path: Vec<u32>,
    pending: Vec<PendingField>,
    /// One shared allocation per distinct name.
    names: FxHashMap<&'a str, Arc<str>>,
    /// Direct-mapped cache in front of `names`: a file has a few dozen distinct names, so a
    /// lookup here almost always hits without hashing the whole name.
    recent_names: [Option<(&'a str, Arc<str>)>; 64],
    /// Entries of every open block, innermost last: each block's entries are collected here
    /// and moved out once, into an allocation of exactly their size, when the block closes.
    scratch: Vec<Entry>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(source: &'a Source) -> Self {
        Parser {
            source,
            lexer: Lexer::new(source),
            lookahead: [(Token::Eof, Span::default()); 3],
            ahead: 0,
            last_end: 0,
            depth: 0,
            block_depth: 0,
            path: Vec::new(),
            pending: Vec::new(),
            names: FxHashMap::default(),
            recent_names: [const { None }; 64],
            scratch: Vec::new(),
        }
    }

    fn peek(&mut self, index: usize) -> Result<&(Token, Span)> {
        while self.ahead <= index {
            self.lookahead[self.ahead] = self.lexer.next_token()?;
            self.ahead += 1;
        }
        Ok(&self.lookahead[index])
    }

    fn peek_token(&mut self, index: usize) -> Result<&Token> {
        Ok(&self.peek(index)?.0)
    }

    fn bump(&mut self) -> Result<(Token, Span)> {
        let taken = if self.ahead == 0 {
            self.lexer.next_token()?
        } else {
            let taken = self.lookahead[0];
            self.lookahead.copy_within(1..self.ahead, 0);
            self.ahead -= 1;
            taken
        };
        self.last_end = taken.1.end as usize;
        Ok(taken)
    }

    fn error_at(&self, kind: ErrorKind, span: Span) -> Error {
        Error::at(kind, self.source, span)
    }

    fn unexpected(&mut self, expected: &str) -> Error {
        let (token, span) = match self.peek(0) {
            Ok(pair) => *pair,
            Err(error) => return error,
        };
        let found = token.describe(self.source.slice(span));
        self.error_at(
            ErrorKind::Expected {
                expected: expected.to_string(),
                found,
            },
            span,
        )
    }

    fn expect(&mut self, wanted: &Token, expected: &str) -> Result<Span> {
        if self.peek_token(0)? == wanted {
            Ok(self.bump()?.1)
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn enter(&mut self, span: Span) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return Err(self.error_at(ErrorKind::TooDeep(MAX_EXPRESSION_DEPTH), span));
        }
        Ok(())
    }

    /// Entries until `}` (of a block opened at `open`) or end of file (top level).
    fn items(&mut self, open: Option<Span>) -> Result<Vec<Entry>> {
        let first = self.scratch.len();
        loop {
            match self.peek_token(0)? {
                Token::RightBrace if open.is_some() => break,
                Token::Eof if open.is_none() => break,
                Token::Eof => {
                    let open = open.unwrap_or_default();
                    let line = self.source.position(open.start as usize).line;
                    return Err(self
                        .unexpected("`}`")
                        .with_hint(format!("the block opened on line {line} is never closed")));
                }
                Token::Identifier => {
                    let index = u32::try_from(self.scratch.len() - first).unwrap_or(u32::MAX);
                    self.item(index)?;
                }
                _ => return Err(self.unexpected("a field or a block")),
            }
        }
        self.check_names(&self.scratch[first..])?;
        Ok(self.scratch.drain(first..).collect())
    }

    /// Rejects a second field of one name, a second block with the same name and label, and a
    /// name used for both a field and a block: each would make lookups ambiguous. Blocks are
    /// small, so a pairwise scan beats hashing; large ones (a registry's packages) are hashed.
    fn check_names(&self, entries: &[Entry]) -> Result<()> {
        if entries.len() <= 16 {
            // Names come from one interner, so equal names share one allocation.
            for (position, entry) in entries.iter().enumerate() {
                for earlier in &entries[..position] {
                    if std::ptr::eq(entry_name(earlier).as_ptr(), entry_name(entry).as_ptr()) {
                        self.check_pair(earlier, entry)?;
                    }
                }
            }
            return Ok(());
        }
        let mut first_by_name: FxHashMap<&str, &Entry> = FxHashMap::default();
        let mut first_by_key: FxHashMap<(&str, Option<&str>), &Entry> = FxHashMap::default();
        for entry in entries {
            let first = *first_by_name.entry(entry_name(entry)).or_insert(entry);
            self.check_pair(first, entry)?;
            let key = match entry {
                Entry::Block(block) if block.label().is_none() => continue,
                Entry::Block(block) => (block.name(), block.label()),
                Entry::Field(field) => (field.name(), None),
            };
            if let Some(earlier) = first_by_key.insert(key, entry) {
                self.check_pair(earlier, entry)?;
            }
        }
        Ok(())
    }

    fn check_pair(&self, earlier: &Entry, later: &Entry) -> Result<()> {
        if std::ptr::eq(earlier, later) {
            return Ok(());
        }
        let name = entry_name(later);
        let span = entry_span(later);
        let kind = match (earlier, later) {
            (Entry::Field(_), Entry::Block(_)) | (Entry::Block(_), Entry::Field(_)) => {
                return Err(self.error_at(ErrorKind::NameClash(name.to_string()), span))
            }
            (Entry::Field(_), Entry::Field(_)) => ErrorKind::DuplicateField(name.to_string()),
            (Entry::Block(first), Entry::Block(second)) => match (first.label(), second.label()) {
                (Some(first), Some(second)) if first == second => ErrorKind::DuplicateBlock {
                    name: name.to_string(),
                    label: second.to_string(),
                },
                // Unlabelled blocks may repeat; differently labelled ones are distinct.
                _ => return Ok(()),
            },
        };
        let line = self
            .source
            .position(entry_span(earlier).start as usize)
            .line;
        Err(self
            .error_at(kind, span)
            .with_hint(format!("the first definition is on line {line}")))
    }

    fn string_text(&self, token: Token, span: Span) -> String {
        string_value(self.source, token, span)
    }

    fn intern(&mut self, span: Span) -> Arc<str> {
        let name: &'a str = self.source.slice(span);
        let bytes = name.as_bytes();
        let slot = match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                (bytes.len().wrapping_mul(31)
                    ^ usize::from(*first).wrapping_mul(7)
                    ^ usize::from(*last))
                    & 63
            }
            _ => 0,
        };
        if let Some((cached, shared)) = &self.recent_names[slot] {
            if *cached == name {
                return shared.clone();
            }
        }
        let shared = self
            .names
            .entry(name)
            .or_insert_with(|| Arc::from(name))
            .clone();
        self.recent_names[slot] = Some((name, shared.clone()));
        shared
    }

    fn name(&mut self) -> Result<Span> {
        self.expect(&Token::Identifier, "a name")
    }

    fn item(&mut self, index: u32) -> Result<()> {
        let first_span = self.peek(0)?.1;
        let word = self.source.slice(first_span);
        let declared = match word {
            "ref" => Some(DeclaredType::Ref),
            _ => ScalarType::from_keyword(word).map(DeclaredType::Scalar),
        };
        let next = self.peek_token(1)?;
        let next_is_identifier = *next == Token::Identifier;
        let next_is_bracket = *next == Token::LeftBracket;
        let next_opens_block = matches!(
            next,
            Token::LeftBrace | Token::String | Token::EscapedString
        );
        let next_is_assign = *next == Token::Assign;
        if next_is_identifier || (next_is_bracket && declared.is_some()) {
            let Some(base) = declared else {
                return Err(self
                    .error_at(
                        ErrorKind::Expected {
                            expected: "a type".to_string(),
                            found: format!("`{word}`"),
                        },
                        first_span,
                    )
                    .with_hint(TYPE_HINT));
            };
            self.bump()?;
            let mut array = false;
            let mut span = first_span;
            if self.peek_token(0)? == &Token::LeftBracket {
                self.bump()?;
                span = span.to(self.expect(&Token::RightBracket, "`]`")?);
                array = true;
            }
            let annotation = TypeAnnotation { base, array, span };
            self.field(index, Some(annotation), first_span)
        } else if next_is_assign {
            self.field(index, None, first_span)
        } else if next_opens_block {
            self.block(index)
        } else {
            let expected = format!("`=`, `{{` or a label after `{word}`");
            self.bump()?;
            Err(self
                .unexpected(&expected)
                .with_hint("a field is `name = value;` or `type name = value;`; a block is `Name { ... }` or `Name \"label\" { ... }`"))
        }
    }

    /// Parses a field and pushes it onto the scratch stack. (Entries are pushed rather than
    /// returned: moving a large `Ok` value up through each `?` was a tenth of parse time.)
    fn field(&mut self, index: u32, annotation: Option<TypeAnnotation>, start: Span) -> Result<()> {
        let name = self.name()?;
        if self.peek_token(0)? != &Token::Assign {
            let expected = format!("`=` after `{}`", self.source.slice(name));
            return Err(self.unexpected(&expected));
        }
        self.bump()?;
        // Nearly every field in a real file is `name = literal;`: take that shape directly
        // instead of descending through every precedence level.
        let simple = self.literal_then(Token::Semicolon, Token::Semicolon)?;
        let literal = if simple {
            Ok(self.take_literal()?)
        } else {
            into_literal(self.expression()?)
        };
        if self.peek_token(0)? != &Token::Semicolon {
            let found = self.unexpected("`;`");
            let at = Span::new(self.last_end, self.last_end);
            let expected = ErrorKind::Expected {
                expected: "`;` after the value".to_string(),
                found: match found.kind() {
                    ErrorKind::Expected { found, .. } => found.clone(),
                    _ => return Err(found),
                },
            };
            return Err(self
                .error_at(expected, at)
                .with_hint("every field ends with `;`"));
        }
        let end = self.bump()?.1;
        let name = self.intern(name);
        let value = match literal {
            Ok((value, span)) => {
                check_declared(self.source, &name, annotation, false, value, span)?
            }
            Err(value) => {
                let mut path = self.path.clone();
                path.push(index);
                self.pending.push(PendingField {
                    path,
                    annotation,
                    value,
                });
                // Overwritten when the expression is evaluated.
                Value::Bool(false)
            }
        };
        self.scratch.push(Entry::Field(
            Field::new(name, value).with_span(start.to(end)),
        ));
        Ok(())
    }

    /// Whether the next token is a literal followed by `end` or `other_end`: the shapes
    /// (`x = 1;`, array items `1,` and `1}`) that skip the expression grammar.
    fn literal_then(&mut self, end: Token, other_end: Token) -> Result<bool> {
        let next = *self.peek_token(1)?;
        if next != end && next != other_end {
            return Ok(false);
        }
        let (token, span) = *self.peek(0)?;
        Ok(is_literal_token(&token, self.source.slice(span)))
    }

    /// Takes a literal token (one `literal_then` accepted) as a value.
    fn take_literal(&mut self) -> Result<(Value, Span)> {
        let (token, span) = self.bump()?;
        let value = match token {
            Token::String | Token::EscapedString => Value::String(self.string_text(token, span)),
            Token::Integer => match i64::try_from(integer_value(self.source, span)) {
                Ok(number) => Value::Int(number),
                Err(_) => {
                    return Err(self
                        .error_at(
                            ErrorKind::InvalidNumber(self.source.slice(span).to_string()),
                            span,
                        )
                        .with_hint(INTEGER_RANGE_HINT))
                }
            },
            Token::Float => Value::Float(float_value(self.source, span)),
            _ => Value::Bool(self.source.slice(span) == "true"),
        };
        Ok((value, span))
    }

    /// Parses a block and pushes it onto the scratch stack.
    fn block(&mut self, index: u32) -> Result<()> {
        let name = self.name()?;
        let label = match *self.peek_token(0)? {
            token @ (Token::String | Token::EscapedString) => {
                let span = self.bump()?.1;
                Some(self.string_text(token, span))
            }
            _ => None,
        };
        let open = self.expect(&Token::LeftBrace, "`{`")?;
        self.block_depth += 1;
        if self.block_depth > MAX_BLOCK_DEPTH {
            return Err(self.error_at(ErrorKind::TooDeep(MAX_BLOCK_DEPTH), open));
        }
        self.path.push(index);
        let entries = self.items(Some(open))?;
        self.path.pop();
        self.block_depth -= 1;
        let close = self.bump()?.1;
        let name_text = self.intern(name);
        self.scratch.push(Entry::Block(Box::new(Block::from_parts(
            name_text,
            label,
            Body::from_entries(entries),
            name.to(close),
        ))));
        Ok(())
    }

    pub(crate) fn expression(&mut self) -> Result<Expr> {
        let start = self.peek(0)?.1;
        self.enter(start)?;
        let condition = self.binary(1)?;
        let result = if self.peek_token(0)? == &Token::Question {
            self.bump()?;
            let then = self.expression()?;
            self.expect(&Token::Colon, "`:` in `condition ? a : b`")?;
            let otherwise = self.expression()?;
            Expr {
                span: condition.span.to(otherwise.span),
                kind: ExprKind::Conditional(
                    Box::new(condition),
                    Box::new(then),
                    Box::new(otherwise),
                ),
            }
        } else {
            condition
        };
        self.depth -= 1;
        Ok(result)
    }

    /// Binding power of a binary operator token: higher binds tighter. All are left-associative.
    fn binary_operator(token: &Token) -> Option<(u8, BinaryOperator)> {
        use BinaryOperator::*;
        Some(match token {
            Token::OrOr => (1, Or),
            Token::AndAnd => (2, And),
            Token::Equal => (3, Equal),
            Token::NotEqual => (3, NotEqual),
            Token::Less => (4, Less),
            Token::LessEqual => (4, LessEqual),
            Token::Greater => (4, Greater),
            Token::GreaterEqual => (4, GreaterEqual),
            Token::Plus => (5, Add),
            Token::Minus => (5, Subtract),
            Token::Star => (6, Multiply),
            Token::Slash => (6, Divide),
            Token::Percent => (6, Remainder),
            _ => return None,
        })
    }

    /// Precedence climbing: one loop per level actually used, so the stack grows with how
    /// deeply the text nests, not with how many precedence levels the grammar has.
    fn binary(&mut self, minimum: u8) -> Result<Expr> {
        let mut left = self.unary()?;
        // The loop recurses only for the right operand, but each operator puts the tree so far
        // one level deeper, and evaluating or dropping it recurses down that side.
        let mut levels = 0;
        while let Some((power, operator)) = Self::binary_operator(self.peek_token(0)?) {
            if power < minimum {
                break;
            }
            let operator_span = self.bump()?.1;
            self.enter(operator_span)?;
            levels += 1;
            let right = self.binary(power + 1)?;
            left = Expr {
                span: left.span.to(right.span),
                kind: ExprKind::Binary(operator, Box::new(left), Box::new(right)),
            };
        }
        self.depth -= levels;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr> {
        let start = self.peek(0)?.1;
        let operator = match self.peek_token(0)? {
            Token::Bang => UnaryOperator::Not,
            Token::Minus => UnaryOperator::Negate,
            Token::Plus => UnaryOperator::Plus,
            Token::LeftParen => {
                return if self.is_cast()? {
                    self.cast()
                } else {
                    self.primary()
                }
            }
            _ => return self.primary(),
        };
        self.bump()?;
        // `-9223372036854775808` only fits when the sign is part of the literal.
        if operator == UnaryOperator::Negate {
            if let (Token::Integer, span) = *self.peek(0)? {
                let magnitude = integer_value(self.source, span);
                if magnitude <= 1 << 63 {
                    self.bump()?;
                    let value = (magnitude as i64).wrapping_neg();
                    return Ok(Expr {
                        kind: ExprKind::Literal(Value::Int(value)),
                        span: start.to(span),
                    });
                }
            }
        }
        self.enter(start)?;
        let operand = self.unary()?;
        self.depth -= 1;
        Ok(Expr {
            span: start.to(operand.span),
            kind: ExprKind::Unary(operator, Box::new(operand)),
        })
    }

    fn is_cast(&mut self) -> Result<bool> {
        let (token, span) = self.peek(1)?;
        let (is_identifier, span) = (*token == Token::Identifier, *span);
        Ok(is_identifier
            && ScalarType::from_keyword(self.source.slice(span)).is_some()
            && self.peek_token(2)? == &Token::RightParen)
    }

    fn cast(&mut self) -> Result<Expr> {
        let start = self.bump()?.1;
        let type_span = self.bump()?.1;
        let target =
            ScalarType::from_keyword(self.source.slice(type_span)).unwrap_or(ScalarType::String);
        self.bump()?;
        self.enter(start)?;
        let operand = self.unary()?;
        self.depth -= 1;
        Ok(Expr {
            span: start.to(operand.span),
            kind: ExprKind::Cast(target, Box::new(operand)),
        })
    }

    fn primary(&mut self) -> Result<Expr> {
        let span = self.peek(0)?.1;
        if let token @ (Token::String | Token::EscapedString) = *self.peek_token(0)? {
            self.bump()?;
            return Ok(Expr {
                kind: ExprKind::Literal(Value::String(self.string_text(token, span))),
                span,
            });
        }
        let kind = match *self.peek_token(0)? {
            Token::Integer => {
                let value = i64::try_from(integer_value(self.source, span)).map_err(|_| {
                    self.error_at(
                        ErrorKind::InvalidNumber(self.source.slice(span).to_string()),
                        span,
                    )
                    .with_hint(
                        "integers are 64-bit: from -9223372036854775808 to 9223372036854775807",
                    )
                })?;
                ExprKind::Literal(Value::Int(value))
            }
            Token::Float => ExprKind::Literal(Value::Float(float_value(self.source, span))),
            Token::Identifier => match self.source.slice(span) {
                "true" => ExprKind::Literal(Value::Bool(true)),
                "false" => ExprKind::Literal(Value::Bool(false)),
                "null" => {
                    return Err(self.unexpected("a value").with_hint(
                        "ACL has no null: leave the field out, or give it a value such as \"\", 0 or false",
                    ))
                }
                word if TYPE_KEYWORDS.contains(&word) => {
                    let cast = if ScalarType::from_keyword(word).is_some() {
                        format!("a cast is written `({word})value`, and ")
                    } else {
                        String::new()
                    };
                    let hint = format!(
                        "`{word}` is a type keyword: {cast}a field called `{word}` is written `$.{word}`"
                    );
                    return Err(self.unexpected("a value").with_hint(hint));
                }
                _ => return self.bare_reference(),
            },
            Token::LeftParen => {
                self.bump()?;
                let inner = self.expression()?;
                let end = self.expect(&Token::RightParen, "`)`")?;
                return Ok(Expr {
                    kind: inner.kind,
                    span: span.to(end),
                });
            }
            Token::LeftBrace => return self.array(),
            Token::Dollar | Token::Caret => return self.reference(),
            _ => return Err(self.unexpected("a value")),
        };
        self.bump()?;
        Ok(Expr { kind, span })
    }

    fn array(&mut self) -> Result<Expr> {
        // Not a level of its own: an item that nests goes through `expression`, which counts.
        let open = self.bump()?.1;
        let mut items = Vec::new();
        while self.peek_token(0)? != &Token::RightBrace {
            if self.literal_then(Token::Comma, Token::RightBrace)? {
                let (value, span) = self.take_literal()?;
                items.push(Expr {
                    kind: ExprKind::Literal(value),
                    span,
                });
            } else {
                items.push(self.expression()?);
            }
            if self.peek_token(0)? == &Token::Comma {
                self.bump()?;
            } else if self.peek_token(0)? != &Token::RightBrace {
                return Err(self.unexpected("`,` or `}` in the array"));
            }
        }
        let close = self.bump()?.1;
        Ok(Expr {
            kind: ExprKind::Array(items),
            span: open.to(close),
        })
    }

    fn reference(&mut self) -> Result<Expr> {
        let (token, start) = self.bump()?;
        let anchor = if token == Token::Dollar {
            if self.peek_token(0)? == &Token::Dot {
                self.bump()?;
                Anchor::Local
            } else {
                Anchor::Global
            }
        } else {
            let mut levels = 1;
            while self.peek_token(0)? == &Token::Caret {
                self.bump()?;
                levels += 1;
            }
            Anchor::Parent(levels)
        };
        let first = self.name()?;
        let mut segments = vec![(Segment::Name(self.source.slice(first).to_string()), first)];
        segments.extend(self.path_steps()?);
        let end = segments.last().map_or(start, |(_, span)| *span);
        Ok(Expr {
            kind: ExprKind::Reference(Reference { anchor, segments }),
            span: start.to(end),
        })
    }

    /// `name` with any steps after it, as a reference to the nearest field of that name.
    fn bare_reference(&mut self) -> Result<Expr> {
        let first = self.name()?;
        let mut segments = vec![(Segment::Name(self.source.slice(first).to_string()), first)];
        segments.extend(self.path_steps()?);
        let end = segments.last().map_or(first, |(_, span)| *span);
        Ok(Expr {
            kind: ExprKind::Reference(Reference {
                anchor: Anchor::Nearest,
                segments,
            }),
            span: first.to(end),
        })
    }

    /// `.name`, `["label"]` and `[index]` steps, as many as follow.
    fn path_steps(&mut self) -> Result<Vec<(Segment, Span)>> {
        let mut segments = Vec::new();
        loop {
            match self.peek_token(0)? {
                Token::Dot => {
                    self.bump()?;
                    let name = self.name()?;
                    segments.push((Segment::Name(self.source.slice(name).to_string()), name));
                }
                Token::LeftBracket => {
                    let open = self.bump()?.1;
                    let (token, span) = self.bump()?;
                    let segment = match token {
                        Token::String | Token::EscapedString => {
                            Segment::Label(self.string_text(token, span))
                        }
                        Token::Integer => Segment::Index(
                            usize::try_from(integer_value(self.source, span)).unwrap_or(usize::MAX),
                        ),
                        _ => {
                            let found = token.describe(self.source.slice(span));
                            return Err(self.error_at(
                                ErrorKind::Expected {
                                    expected: "a label string or an index inside `[ ]`".to_string(),
                                    found,
                                },
                                span,
                            ));
                        }
                    };
                    let close = self.expect(&Token::RightBracket, "`]`")?;
                    segments.push((segment, open.to(close)));
                }
                _ => return Ok(segments),
            }
        }
    }

    /// A lookup path: `name(.name | ["label"] | [index])*` and nothing after it.
    pub(crate) fn path(&mut self) -> Result<Vec<Segment>> {
        let first = self.name()?;
        let mut segments = vec![Segment::Name(self.source.slice(first).to_string())];
        segments.extend(self.path_steps()?.into_iter().map(|(segment, _)| segment));
        if self.peek_token(0)? != &Token::Eof {
            return Err(self.unexpected("`.`, `[` or the end of the path"));
        }
        Ok(segments)
    }
}

fn entry_name(entry: &Entry) -> &str {
    match entry {
        Entry::Field(field) => field.name(),
        Entry::Block(block) => block.name(),
    }
}

fn entry_span(entry: &Entry) -> Span {
    match entry {
        Entry::Field(field) => field.span(),
        Entry::Block(block) => block.span(),
    }
    .unwrap_or_default()
}

fn is_literal(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Literal(_) => true,
        ExprKind::Array(items) => items.iter().all(is_literal),
        _ => false,
    }
}

/// The value of an expression made only of literals (arrays included), with its span; the
/// expression itself otherwise, to be evaluated later.
fn into_literal(expr: Expr) -> std::result::Result<(Value, Span), Expr> {
    if !is_literal(&expr) {
        return Err(expr);
    }
    fn convert(expr: Expr) -> Value {
        match expr.kind {
            ExprKind::Literal(value) => value,
            ExprKind::Array(items) => Value::Array(items.into_iter().map(convert).collect()),
            // `is_literal` admitted nothing else.
            _ => Value::Array(Vec::new()),
        }
    }
    let span = expr.span;
    Ok((convert(expr), span))
}

fn is_literal_token(token: &Token, text: &str) -> bool {
    match token {
        Token::String | Token::EscapedString | Token::Integer | Token::Float => true,
        Token::Identifier => text == "true" || text == "false",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, middle: &str, close: &str, levels: usize) -> String {
        format!("{}{middle}{}", open.repeat(levels), close.repeat(levels))
    }

    #[test]
    fn nesting_limits() {
        let blocks = |levels| nested("A {", "", "}", levels);
        let parens = |levels| format!("x = {};", nested("(", "1", ")", levels));
        let arrays = |levels| format!("x = {};", nested("{", "1", "}", levels));
        let chain = |operators| format!("x = 1{};", " + 1".repeat(operators));
        let casts = |levels| format!("x = {}1;", "(int)".repeat(levels));
        // A field deep in blocks can still hold the deepest expression.
        let deep_field = format!(
            "{}{}",
            "A {".repeat(MAX_BLOCK_DEPTH),
            parens(MAX_EXPRESSION_DEPTH - 1) + &"}".repeat(MAX_BLOCK_DEPTH)
        );
        // (what, text, the depth limit it hits, or None when it parses)
        let cases: Vec<(&str, String, Option<usize>)> = vec![
            ("blocks", blocks(MAX_BLOCK_DEPTH), None),
            ("blocks", blocks(MAX_BLOCK_DEPTH + 1), Some(MAX_BLOCK_DEPTH)),
            // The field's expression is one level, each parenthesis another.
            ("parentheses", parens(MAX_EXPRESSION_DEPTH - 1), None),
            (
                "parentheses",
                parens(MAX_EXPRESSION_DEPTH),
                Some(MAX_EXPRESSION_DEPTH),
            ),
            // Arrays nest through their items' expressions: one level each.
            ("arrays", arrays(MAX_EXPRESSION_DEPTH), None),
            (
                "arrays",
                arrays(MAX_EXPRESSION_DEPTH + 1),
                Some(MAX_EXPRESSION_DEPTH),
            ),
            ("operator chain", chain(MAX_EXPRESSION_DEPTH - 1), None),
            (
                "operator chain",
                chain(MAX_EXPRESSION_DEPTH),
                Some(MAX_EXPRESSION_DEPTH),
            ),
            ("casts", casts(MAX_EXPRESSION_DEPTH - 1), None),
            (
                "casts",
                casts(MAX_EXPRESSION_DEPTH),
                Some(MAX_EXPRESSION_DEPTH),
            ),
            ("field deep in blocks", deep_field, None),
        ];
        for (what, text, limit) in cases {
            match (parse("t.acl", &text), limit) {
                (Ok(_), None) => {}
                (Err(error), Some(limit)) => {
                    assert_eq!(error.kind(), &ErrorKind::TooDeep(limit), "{what}");
                }
                (result, _) => panic!("{what}: expected {limit:?}, got {:?}", result.err()),
            }
        }
    }

    #[test]
    fn bare_names_parse_as_references_to_the_nearest_field() {
        let parsed = parse("t.acl", "a = { 1 }; b = a[0] + $.a[0];").unwrap();
        let ExprKind::Binary(_, left, right) = &parsed.pending[0].value.kind else {
            panic!("{:?}", parsed.pending[0].value)
        };
        let (ExprKind::Reference(bare), ExprKind::Reference(local)) = (&left.kind, &right.kind)
        else {
            panic!("{left:?} {right:?}")
        };
        assert_eq!(bare.anchor, Anchor::Nearest);
        assert_eq!(local.anchor, Anchor::Local);
        let segments = |reference: &Reference| -> Vec<Segment> {
            reference
                .segments
                .iter()
                .map(|(segment, _)| segment.clone())
                .collect()
        };
        assert_eq!(segments(bare), segments(local));
        assert_eq!(
            segments(bare),
            [Segment::Name("a".into()), Segment::Index(0)]
        );
    }

    #[test]
    fn words_that_are_not_names() {
        // (expression, what it parses to: a literal, or the word it refuses)
        let cases: &[(&str, Result<Value, &str>)] = &[
            ("true", Ok(Value::Bool(true))),
            ("false", Ok(Value::Bool(false))),
            ("!false", Err("")),
            ("null", Err("null")),
            ("int", Err("int")),
            ("float + 1", Err("float")),
            ("bool", Err("bool")),
            ("{ string }", Err("string")),
            ("ref", Err("ref")),
        ];
        for (expression, expected) in cases {
            let text = format!("x = {expression};");
            match (parse("t.acl", &text), expected) {
                (Ok(parsed), Ok(value)) => {
                    assert_eq!(parsed.pending_fields(), 0, "{text}");
                    assert_eq!(parsed.document.get("x").unwrap(), value, "{text}");
                }
                (Ok(parsed), Err("")) => assert_eq!(parsed.pending_fields(), 1, "{text}"),
                (Err(error), Err(word)) => assert_eq!(
                    error.kind(),
                    &ErrorKind::Expected {
                        expected: "a value".to_string(),
                        found: format!("identifier `{word}`"),
                    },
                    "{text}"
                ),
                (result, _) => panic!("{text}: {:?}", result.err()),
            }
        }
    }
}
