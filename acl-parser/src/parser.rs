//! Recursive-descent parser: text to [`ParsedDocument`]. Expression precedence follows C:
//! `?:` < `||` < `&&` < `== !=` < `< <= > >=` < `+ -` < `* / %` < unary and casts.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::ast::{
    Anchor, BlockDecl, DeclaredType, Expr, ExprKind, FieldDecl, Item, Name, ParsedDocument,
    Reference, Segment, TypeAnnotation,
};
use crate::error::{Error, ErrorKind, Result};
use crate::lexer::{Lexer, Token};
use crate::source::{Source, Span};
use crate::value::{BinaryOperator, ScalarType, UnaryOperator, Value};

/// Deep enough for any real configuration, shallow enough that recursion cannot overflow the
/// stack on hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

const TYPE_HINT: &str =
    "field types are `int`, `float`, `bool`, `string` and `ref`, optionally followed by `[]`";

/// Parses ACL text. `name` (usually the file path) appears in error messages.
pub fn parse(name: &str, text: &str) -> Result<ParsedDocument> {
    let source = Source::new(name, text);
    let items = Parser::new(&source).document()?;
    Ok(ParsedDocument { source, items })
}

/// Parses a source that is already wrapped.
pub(crate) fn parse_source(source: Arc<Source>) -> Result<ParsedDocument> {
    let items = Parser::new(&source).document()?;
    Ok(ParsedDocument { source, items })
}

