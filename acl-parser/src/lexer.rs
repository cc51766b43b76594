//! Turns ACL text into tokens on demand. Works on bytes; identifiers are ASCII, so only string
//! literals need UTF-8 care, and those are sliced on ASCII delimiters.

use crate::error::{Error, ErrorKind, Result};
use crate::source::{Source, Span};

/// One token. Identifiers and strings carry no text: the parser slices it from the source by
/// span (decoding escapes only when a string has any). Small tokens keep the lookahead queue
/// cheap: moving a 48-byte token through it cost more than lexing it.
///
/// Tokens carry no payload at all, so a token with its span fits in two registers on the way
/// from the lexer to the parser; numbers are read from their (already validated) text when the
/// parser takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    Identifier,
    /// A validated string literal without backslash escapes: its text is the source between
    /// the quotes.
    String,
    /// A validated string literal with escapes, decoded when taken.
    EscapedString,
    /// Unsigned: a leading `-` is an operator, folded by the parser so that `i64::MIN` parses.
    Integer,
    Float,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    LeftParen,
    RightParen,
    Semicolon,
    Comma,
    Dot,
    Assign,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Bang,
    AndAnd,
    OrOr,
    Question,
    Colon,
    Dollar,
    Caret,
    Eof,
}

impl Token {
    /// How the token reads in an "expected X, found Y" message.
    pub(crate) fn describe(&self, text: &str) -> String {
        match self {
            Token::Identifier => format!("identifier `{text}`"),
            Token::String | Token::EscapedString => "a string".to_string(),
            Token::Integer | Token::Float => format!("number `{text}`"),
            Token::Eof => "end of file".to_string(),
            _ => format!("`{text}`"),
        }
    }
}

