//! Text from others (a registry, a package, a build step) made safe to show on a terminal.

/// `text` with every control character but newline and tab written out (`\u{1b}`): text from
/// a registry or a package (a description, a name in an error) must never drive the terminal,
/// to recolour, move the cursor over a warning or set a title.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}
