//! Text from others (a registry, a package, a build step) made safe to show on a terminal.

/// Whether `c` reorders what is read: a bidirectional mark, embedding, override or isolate (text
/// that displays in another order than it is).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character but newline and tab, and every bidirectional control,
/// written out (`\u{1b}`): text from a registry or a package (a description, a name in an
/// error) must never drive the terminal, to recolour, move the cursor over a warning, set a
/// title or reorder what is read.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    escaped(text, |c| {
        (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
    })
}

/// `text` as one line that shows as it reads: [`visible`], with line breaks and tabs written
/// out too (a publisher's description must not forge an `error:` line of its own).
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    escaped(text, |c| c.is_control() || is_bidi_control(c))
}

fn escaped(text: &str, hidden: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(&hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if hidden(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_are_written_out() {
        assert_eq!(
            visible("a\u{1b}[2Jb\nc\u{202e}d"),
            "a\\u{1b}[2Jb\nc\\u{202e}d"
        );
        assert_eq!(one_line("a\nb\tc"), "a\\u{a}b\\u{9}c");
        assert!(matches!(visible("plain"), std::borrow::Cow::Borrowed(_)));
    }
}
