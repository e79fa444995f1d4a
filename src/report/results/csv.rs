//! `labtrail results --format csv`: one row per done task, one column per parameter and one per
//! top-level result field (RFC 4180 quoting; nested values as JSON).
//!
//! Columns, in order: `key`, `stage`, every parameter in order of first appearance, every
//! top-level field of an object result in order of first appearance (named `result.FIELD` when a
//! parameter has the same name), and a last column `result` when some task wrote a result that
//! is not an object (a number, a list, ...).
//!
//! Grouped results ([`write_table`]) have the grouped table's columns, at full precision.

use super::cell::Cell;
pub use super::csv_columns::ColumnsSeen;
use super::table::Table;
use super::view::ViewError;
use super::{ResultRecord, ResultSource, Results};
use serde_json::{Map, Value};
use std::io::{self, Write};

/// The columns of a set of results, derived from every record so that each row lines up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// Parameter names, in order of first appearance.
    pub params: Vec<String>,
    /// Top-level field names of object results, in order of first appearance.
    pub fields: Vec<String>,
    /// The header: `key`, `stage`, the parameters, the fields (prefixed `result.` on a clash
    /// with a parameter), then `result` when some result is not an object.
    pub header: Vec<String>,
}

impl Columns {
    /// Derives the columns from every record.
    pub fn of(results: &Results) -> Columns {
        let mut seen = ColumnsSeen::default();
        for (at, r) in results.records.iter().enumerate() {
            seen.add(at as i64, r);
        }
        seen.columns()
    }

    /// Whether rows end with a cell for results that are not objects.
    ///
    /// This looks at the header's last name, as `labtrail results` always has: it is also true
    /// when the last parameter or field is itself named `result`, which adds one empty cell to
    /// each row. Kept so the output stays byte-for-byte what it was.
    fn has_result_column(&self) -> bool {
        self.header.last().is_some_and(|h| h == "result")
    }

    /// The cells of one record's row, each already quoted for CSV.
    pub fn row(&self, r: &ResultRecord) -> Vec<String> {
        let empty = Map::new();
        let p = r.params.as_object().unwrap_or(&empty);
        let mut row = vec![
            csv_cell(&Value::String(r.key.clone())),
            csv_cell(&Value::String(r.stage.clone())),
        ];
        row.extend(
            self.params
                .iter()
                .map(|k| csv_cell(p.get(k).unwrap_or(&Value::Null))),
        );
        let fields = match &r.result {
            Some(Value::Object(o)) => o,
            _ => &empty,
        };
        row.extend(
            self.fields
                .iter()
                .map(|k| csv_cell(fields.get(k).unwrap_or(&Value::Null))),
        );
        if self.has_result_column() {
            row.push(match &r.result {
                Some(v) if !v.is_object() => csv_cell(v),
                _ => String::new(),
            });
        }
        row
    }
}

