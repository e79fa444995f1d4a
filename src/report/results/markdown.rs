//! `labtrail results --format md`: a GitHub-flavoured Markdown table to paste into an issue,
//! a pull request or notes: numbers to 4 significant digits and right-aligned, `|` escaped,
//! a line break written as `<br>`, other control characters escaped as on a terminal.

use super::table::Table;
use crate::cli::terminal::escape;
use std::io::{self, Write};

/// One cell's Markdown text.
fn md_cell(text: &str) -> String {
    let one_line = text.replace("\r\n", "\n").replace('\n', "<br>");
    escape(&one_line).replace('|', "\\|")
}

/// Writes `table` as a Markdown table.
pub fn write(table: &Table, out: &mut impl Write) -> io::Result<()> {
    if table.rows.is_empty() {
        return Ok(()); // no done task: nothing to show, not even a header (stderr says so)
    }
    let row = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    writeln!(
        out,
        "{}",
        row(table.header.iter().map(|h| md_cell(h)).collect())
    )?;
    let align = (0..table.header.len()).map(|c| {
        if table.rows.iter().any(|r| r[c].is_num()) {
            "---:".to_string()
        } else {
            "---".to_string()
        }
    });
    writeln!(out, "{}", row(align.collect()))?;
    for r in &table.rows {
        writeln!(
            out,
            "{}",
            row(r.iter().map(|c| md_cell(&c.short())).collect())
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::results::cell::{Cell, Num};

    #[test]
    fn pipes_and_line_breaks_are_escaped_numbers_right_aligned() {
        let t = Table {
            header: vec!["rep".into(), "acc".into()],
            rows: vec![vec![
                Cell::Text("a|b\nc".into()),
                Cell::Num(Num::of(0.123456)),
            ]],
            is_param: vec![true, false],
            grouped: false,
        };
        let mut out = Vec::new();
        write(&t, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "| rep | acc |\n| --- | ---: |\n| a\\|b<br>c | 0.1235 |\n"
        );
    }
}
