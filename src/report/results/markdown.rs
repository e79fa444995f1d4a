//! `labtrail results --format md`: a GitHub-flavoured Markdown table to paste into an issue,
//! a pull request or notes: numbers to 4 significant digits and right-aligned, `|` escaped,
//! a line break written as `<br>`, other control characters escaped as on a terminal.

use super::table::Table;
use crate::cli::terminal::escape;
use std::io::{self, Write};

/// One cell's Markdown text.
pub fn md_cell(text: &str) -> String {
    let one_line = text.replace("\r\n", "\n").replace('\n', "<br>");
    escape(&one_line).replace('|', "\\|")
}

/// Writes `table` as a Markdown table.
pub fn write(table: &Table, out: &mut impl Write) -> io::Result<()> {
    if table.rows.is_empty() {
        return Ok(()); // no done task: nothing to show, not even a header (stderr says so)
    }
    let any_num: Vec<bool> = (0..table.header.len())
        .map(|c| table.rows.iter().any(|r| r[c].is_num()))
        .collect();
    write_head(&table.header, &any_num, out)?;
    for r in &table.rows {
        write_row(r.iter().map(|c| md_cell(&c.short())), out)?;
    }
    Ok(())
}

/// Writes the header line and the alignment line under it: a column with a number in some row
/// is right-aligned.
pub fn write_head(header: &[String], any_num: &[bool], out: &mut impl Write) -> io::Result<()> {
    write_row(header.iter().map(|h| md_cell(h)), out)?;
    let align = any_num
        .iter()
        .map(|&n| if n { "---:" } else { "---" }.to_string());
    write_row(align, out)
}

/// Writes one line of cells already in Markdown.
pub fn write_row(cells: impl Iterator<Item = String>, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "| {} |", cells.collect::<Vec<_>>().join(" | "))
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