/// One CSV cell: null is empty, a string is its text, anything else its JSON; quoted (with `"`
/// doubled) when it holds a comma, a quote or a line break.
pub fn csv_cell(v: &Value) -> String {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Writes the header and one row per record, lines ending in `\n`.
pub fn write(results: &Results, out: &mut impl Write) -> io::Result<()> {
    let columns = Columns::of(results);
    write_header(&columns, out)?;
    for r in &results.records {
        writeln!(out, "{}", columns.row(r).join(","))?;
    }
    Ok(())
}

/// Writes what [`write`] writes, reading the run twice: once for the columns, once for the rows
/// (issue 15: one record in memory at a time, whatever the run's size).
pub fn write_source(source: &ResultSource, out: &mut impl Write) -> Result<(), ViewError> {
    let mut seen = ColumnsSeen::default();
    if source.is_reordered() {
        // Sorted rows: the columns in order of first appearance in the rows as written.
        let mut at = 0;
        source.each(|r| {
            seen.add(at, &r);
            at += 1;
            Ok::<_, ViewError>(())
        })?;
    } else {
        source.each_shape(|seq, params, result| {
            seen.add_stored(seq, params, result);
            Ok::<_, ViewError>(())
        })?;
    }
    let columns = seen.columns();
    write_header(&columns, out)?;
    source.each(|r| Ok::<_, ViewError>(writeln!(out, "{}", columns.row(&r).join(","))?))
}

fn write_header(columns: &Columns, out: &mut impl Write) -> io::Result<()> {
    let header: Vec<String> = columns
        .header
        .iter()
        .map(|h| csv_cell(&Value::String(h.clone())))
        .collect();
    writeln!(out, "{}", header.join(","))
}

/// Writes a [`Table`] (grouped results) as CSV: numbers at full precision, an undefined
/// statistic as an empty cell.
pub fn write_table(table: &Table, out: &mut impl Write) -> io::Result<()> {
    let line = |cells: Vec<String>| cells.join(",");
    let header = table
        .header
        .iter()
        .map(|h| csv_cell(&Value::String(h.clone())));
    writeln!(out, "{}", line(header.collect()))?;
    for r in &table.rows {
        let cells = r.iter().map(|c| match c {
            Cell::Text(t) => csv_cell(&Value::String(t.clone())),
            other => other.exact().to_string(),
        });
        writeln!(out, "{}", line(cells.collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::Fixture;
    use crate::store::TaskState;
    use serde_json::json;

    #[test]
    fn cells_are_quoted_only_when_needed() {
        assert_eq!(csv_cell(&Value::Null), "");
        assert_eq!(csv_cell(&json!("plain")), "plain");
        assert_eq!(csv_cell(&json!(0.5)), "0.5");
        assert_eq!(csv_cell(&json!(true)), "true");
        assert_eq!(csv_cell(&json!("a,b")), "\"a,b\"");
        assert_eq!(csv_cell(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell(&json!("a\nb")), "\"a\nb\"");
        assert_eq!(csv_cell(&json!("a\rb")), "\"a\rb\"");
        assert_eq!(csv_cell(&json!({"a": [1, 2]})), "\"{\"\"a\"\":[1,2]}\"");
        assert_eq!(csv_cell(&json!([1])), "[1]");
    }

    fn csv(f: &Fixture) -> String {
        let mut out = Vec::new();
        write(&Results::load(&f.store, None).unwrap(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Columns come in order of first appearance, a field named like a parameter gets the
    /// `result.` prefix, results that are not objects get the last column, and rows follow plan
    /// order (not the order tasks finished in).
    #[test]
    fn header_and_rows_are_derived_from_every_record() {
        let mut f = Fixture::new(
            r#"
[experiment]
name = "csv"
command = "echo {x} {n}"
[params]
x = ["a", 'b"c']
n = [1, 2]
"#,
        );
        let k = f.keys();
        f.finish(&k[3], TaskState::Done, Some(r#"{"acc": 0.5, "x": "mine"}"#));
        f.finish(&k[1], TaskState::Done, Some("[1,2]"));
        f.finish(
            &k[0],
            TaskState::Done,
            Some(r#"{"loss": null, "acc": 1, "note": "q\"q"}"#),
        );
        f.finish(&k[2], TaskState::Failed, None);
        assert_eq!(
            csv(&f),
            format!(
                "key,stage,x,n,loss,acc,note,result.x,result\n\
                 {},main,a,1,,1,\"q\"\"q\",,\n\
                 {},main,a,2,,,,,\"[1,2]\"\n\
                 {},main,\"b\"\"c\",2,,0.5,,mine,\n",
                k[0], k[1], k[3]
            )
        );
    }

    /// No result column when every result is an object or missing.
    #[test]
    fn object_results_have_no_result_column() {
        let mut f = Fixture::new(
            "[experiment]\nname = \"o\"\ncommand = \"echo {x}\"\n[params]\nx = [1, 2]\n",
        );
        let k = f.keys();
        f.finish(&k[0], TaskState::Done, Some(r#"{"v": 1}"#));
        f.finish(&k[1], TaskState::Done, None);
        let results = Results::load(&f.store, None).unwrap();
        let columns = Columns::of(&results);
        assert_eq!(columns.header, ["key", "stage", "x", "v"]);
        assert_eq!(
            columns.row(&results.records[1]),
            [k[1].as_str(), "main", "2", ""]
        );
    }
}
