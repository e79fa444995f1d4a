//! `labtrail results` on a terminal: an aligned table, numbers right-aligned to 4 significant
//! digits, every value escaped for the terminal ([`crate::cli::terminal::escape`]).
//!
//! A table wider than the terminal has its text columns cut, widest first, down to
//! [`MIN_CUT_WIDTH`] columns, each cut cell ending in `…`; numbers are never cut (a cut
//! number reads as another number). What still does not fit wraps: `--format csv` has it all.
//! Widths are terminal columns, not characters: a CJK character or an emoji takes two.

use super::cell::Cell;
use super::table::Table;
use crate::cli::terminal::escape;
use std::io::{self, Write};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A text column is never cut narrower than this.
pub const MIN_CUT_WIDTH: usize = 8;

/// Between two columns.
const GAP: usize = 2;

/// Writes `table` aligned, fitting it into `width` characters when given.
pub fn write(table: &Table, width: Option<usize>, out: &mut impl Write) -> io::Result<()> {
    if table.rows.is_empty() {
        return Ok(()); // no done task: nothing to show, not even a header (stderr says so)
    }
    let (top, header) = two_line_header(table);
    let rows: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| r.iter().map(|c| escape(&c.short()).into_owned()).collect())
        .collect();
    let numeric: Vec<bool> = (0..header.len())
        .map(|c| {
            table
                .rows
                .iter()
                .all(|r| matches!(r[c], Cell::Num(_) | Cell::Missing))
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.width());
        }
    }
    widen_for_spans(&top, &mut widths);
    let aligned = Aligned::new(widths, numeric, width);
    if top.iter().any(Option::is_some) {
        writeln!(out, "{}", span_line(&top, &aligned.widths).trim_end())?;
    }
    aligned.line(&header, out)?;
    for r in &rows {
        aligned.line(r, out)?;
    }
    Ok(())
}

/// The columns of an aligned table: how wide each is (cut to fit the terminal) and which are
/// right-aligned numbers. It writes the lines one at a time, so that a table whose widths a
/// first pass over the rows found can write them as a second pass reads them (issue 15).
#[derive(Debug, Clone)]
pub struct Aligned {
    /// Each column's width, in terminal columns.
    pub widths: Vec<usize>,
    /// Whether each column is right-aligned (every cell a number or missing).
    pub numeric: Vec<bool>,
}

impl Aligned {
    /// The columns of a table whose cells are at most `widths` wide, narrowed to fit in `limit`
    /// terminal columns when given.
    pub fn new(mut widths: Vec<usize>, numeric: Vec<bool>, limit: Option<usize>) -> Aligned {
        if let Some(limit) = limit {
            fit(&mut widths, &numeric, limit);
        }
        Aligned { widths, numeric }
    }

    /// Writes one line: `cells` (escaped for the terminal) padded, aligned and cut.
    pub fn line(&self, cells: &[String], out: &mut dyn Write) -> io::Result<()> {
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str(&" ".repeat(GAP));
            }
            let c = cut(c, self.widths[i]);
            let pad = self.widths[i].saturating_sub(c.width());
            if self.numeric[i] {
                text.push_str(&" ".repeat(pad));
                text.push_str(&c);
            } else {
                text.push_str(&c);
                text.push_str(&" ".repeat(pad));
            }
        }
        writeln!(out, "{}", text.trim_end())
    }
}

/// The header of a grouped table on two lines: a key above the statistics of it (`val_acc`
/// over `mean  std  count`), so that a column is as wide as its numbers, not as `val_acc:mean`,
/// and the parameters that name each group keep their room. Other tables: one line (`None`
/// above every column). Escaped for the terminal.
fn two_line_header(table: &Table) -> (Vec<Option<String>>, Vec<String>) {
    table
        .header
        .iter()
        .zip(&table.is_param)
        .map(|(h, &param)| match h.rsplit_once(':') {
            Some((key, agg)) if table.grouped && !param => {
                (Some(escape(key).into_owned()), escape(agg).into_owned())
            }
            _ => (None, escape(h).into_owned()),
        })
        .unzip()
}

/// The runs of columns under one key: (first column, last column, key).
fn spans(top: &[Option<String>]) -> Vec<(usize, usize, &str)> {
    let mut out: Vec<(usize, usize, &str)> = Vec::new();
    for (i, t) in top.iter().enumerate() {
        let Some(t) = t else { continue };
        match out.last_mut() {
            Some((_, end, key)) if *end + 1 == i && *key == t.as_str() => *end = i,
            _ => out.push((i, i, t)),
        }
    }
    out
}

/// Widens the last column of a span whose key is wider than its columns.
fn widen_for_spans(top: &[Option<String>], widths: &mut [usize]) {
    for (first, last, key) in spans(top) {
        let room: usize = widths[first..=last].iter().sum::<usize>() + GAP * (last - first);
        widths[last] += key.width().saturating_sub(room);
    }
}

