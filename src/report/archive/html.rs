//! The archive as one self-contained HTML page: no JavaScript, no external URL, plots as inline
//! SVG written by labtrail ([`super::svg`]), sections in `<details>`, light and dark colours from
//! `prefers-color-scheme`, and a print style that opens every section.
//!
//! The first screen answers "did it work, what changed, what ran it" in this order: the verdict
//! line (status, counts bar, wall time, CPU- and GPU-hours, the first failure's error line), the
//! changes vs the previous run (≤ 5 lines), the provenance strip. Then the metric curves (one
//! panel per stage and metric key), resources per task, the stages and the task table (failures
//! first, then the slowest, capped), and the appendices (config, environment, packages, data,
//! code and patch, task sections, artifacts, repro).
//!
//! Every value from the archive is written through [`esc`]; lists that grow with the run are
//! capped with a line saying how many were left out (the JSON archive has them all), so a
//! 10^4-task run with 100 curves stays under 1 MB.

use super::model::Archive;
use std::borrow::Cow;

mod appendix;
mod curves;
mod first_screen;
mod format;
mod style;
mod tables;

/// `s` safe as HTML text and as a quoted attribute value: `& < > " '` as entities, and control
/// characters other than tab, newline and carriage return (which HTML does not allow) as U+FFFD.
pub fn esc(s: &str) -> Cow<'_, str> {
    let forbidden = |c: char| c.is_control() && !matches!(c, '\n' | '\t' | '\r');
    if !s
        .chars()
        .any(|c| matches!(c, '&' | '<' | '>' | '"' | '\'') || forbidden(c))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if forbidden(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The whole page. Deterministic: the same archive gives the same bytes.
pub fn render(archive: &Archive) -> String {
    let s = &archive.summary;
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"color-scheme\" content=\"light dark\">\n");
    out.push_str(&format!(
        "<title>{} · run {} · {}</title>\n<style>{}</style>\n</head>\n<body>\n",
        esc(&s.experiment),
        esc(&s.run_id),
        esc(&s.status),
        style::CSS
    ));
    first_screen::verdict(&mut out, archive);
    first_screen::changes(&mut out, archive);
    first_screen::provenance(&mut out, archive);
    curves::section(&mut out, archive);
    tables::resources(&mut out, archive);
    tables::stages_and_tasks(&mut out, archive);
    appendix::all(&mut out, archive);
    out.push_str(&format!(
        "<footer>Archived by labtrail {} at {} · schema {} · the JSON archive (<code>labtrail archive --format json</code>) holds every task, curve and field in full.</footer>\n</body>\n</html>\n",
        esc(&archive.labtrail_version),
        esc(&archive.generated_at),
        esc(&archive.schema)
    ));
    out
}

/// Opens a `<details>` section with its heading; `open` for the sections of the first screens.
fn open_section(out: &mut String, id: &str, title: &str, note: &str, open: bool) {
    out.push_str(&format!(
        "<details id=\"{id}\" class=\"section\"{}><summary><h2>{}</h2>{}</summary>\n",
        if open { " open" } else { "" },
        esc(title),
        if note.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"note\">{}</span>", esc(note))
        }
    ));
}

/// The line under a capped list: how many are left out and where they are.
fn left_out(out: &mut String, shown: usize, total: usize, what: &str) {
    if total > shown {
        out.push_str(&format!(
            "<p class=\"capped\">{} more {what} not shown (showing {shown} of {total}); the JSON archive has all of them.</p>\n",
            total - shown
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::esc;

    /// Issue 12: markup and quotes in a value are written as entities (a value cannot close an
    /// attribute or open a tag); control characters HTML forbids become U+FFFD.
    #[test]
    fn esc_neutralises_markup_quotes_and_controls() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc("a\u{1b}[31mb\nc\td"), "a\u{FFFD}[31mb\nc\td");
        assert!(matches!(
            esc("plain ünïcode"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
