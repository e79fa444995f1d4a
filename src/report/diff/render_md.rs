//! A diff as Markdown: one table per section (key, change, A, B, note), values made safe for a
//! table cell.

use crate::report::archive::model::RunDiff;
use std::fmt::Write;

/// The diff as Markdown, ending with a newline.
pub fn render(diff: &RunDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Diff\n\n- A: `{}`\n- B: `{}`",
        code_span(&diff.a),
        code_span(&diff.b)
    );
    if !super::differs(diff) {
        let _ = writeln!(out, "\nNo differences.");
    }
    for section in &diff.sections {
        let _ = writeln!(out, "\n### {}\n", cell(&section.name));
        let _ = writeln!(
            out,
            "| key | change | A | B | note |\n|---|---|---|---|---|"
        );
        for e in &section.entries {
            let side = |v: &Option<String>| v.as_deref().map(cell).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(&e.key),
                e.change,
                side(&e.a),
                side(&e.b),
                e.note.as_deref().map(cell).unwrap_or_default()
            );
        }
    }
    out
}

/// A value inside a table cell: pipes escaped, line breaks as `<br>`, other control characters
/// written out, Markdown and HTML that could restyle the page escaped.
fn cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' => out.push_str("<br>"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A value inside a code span: backticks would end it, control characters are written out.
fn code_span(value: &str) -> String {
    crate::cli::terminal::escape(value).replace('`', "'")
}
