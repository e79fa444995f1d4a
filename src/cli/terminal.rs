//! Values on a terminal: what an experiment file, a task or the store holds is printed to a person
//! only through [`escape`], so that no value can move the cursor, clear the screen, reverse the
//! text that follows (bidi overrides) or start a line of its own (a forged `✓ done` line).
//! Machine output (`--json`, `results`) is exact, and escaped by its format.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal raw: control characters (C0, DEL, C1: newlines, ESC,
/// carriage returns, tabs), the bidirectional marks, embeddings, overrides and isolates, and
/// the Unicode line and paragraph separators.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `value` as it may be shown: `\n`, `\r`, `\t` and every other unsafe character written as
/// an escape (`\u{1b}`, `\u{202e}`), the rest unchanged. Borrows when nothing needs escaping.
pub fn escape(value: &str) -> Cow<'_, str> {
    // Printable ASCII is safe, and a byte test is far cheaper than decoding each character: a
    // dry run of a million tasks escapes three values per line (issue 15).
    if value.bytes().all(|b| (b' '..=b'~').contains(&b)) || !value.chars().any(is_unsafe) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A message of several lines, made by labtrail, that may carry values: each line escaped, the
/// line breaks kept.
pub fn escape_lines(text: &str) -> String {
    text.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9: escapes, cursor moves, bidi overrides and newlines are written out; ordinary
    /// text (accents, symbols) passes unchanged, without a copy.
    #[test]
    fn unsafe_characters_are_written_out() {
        assert_eq!(
            escape("a\u{1b}[2J\u{202e}x\n✓ fake"),
            "a\\u{1b}[2J\\u{202e}x\\n✓ fake"
        );
        assert_eq!(
            escape("\r\t\u{7f}\u{85}\u{2066}\u{2069}"),
            "\\r\\t\\u{7f}\\u{85}\\u{2066}\\u{2069}"
        );
        assert_eq!(
            escape("\u{200e}\u{200f}\u{61c}\u{2028}\u{2029}"),
            "\\u{200e}\\u{200f}\\u{61c}\\u{2028}\\u{2029}"
        );
        assert!(matches!(escape("rep=étoile,lr=0.1 ✓"), Cow::Borrowed(_)));
        assert_eq!(escape_lines("one \u{1b}\ntwo"), "one \\u{1b}\ntwo");
    }
}