/// The line of keys above their statistics.
fn span_line(top: &[Option<String>], widths: &[usize]) -> String {
    let mut text = String::new();
    let mut i = 0;
    for (first, last, key) in spans(top) {
        while i < first {
            text.push_str(&" ".repeat(widths[i] + GAP));
            i += 1;
        }
        let room: usize = widths[first..=last].iter().sum::<usize>() + GAP * (last - first);
        text.push_str(key);
        text.push_str(&" ".repeat(room.saturating_sub(key.width()) + GAP));
        i = last + 1;
    }
    text
}

/// Narrows the widest text column by one character until the table fits in `limit` or no
/// text column can be narrowed further.
fn fit(widths: &mut [usize], numeric: &[bool], limit: usize) {
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
    while total(widths) > limit {
        let widest = (0..widths.len())
            .filter(|&i| !numeric[i] && widths[i] > MIN_CUT_WIDTH)
            .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
        match widest {
            Some(i) => widths[i] -= 1,
            None => return,
        }
    }
}

/// `s` cut to `width` terminal columns, its last one `…` when cut.
fn cut(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut t = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width.saturating_sub(1) {
            break;
        }
        used += w;
        t.push(c);
    }
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::results::cell::Num;

    fn text(t: &Table, width: Option<usize>) -> String {
        let mut out = Vec::new();
        write(t, width, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Numbers right-aligned to 4 significant digits, text left-aligned and escaped, a long
    /// text cut with `…` to fit the width while numbers stay whole.
    #[test]
    fn aligned_escaped_and_cut_to_the_width() {
        let t = Table {
            header: vec!["rep".into(), "note".into(), "acc".into()],
            rows: vec![
                vec![
                    Cell::Text("stats".into()),
                    Cell::Text("a\u{1b}[2Jvery long note indeed".into()),
                    Cell::Num(Num::of(0.912345)),
                ],
                vec![
                    Cell::Text("x".into()),
                    Cell::Missing,
                    Cell::Num(Num::of(12.0)),
                ],
            ],
            is_param: vec![true, false, false],
            grouped: false,
        };
        assert_eq!(
            text(&t, None),
            format!(
                "rep    note{}acc\nstats  a\\u{{1b}}[2Jvery long note indeed  0.9123\nx      -{}12.00\n",
                " ".repeat(32),
                " ".repeat(33)
            )
        );
        assert_eq!(
            text(&t, Some(30)),
            "rep    note                acc\n\
             stats  a\\u{1b}[2Jvery…  0.9123\n\
             x      -                 12.00\n"
        );
    }

    /// Issue 14 (review): a double-width value (CJK, emoji) is aligned and cut by the columns it
    /// takes on the terminal, not by its characters.
    #[test]
    fn wide_characters_are_aligned_by_their_columns() {
        let t = Table {
            header: vec!["rep".into(), "acc".into()],
            rows: vec![
                vec![Cell::Text("日本語".into()), Cell::Num(Num::of(0.5))],
                vec![Cell::Text("abc".into()), Cell::Num(Num::of(0.25))],
                vec![
                    Cell::Text("表現学習の比較実験".into()),
                    Cell::Num(Num::of(1.0)),
                ],
            ],
            is_param: vec![true, false],
            grouped: false,
        };
        assert_eq!(
            text(&t, None),
            "rep                    acc\n\
             日本語              0.5000\n\
             abc                 0.2500\n\
             表現学習の比較実験  1.000\n"
                .replace("1.000\n", " 1.000\n")
        );
        assert_eq!(
            text(&t, Some(18)),
            "rep            acc\n日本語      0.5000\nabc         0.2500\n表現学習…    1.000\n"
        );
    }

    /// Issue 14: a grouped table puts each key above its statistics, so that the statistic
    /// columns are as wide as their numbers and the group's parameters are not cut to make room
    /// for `val_acc:count` headers.
    #[test]
    fn grouped_keys_stand_above_their_statistics() {
        let t = Table {
            header: vec![
                "rep".into(),
                "tasks".into(),
                "val_acc:mean".into(),
                "val_acc:count".into(),
                "a_very_long_key_name:mean".into(),
            ],
            rows: vec![vec![
                Cell::Text("simple_stats".into()),
                Cell::Num(Num::count(2)),
                Cell::Num(Num::of(0.6731)),
                Cell::Num(Num::count(2)),
                Cell::Num(Num::of(1.5)),
            ]],
            is_param: vec![true, false, false, false, false],
            grouped: true,
        };
        assert_eq!(
            text(&t, Some(60)),
            "                     val_acc        a_very_long_key_name\n\
             rep           tasks    mean  count                  mean\n\
             simple_stats      2  0.6731      2                 1.500\n"
        );
    }
}
