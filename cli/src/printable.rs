//! Text from mail and servers made safe for a terminal. A subject, a name, a folder or a
//! server's error text may carry control characters that a terminal obeys (set the window
//! title, clear the screen, write the clipboard with OSC 52) or bidi controls that make
//! text read differently from what it is. Every line the CLI prints, except its JSON,
//! goes through `printable`; they come out as visible escapes: `\u{1b}`, `\u{202e}`.

use std::borrow::Cow;
use std::fmt::Write as _;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// One line: line breaks and tabs are escaped too (a field, an error line).
    Nothing,
    /// A body or a block of lines: `\n` and `\t` stay; CR before LF is dropped.
    Layout,
}

/// Characters a terminal must not receive as they are: C0 and C1 controls, DEL (all
/// `char::is_control`), the bidi embeddings, overrides, isolates and marks, and the
/// Unicode line and paragraph separators.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

pub fn printable(text: &str, keep: Keep) -> Cow<'_, str> {
    let kept = |c: char| keep == Keep::Layout && (c == '\n' || c == '\t');
    if !text.chars().any(|c| is_unsafe(c) && !kept(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !is_unsafe(c) || kept(c) {
            out.push(c);
        } else if keep == Keep::Layout && c == '\r' && chars.peek() == Some(&'\n') {
            // CRLF line ends print as line ends.
        } else {
            let _ = write!(out, "{}", c.escape_unicode());
        }
    }
    Cow::Owned(out)
}

/// A field inside a line: nothing unsafe, no line break or tab.
pub fn field(text: &str) -> Cow<'_, str> {
    printable(text, Keep::Nothing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        for (text, keep, expected) in [
            ("Invoice 42", Keep::Nothing, "Invoice 42"),
            ("Grüße, 東京 ✓", Keep::Nothing, "Grüße, 東京 ✓"),
            ("\u{1b}]0;pwned\u{7}", Keep::Nothing, r"\u{1b}]0;pwned\u{7}"),
            ("\u{1b}[2J\u{1b}[H", Keep::Layout, r"\u{1b}[2J\u{1b}[H"),
            (
                "a\u{1b}]52;c;ZXZpbA==\u{7}b",
                Keep::Layout,
                r"a\u{1b}]52;c;ZXZpbA==\u{7}b",
            ),
            ("nul\0del\u{7f}", Keep::Nothing, r"nul\u{0}del\u{7f}"),
            ("csi\u{9b}31m", Keep::Nothing, r"csi\u{9b}31m"),
            ("txt.exe\u{202e}fdp", Keep::Nothing, r"txt.exe\u{202e}fdp"),
            (
                "\u{2066}x\u{2069}\u{200f}",
                Keep::Nothing,
                r"\u{2066}x\u{2069}\u{200f}",
            ),
            ("line\u{2028}sep", Keep::Layout, r"line\u{2028}sep"),
            ("one\ntwo\tcol", Keep::Nothing, r"one\u{a}two\u{9}col"),
            ("one\r\ntwo\tcol\n", Keep::Layout, "one\ntwo\tcol\n"),
            ("bare\rcr", Keep::Layout, r"bare\u{d}cr"),
        ] {
            assert_eq!(printable(text, keep), expected, "{text:?}");
        }
    }

    #[test]
    fn nothing_unsafe_is_left() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        for keep in [Keep::Nothing, Keep::Layout] {
            let out = printable(&all, keep);
            let left: Vec<char> = out
                .chars()
                .filter(|&c| is_unsafe(c) && !(keep == Keep::Layout && (c == '\n' || c == '\t')))
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
    }
}
