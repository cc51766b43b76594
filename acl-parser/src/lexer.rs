//! Turns ACL text into tokens on demand. Works on bytes; identifiers are ASCII, so only string
//! literals need UTF-8 care, and those are sliced on ASCII delimiters.

use crate::error::{Error, ErrorKind, Result};
use crate::source::{Source, Span};

/// One token. Identifiers carry no text: the parser slices it from the source by span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Identifier,
    String(String),
    /// Unsigned: a leading `-` is an operator, folded by the parser so that `i64::MIN` parses.
    Integer(u64),
    Float(f64),
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
    /// The token itself when it is an integer (cheap to copy); `Eof` otherwise.
    pub(crate) fn clone_if_integer(&self) -> Token {
        match self {
            Token::Integer(value) => Token::Integer(*value),
            _ => Token::Eof,
        }
    }

    /// How the token reads in an "expected X, found Y" message.
    pub(crate) fn describe(&self, text: &str) -> String {
        match self {
            Token::Identifier => format!("identifier `{text}`"),
            Token::String(_) => "a string".to_string(),
            Token::Integer(_) | Token::Float(_) => format!("number `{text}`"),
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
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.position += 1,
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
                while matches!(
                    self.peek_byte(0),
                    Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_')
                ) {
                    self.position += 1;
                }
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
            text.parse().map(Token::Float).map_err(|_| invalid())
        } else {
            text.parse().map(Token::Integer).map_err(|_| {
                invalid().with_hint(
                    "integers are 64-bit: from -9223372036854775808 to 9223372036854775807",
                )
            })
        }
    }

    fn string(&mut self) -> Result<Token> {
        let start = self.position;
        self.position += 1;
        let text = self.source.text();
        let mut value = String::new();
        loop {
            let run_start = self.position;
            while matches!(self.peek_byte(0), Some(byte) if byte != b'"' && byte != b'\\' && byte != b'\n')
            {
                self.position += 1;
            }
            value.push_str(&text[run_start..self.position]);
            match self.peek_byte(0) {
                Some(b'"') => {
                    self.position += 1;
                    return Ok(Token::String(value));
                }
                Some(b'\\') => value.push(self.escape()?),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Result<Vec<Token>> {
        let source = Source::new("t", text);
        let mut lexer = Lexer::new(&source);
        let mut out = Vec::new();
        loop {
            let (token, _) = lexer.next_token()?;
            if token == Token::Eof {
                return Ok(out);
            }
            out.push(token);
        }
    }

    #[test]
    fn table() {
        let cases: &[(&str, Vec<Token>)] = &[
            ("x", vec![Token::Identifier]),
            ("42", vec![Token::Integer(42)]),
            ("1.5", vec![Token::Float(1.5)]),
            ("1e3", vec![Token::Float(1000.0)]),
            ("2.5E-1", vec![Token::Float(0.25)]),
            (
                "1.x",
                vec![Token::Integer(1), Token::Dot, Token::Identifier],
            ),
            (
                "a[0].b",
                vec![
                    Token::Identifier,
                    Token::LeftBracket,
                    Token::Integer(0),
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
            (
                r#""a\tb\n\"\\\x41\101\u00e9\U0001F4E6\0""#,
                vec![Token::String("a\tb\n\"\\AA\u{e9}\u{1F4E6}\0".into())],
            ),
            ("\"caf\u{e9}\"", vec![Token::String("caf\u{e9}".into())]),
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