pub(crate) struct Parser<'a> {
    source: &'a Source,
    lexer: Lexer<'a>,
    lookahead: VecDeque<(Token, Span)>,
    /// End of the last token taken, so "expected `;`" can point just past the value.
    last_end: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(source: &'a Source) -> Self {
        Parser {
            source,
            lexer: Lexer::new(source),
            lookahead: VecDeque::with_capacity(4),
            last_end: 0,
            depth: 0,
        }
    }

    fn peek(&mut self, index: usize) -> Result<&(Token, Span)> {
        while self.lookahead.len() <= index {
            let token = self.lexer.next_token()?;
            self.lookahead.push_back(token);
        }
        Ok(&self.lookahead[index])
    }

    fn peek_token(&mut self, index: usize) -> Result<&Token> {
        Ok(&self.peek(index)?.0)
    }

    fn bump(&mut self) -> Result<(Token, Span)> {
        self.peek(0)?;
        let (token, span) = self
            .lookahead
            .pop_front()
            .unwrap_or((Token::Eof, Span::default()));
        self.last_end = span.end;
        Ok((token, span))
    }

    fn error_at(&self, kind: ErrorKind, span: Span) -> Error {
        Error::at(kind, self.source, span)
    }

    fn unexpected(&mut self, expected: &str) -> Error {
        let (token, span) = match self.peek(0) {
            Ok(pair) => pair.clone(),
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
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(ErrorKind::TooDeep(MAX_DEPTH), span));
        }
        Ok(())
    }

    fn document(&mut self) -> Result<Vec<Item>> {
        self.items(None)
    }

    /// Items until `}` (inside a block opened at `open`) or end of file (top level).
    fn items(&mut self, open: Option<Span>) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            match self.peek_token(0)? {
                Token::RightBrace if open.is_some() => return Ok(items),
                Token::Eof if open.is_none() => return Ok(items),
                Token::Eof => {
                    let open = open.unwrap_or_default();
                    let line = self.source.position(open.start).line;
                    return Err(self
                        .unexpected("`}`")
                        .with_hint(format!("the block opened on line {line} is never closed")));
                }
                Token::Identifier => items.push(self.item()?),
                _ => return Err(self.unexpected("a field or a block")),
            }
        }
    }

    fn name(&mut self) -> Result<Name> {
        let span = self.expect(&Token::Identifier, "a name")?;
        Ok(Name {
            text: self.source.slice(span).to_string(),
            span,
        })
    }

    fn item(&mut self) -> Result<Item> {
        let first_span = self.peek(0)?.1;
        let word = self.source.slice(first_span);
        let declared = match word {
            "ref" => Some(DeclaredType::Ref),
            _ => ScalarType::from_keyword(word).map(DeclaredType::Scalar),
        };
        let next = self.peek_token(1)?;
        let next_is_identifier = *next == Token::Identifier;
        let next_is_bracket = *next == Token::LeftBracket;
        let next_opens_block = matches!(next, Token::LeftBrace | Token::String(_));
        let next_is_assign = *next == Token::Assign;
        match () {
            () if next_is_identifier || (next_is_bracket && declared.is_some()) => {
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
                self.field(Some(annotation), first_span)
            }
            () if next_is_assign => self.field(None, first_span),
            () if next_opens_block => self.block().map(Item::Block),
            () => {
                self.bump()?;
                Err(self
                    .unexpected(&format!("`=`, `{{` or a label after `{word}`"))
                    .with_hint("a field is `name = value;` or `type name = value;`; a block is `Name { ... }` or `Name \"label\" { ... }`"))
            }
        }
    }

    fn field(&mut self, annotation: Option<TypeAnnotation>, start: Span) -> Result<Item> {
        let name = self.name()?;
        self.expect(&Token::Assign, &format!("`=` after `{}`", name.text))?;
        let value = self.expression()?;
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
        Ok(Item::Field(FieldDecl {
            annotation,
            name,
            value,
            span: start.to(end),
        }))
    }

    fn block(&mut self) -> Result<BlockDecl> {
        let name = self.name()?;
        let label = match self.peek_token(0)? {
            Token::String(_) => match self.bump()? {
                (Token::String(label), span) => Some((label, span)),
                _ => None,
            },
            _ => None,
        };
        let open = self.expect(&Token::LeftBrace, "`{`")?;
        self.enter(open)?;
        let items = self.items(Some(open))?;
        self.depth -= 1;
        let close = self.bump()?.1;
        Ok(BlockDecl {
            span: name.span.to(close),
            name,
            label,
            items,
        })
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
        while let Some((power, operator)) = Self::binary_operator(self.peek_token(0)?) {
            if power < minimum {
                break;
            }
            self.bump()?;
            let right = self.binary(power + 1)?;
            left = Expr {
                span: left.span.to(right.span),
                kind: ExprKind::Binary(operator, Box::new(left), Box::new(right)),
            };
        }
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
            if let (Token::Integer(magnitude), span) =
                (self.peek_token(0)?.clone_if_integer(), self.peek(0)?.1)
            {
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
        if matches!(self.peek_token(0)?, Token::String(_)) {
            let (token, span) = self.bump()?;
            let Token::String(text) = token else {
                return Err(self.unexpected("a value"));
            };
            return Ok(Expr {
                kind: ExprKind::Literal(Value::String(text)),
                span,
            });
        }
        let kind = match *self.peek_token(0)? {
            Token::Integer(value) => {
                let value = i64::try_from(value).map_err(|_| {
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
            Token::Float(value) => ExprKind::Literal(Value::Float(value)),
            Token::Identifier => match self.source.slice(span) {
                "true" => ExprKind::Literal(Value::Bool(true)),
                "false" => ExprKind::Literal(Value::Bool(false)),
                word => {
                    let hint = format!(
                        "to use another field write `$.{word}` (same block), `^{word}` (parent block) or `$Block.{word}`; text needs double quotes: \"{word}\""
                    );
                    return Err(self.unexpected("a value").with_hint(hint));
                }
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
        let open = self.bump()?.1;
        self.enter(open)?;
        let mut items = Vec::new();
        while self.peek_token(0)? != &Token::RightBrace {
            items.push(self.expression()?);
            if self.peek_token(0)? == &Token::Comma {
                self.bump()?;
            } else if self.peek_token(0)? != &Token::RightBrace {
                return Err(self.unexpected("`,` or `}` in the array"));
            }
        }
        self.depth -= 1;
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
        let mut segments = vec![(Segment::Name(first.text), first.span)];
        segments.extend(self.path_steps()?);
        let end = segments.last().map_or(start, |(_, span)| *span);
        Ok(Expr {
            kind: ExprKind::Reference(Reference { anchor, segments }),
            span: start.to(end),
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
                    segments.push((Segment::Name(name.text), name.span));
                }
                Token::LeftBracket => {
                    let open = self.bump()?.1;
                    let (token, span) = self.bump()?;
                    let segment = match token {
                        Token::String(label) => Segment::Label(label),
                        Token::Integer(index) => {
                            Segment::Index(usize::try_from(index).unwrap_or(usize::MAX))
                        }
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
        let mut segments = vec![Segment::Name(first.text)];
        segments.extend(self.path_steps()?.into_iter().map(|(segment, _)| segment));
        if self.peek_token(0)? != &Token::Eof {
            return Err(self.unexpected("`.`, `[` or the end of the path"));
        }
        Ok(segments)
    }
}
