//! Source text with a line table, so byte spans turn into `file:line:column` and a caret.

use std::fmt;
use std::sync::{Arc, OnceLock};

/// A half-open byte range `[start, end)` into a [`Source`]. 32-bit, which keeps tokens and
/// document entries small; sources over 4 GiB are refused before parsing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte of the range.
    pub start: u32,
    /// One past the last byte of the range.
    pub end: u32,
}

/// The largest source a [`Span`] can address.
pub const MAX_SOURCE_LEN: usize = u32::MAX as usize;

impl Span {
    /// A span covering `start..end` (offsets past [`MAX_SOURCE_LEN`] saturate).
    pub fn new(start: usize, end: usize) -> Self {
        let clamp = |offset: usize| u32::try_from(offset).unwrap_or(u32::MAX);
        Span {
            start: clamp(start),
            end: clamp(end),
        }
    }

    /// The byte range, for slicing.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A named piece of ACL text.
#[derive(Debug)]
pub struct Source {
    name: String,
    text: String,
    /// Byte offset of the start of every line, for O(log n) position lookups. Built on first
    /// use: only error reporting needs positions, so a valid file never pays for it.
    line_starts: OnceLock<Vec<usize>>,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Source {
    /// Wraps `text`, naming it `name` in error messages (usually the file path).
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Source> {
        Arc::new(Source {
            name: name.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        })
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text a span covers (empty if the span does not fall on character boundaries).
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0];
            starts.extend(self.text.match_indices('\n').map(|(i, _)| i + 1));
            starts
        })
    }

    fn line_index(&self, offset: usize) -> usize {
        match self.line_starts().binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// Line and column of a byte offset (clamped to the text).
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.line_index(offset);
        let start = self.line_starts()[line];
        let column = self.text[start..]
            .char_indices()
            .take_while(|(i, _)| start + i < offset)
            .count()
            + 1;
        Position {
            line: line + 1,
            column,
        }
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let starts = self.line_starts();
        let start = starts[line - 1];
        let end = starts.get(line).map_or(self.text.len(), |next| next - 1);
        self.text[start..end].trim_end_matches('\r')
    }

    /// Where a span sits, with the line's text and the caret to draw under it.
    pub fn locate(&self, span: Span) -> Location {
        let position = self.position(span.start as usize);
        let line_text = self.line_text(position.line).to_string();
        // The caret covers the span, but never runs past the end of its first line.
        let end = self.position(span.end.max(span.start) as usize);
        let width = if end.line == position.line {
            end.column.saturating_sub(position.column).max(1)
        } else {
            (line_text.chars().count() + 1)
                .saturating_sub(position.column)
                .max(1)
        };
        Location {
            file: self.name.clone(),
            line: position.line,
            column: position.column,
            line_text,
            width,
        }
    }
}

/// Where an error happened, with enough context to draw the offending line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The line's text.
    pub line_text: String,
    /// How many characters the caret underlines.
    pub width: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // At most this many characters of the line either side of the column: a damaged file
        // (all NULs, say) can be one line of megabytes.
        const CONTEXT: usize = 60;
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        writeln!(f, "{pad}--> {}:{}:{}", self.file, self.line, self.column)?;
        writeln!(f, "{pad} |")?;
        let skipped = self.column.saturating_sub(1).saturating_sub(CONTEXT);
        let shown: String = self
            .line_text
            .chars()
            .skip(skipped)
            .take(2 * CONTEXT)
            .collect();
        let cut_before = if skipped > 0 { "..." } else { "" };
        let cut_after = if self.line_text.chars().count() > skipped + 2 * CONTEXT {
            "..."
        } else {
            ""
        };
        writeln!(f, "{number} | {cut_before}{shown}{cut_after}")?;
        // Keep tabs so the caret lines up however the terminal renders them.
        let indent: String = cut_before
            .chars()
            .map(|_| ' ')
            .chain(
                shown
                    .chars()
                    .take(self.column.saturating_sub(1) - skipped)
                    .map(|c| if c == '\t' { '\t' } else { ' ' }),
            )
            .collect();
        let width = self.width.min(2 * CONTEXT);
        write!(f, "{pad} | {indent}{}", "^".repeat(width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let source = Source::new("t.acl", "ab\n\u{e9}x = 1;\n");
        assert_eq!(source.position(0), Position { line: 1, column: 1 });
        assert_eq!(source.position(3), Position { line: 2, column: 1 });
        // `x` comes after a two-byte character.
        assert_eq!(source.position(5), Position { line: 2, column: 2 });
        assert_eq!(source.position(100), Position { line: 3, column: 1 });
    }

    #[test]
    fn a_long_line_is_shown_around_the_column_only() {
        let location = Location {
            file: "t.acl".into(),
            line: 1,
            column: 500_001,
            line_text: "x".repeat(1_000_000),
            width: 1_000_000,
        };
        let shown = location.to_string();
        assert!(shown.len() < 600, "{} bytes", shown.len());
        assert!(
            shown.contains(&format!("...{}...", "x".repeat(120))),
            "{shown}"
        );
    }

    #[test]
    fn caret_under_span() {
        let source = Source::new("t.acl", "a {\n\tint x = \"s\";\n}");
        let start = source.text().find('"').unwrap();
        let location = source.locate(Span::new(start, start + 3));
        assert_eq!(
            location.to_string(),
            " --> t.acl:2:10\n  |\n2 | \tint x = \"s\";\n  | \t        ^^^"
        );
    }
}