pub(crate) struct Lexer<'a> {
    source: &'a Source,
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(source: &'a Source) -> Self {
        Lexer {
            source,
            bytes: source.text().as_bytes(),
            position: 0,
        }
    }

    fn error(&self, kind: ErrorKind, start: usize, end: usize) -> Error {
        Error::at(kind, self.source, Span::new(start, end))
    }

    fn peek_byte(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.position + offset).copied()
    }

    fn skip_trivia(&mut self) -> Result<()> {
        loop {
            match self.peek_byte(0) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => {
                    let rest = &self.bytes[self.position..];
                    self.position += rest
                        .iter()
                        .position(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
                        .unwrap_or(rest.len());
                }
                Some(b'/') if self.peek_byte(1) == Some(b'/') => {
                    while let Some(byte) = self.peek_byte(0) {
                        if byte == b'\n' {
                            break;
                        }
                        self.position += 1;
                    }
                }
                Some(b'/') if self.peek_byte(1) == Some(b'*') => {
                    let start = self.position;
                    self.position += 2;
                    loop {
                        match self.peek_byte(0) {
                            None => {
                                return Err(self
                                    .error(ErrorKind::UnterminatedComment, start, start + 2)
                                    .with_hint("close the comment with `*/`"))
                            }
                            Some(b'*') if self.peek_byte(1) == Some(b'/') => {
                                self.position += 2;
                                break;
                            }
                            Some(_) => self.position += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// The next token and its span; `Token::Eof` (repeatedly) at the end.
    pub(crate) fn next_token(&mut self) -> Result<(Token, Span)> {
        self.skip_trivia()?;
        let start = self.position;
        let Some(byte) = self.peek_byte(0) else {
            return Ok((Token::Eof, Span::new(start, start)));
        };
        let token = match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let rest = &self.bytes[start + 1..];
                let length = rest
                    .iter()
                    .position(|byte| !(byte.is_ascii_alphanumeric() || *byte == b'_'))
                    .unwrap_or(rest.len());
                self.position = start + 1 + length;
                Token::Identifier
            }
            b'0'..=b'9' => self.number()?,
            b'"' => self.string()?,
            _ => {
                let two = self.peek_byte(1);
                let (token, length) = match (byte, two) {
                    (b'=', Some(b'=')) => (Token::Equal, 2),
                    (b'!', Some(b'=')) => (Token::NotEqual, 2),
                    (b'<', Some(b'=')) => (Token::LessEqual, 2),
                    (b'>', Some(b'=')) => (Token::GreaterEqual, 2),
                    (b'&', Some(b'&')) => (Token::AndAnd, 2),
                    (b'|', Some(b'|')) => (Token::OrOr, 2),
                    (b'{', _) => (Token::LeftBrace, 1),
                    (b'}', _) => (Token::RightBrace, 1),
                    (b'[', _) => (Token::LeftBracket, 1),
                    (b']', _) => (Token::RightBracket, 1),
                    (b'(', _) => (Token::LeftParen, 1),
                    (b')', _) => (Token::RightParen, 1),
                    (b';', _) => (Token::Semicolon, 1),
                    (b',', _) => (Token::Comma, 1),
                    (b'.', _) => (Token::Dot, 1),
                    (b'=', _) => (Token::Assign, 1),
                    (b'<', _) => (Token::Less, 1),
                    (b'>', _) => (Token::Greater, 1),
                    (b'+', _) => (Token::Plus, 1),
                    (b'-', _) => (Token::Minus, 1),
                    (b'*', _) => (Token::Star, 1),
                    (b'/', _) => (Token::Slash, 1),
                    (b'%', _) => (Token::Percent, 1),
                    (b'!', _) => (Token::Bang, 1),
                    (b'?', _) => (Token::Question, 1),
                    (b':', _) => (Token::Colon, 1),
                    (b'$', _) => (Token::Dollar, 1),
                    (b'^', _) => (Token::Caret, 1),
                    _ => {
                        let character = self.source.text()[start..].chars().next().unwrap_or('?');
                        let mut error = self.error(
                            ErrorKind::UnexpectedCharacter(character),
                            start,
                            start + character.len_utf8(),
                        );
                        error = match character {
                            '&' | '|' => error.with_hint("logical operators are `&&` and `||`"),
                            '\'' => error.with_hint("strings use double quotes"),
                            '#' => error.with_hint("comments start with `//` or `/*`"),
                            _ => error,
                        };
                        return Err(error);
                    }
                };
                self.position += length;
                token
            }
        };
        Ok((token, Span::new(start, self.position)))
    }

    fn digits(&mut self) {
        while matches!(self.peek_byte(0), Some(b'0'..=b'9')) {
            self.position += 1;
        }
    }

    fn number(&mut self) -> Result<Token> {
        let start = self.position;
        self.digits();
        let mut is_float = false;
        if self.peek_byte(0) == Some(b'.') && matches!(self.peek_byte(1), Some(b'0'..=b'9')) {
            is_float = true;
            self.position += 1;
            self.digits();
        }
        if matches!(self.peek_byte(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek_byte(1), Some(b'+' | b'-')));
            if matches!(self.peek_byte(1 + sign), Some(b'0'..=b'9')) {
                is_float = true;
                self.position += 1 + sign;
                self.digits();
            }
        }
        let text = &self.source.text()[start..self.position];
        let invalid = || {
            self.error(
                ErrorKind::InvalidNumber(text.to_string()),
                start,
                self.position,
            )
        };
        if is_float {
            text.parse::<f64>()
                .map(|_| Token::Float)
                .map_err(|_| invalid())
        } else {
            text.parse::<u64>().map(|_| Token::Integer).map_err(|_| {
                invalid().with_hint(
                    "integers are 64-bit: from -9223372036854775808 to 9223372036854775807",
                )
            })
        }
    }

    fn string(&mut self) -> Result<Token> {
        Ok(if self.scan_string(None)? {
            Token::EscapedString
        } else {
            Token::String
        })
    }

    /// Scans a string literal from its opening quote, validating every escape, and appends its
    /// decoded text to `out` when given. Returns whether it had escapes.
    fn scan_string(&mut self, mut out: Option<&mut String>) -> Result<bool> {
        let start = self.position;
        self.position += 1;
        let text = self.source.text();
        let mut escaped = false;
        loop {
            let run_start = self.position;
            let rest = &self.bytes[run_start..];
            self.position += memchr::memchr3(b'"', b'\\', b'\n', rest).unwrap_or(rest.len());
            if let Some(out) = out.as_deref_mut() {
                out.push_str(&text[run_start..self.position]);
            }
            match self.peek_byte(0) {
                Some(b'"') => {
                    self.position += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    let character = self.escape()?;
                    if let Some(out) = out.as_deref_mut() {
                        out.push(character);
                    }
                }
                _ => {
                    return Err(self
                        .error(ErrorKind::UnterminatedString, start, start + 1)
                        .with_hint(
                            "close the string with `\"` on the same line; write a newline as `\\n`",
                        ))
                }
            }
        }
    }

    /// Reads one escape sequence starting at the backslash. `\xHH` and octal escapes name
    /// code points U+0000 to U+00FF, so every string stays valid UTF-8.
    fn escape(&mut self) -> Result<char> {
        let start = self.position;
        self.position += 1;
        let Some(kind) = self.peek_byte(0) else {
            return Err(self.error(ErrorKind::UnterminatedString, start, start + 1));
        };
        self.position += 1;
        let simple = match kind {
            b'n' => Some('\n'),
            b't' => Some('\t'),
            b'r' => Some('\r'),
            b'\\' => Some('\\'),
            b'"' => Some('"'),
            b'\'' => Some('\''),
            b'?' => Some('?'),
            b'a' => Some('\u{7}'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(character) = simple {
            return Ok(character);
        }
        let code = match kind {
            b'0'..=b'7' => {
                let mut code = u32::from(kind - b'0');
                for _ in 0..2 {
                    match self.peek_byte(0) {
                        Some(digit @ b'0'..=b'7') => {
                            code = code * 8 + u32::from(digit - b'0');
                            self.position += 1;
                        }
                        _ => break,
                    }
                }
                Some(code)
            }
            b'x' => self.hex_digits(2),
            b'u' => self.hex_digits(4),
            b'U' => self.hex_digits(8),
            _ => None,
        };
        code.and_then(char::from_u32).ok_or_else(|| {
            let end = (self.position).min(self.bytes.len());
            let written = self.source.text().get(start..end).unwrap_or("\\").to_string();
            self.error(ErrorKind::InvalidEscape(written), start, end).with_hint(
                "valid escapes: \\n \\t \\r \\\\ \\\" \\' \\? \\a \\b \\f \\v \\ooo \\xHH \\uHHHH \\UHHHHHHHH",
            )
        })
    }

    fn hex_digits(&mut self, count: usize) -> Option<u32> {
        let mut code = 0u32;
        for _ in 0..count {
            let digit = char::from(self.peek_byte(0)?).to_digit(16)?;
            code = code * 16 + digit;
            self.position += 1;
        }
        Some(code)
    }
}

/// The value of the integer literal at `span`, which the lexer has validated.
pub(crate) fn integer_value(source: &Source, span: Span) -> u64 {
    // Validated when lexed; the default is unreachable.
    source.slice(span).parse().unwrap_or_default()
}

/// The value of the float literal at `span`, which the lexer has validated.
pub(crate) fn float_value(source: &Source, span: Span) -> f64 {
    // Validated when lexed; the default is unreachable.
    source.slice(span).parse().unwrap_or_default()
}

/// The text of the string literal `token` at `span`, which the lexer has validated.
pub(crate) fn string_value(source: &Source, token: Token, span: Span) -> String {
    let range = span.range();
    if token != Token::EscapedString {
        return source
            .text()
            .get(range.start + 1..range.end.saturating_sub(1))
            .unwrap_or("")
            .to_string();
    }
    let mut lexer = Lexer::new(source);
    lexer.position = range.start;
    let mut text = String::with_capacity(range.len());
    // Validated when it was first lexed, so decoding it again cannot fail.
    let _ = lexer.scan_string(Some(&mut text));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Result<Vec<Token>> {
        Ok(strings(text)?.into_iter().map(|(token, _)| token).collect())
    }

    /// Tokens with the decoded text of each string.
    fn strings(text: &str) -> Result<Vec<(Token, Option<String>)>> {
        let source = Source::new("t", text);
        let mut lexer = Lexer::new(&source);
        let mut out = Vec::new();
        loop {
            let (token, span) = lexer.next_token()?;
            match token {
                Token::Eof => return Ok(out),
                Token::String | Token::EscapedString => {
                    out.push((token, Some(string_value(&source, token, span))));
                }
                _ => out.push((token, None)),
            }
        }
    }

    #[test]
    fn strings_decode() {
        let cases = [
            (
                r#""a\tb\n\"\\\x41\101\u00e9\U0001F4E6\0""#,
                "a\tb\n\"\\AA\u{e9}\u{1F4E6}\0",
                true,
            ),
            ("\"caf\u{e9}\"", "caf\u{e9}", false),
            ("\"\"", "", false),
        ];
        for (text, expected, escaped) in cases {
            let token = if escaped {
                Token::EscapedString
            } else {
                Token::String
            };
            assert_eq!(
                strings(text).unwrap(),
                vec![(token, Some(expected.to_string()))],
                "{text}"
            );
        }
    }

    #[test]
    fn table() {
        let cases: &[(&str, Vec<Token>)] = &[
            ("x", vec![Token::Identifier]),
            ("42", vec![Token::Integer]),
            ("1.5", vec![Token::Float]),
            ("1e3", vec![Token::Float]),
            ("2.5E-1", vec![Token::Float]),
            ("1.x", vec![Token::Integer, Token::Dot, Token::Identifier]),
            (
                "a[0].b",
                vec![
                    Token::Identifier,
                    Token::LeftBracket,
                    Token::Integer,
                    Token::RightBracket,
                    Token::Dot,
                    Token::Identifier,
                ],
            ),
            ("// c\n/* b\n */ ;", vec![Token::Semicolon]),
            (
                "== != <= >= && || < > = !",
                vec![
                    Token::Equal,
                    Token::NotEqual,
                    Token::LessEqual,
                    Token::GreaterEqual,
                    Token::AndAnd,
                    Token::OrOr,
                    Token::Less,
                    Token::Greater,
                    Token::Assign,
                    Token::Bang,
                ],
            ),
            ("$.^", vec![Token::Dollar, Token::Dot, Token::Caret]),
        ];
        for (text, expected) in cases {
            assert_eq!(&tokens(text).unwrap(), expected, "lexing {text:?}");
        }
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            ("\"abc", "unterminated string literal"),
            ("\"ab\ncd\"", "unterminated string literal"),
            ("/* x", "unterminated block comment"),
            (r#""\q""#, "invalid escape sequence `\\q`"),
            (r#""\xZZ""#, "invalid escape sequence `\\x`"),
            (r#""\uD800""#, "invalid escape sequence `\\uD800`"),
            (
                "99999999999999999999",
                "invalid number literal `99999999999999999999`",
            ),
            ("#", "unexpected character `#`"),
            ("\u{e9}", "unexpected character `\u{e9}`"),
        ];
        for (text, message) in cases {
            let error = tokens(text).unwrap_err();
            assert_eq!(error.kind().to_string(), *message, "lexing {text:?}");
            assert!(error.location().is_some());
        }
    }
}
