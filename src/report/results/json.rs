//! `labtrail results --format json`: one pretty-printed array of every record, or of every
//! group with its statistics.

use super::aggregate::{Group, Grouped};
use super::stats::Agg;
use super::view::ViewError;
use super::{ResultSource, Results};
use serde_json::{json, Map, Value};
use std::io::{self, Write};

/// Writes the records as one indented JSON array and a newline.
pub fn write(results: &Results, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(&results.records)?)
}

/// Writes what [`write`] writes, one record at a time as it is read (issue 15): `[`, each
/// record indented as `serde_json` indents an array's items, `]`.
pub fn write_source(source: &ResultSource, out: &mut impl Write) -> Result<(), ViewError> {
    let mut array = PrettyArray::new(out);
    source.each(|r| Ok::<_, ViewError>(array.item(&r)?))?;
    Ok(array.end()?)
}

/// One indented JSON array written item by item, byte for byte what
/// `serde_json::to_string_pretty` makes of the whole array, and a newline.
pub struct PrettyArray<'w, W: Write> {
    out: &'w mut W,
    items: usize,
}

impl<'w, W: Write> PrettyArray<'w, W> {
    /// An array to be written to `out`; nothing is written before the first item or the end.
    pub fn new(out: &'w mut W) -> Self {
        PrettyArray { out, items: 0 }
    }

    /// Writes one item.
    pub fn item(&mut self, value: &impl serde::Serialize) -> io::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        let open = if self.items == 0 { "[\n" } else { ",\n" };
        self.items += 1;
        // A pretty-printed value has line breaks only between its tokens (a string's own are
        // escaped), so each line is indented one level more than the array's.
        write!(self.out, "{open}  {}", text.replace('\n', "\n  "))
    }

    /// Ends the array (`[]` when it has no item) and the line.
    pub fn end(self) -> io::Result<()> {
        match self.items {
            0 => writeln!(self.out, "[]"),
            _ => writeln!(self.out, "\n]"),
        }
    }
}

/// One group as JSON: `{"stage", "group": {PARAM: value}, "tasks", "results": {KEY: {AGG:
/// value, "nonfinite": n, "missing": n}}}`, every aggregated key some task of the group has; an undefined
/// statistic is `null`. `nonfinite` counts the `NaN` and infinite values left out of the
/// statistics, `missing` the tasks without a number for the key.
pub fn group_value(grouped: &Grouped, group: &Group, aggs: &[Agg]) -> Value {
    let by: Map<String, Value> = grouped
        .by
        .iter()
        .zip(&group.values)
        .map(|(p, v)| (p.clone(), v.clone().unwrap_or(Value::Null)))
        .collect();
    let results: Map<String, Value> = grouped
        .numeric
        .iter()
        // A key no task of the group has (another stage's) is left out.
        .filter(|key| group.stats.contains_key(*key))
        .map(|key| {
            let stats = group.stats[key].clone();
            let mut o = Map::new();
            for &agg in aggs {
                let v = match agg {
                    Agg::Count => json!(stats.count),
                    a => stats.get(a).map_or(Value::Null, |x| json!(x)),
                };
                o.insert(agg.name().into(), v);
            }
            o.insert("nonfinite".into(), json!(stats.nonfinite));
            let missing = group.tasks - stats.count - stats.nonfinite;
            o.insert("missing".into(), json!(missing));
            (key.clone(), Value::Object(o))
        })
        .collect();
    json!({"stage": group.stage, "group": by, "tasks": group.tasks, "results": results})
}

/// Writes the groups, in `order` (indices into `grouped.groups`), as one indented JSON array.
pub fn write_groups(
    grouped: &Grouped,
    aggs: &[Agg],
    order: &[usize],
    out: &mut impl Write,
) -> io::Result<()> {
    let all: Vec<Value> = order
        .iter()
        .map(|&i| group_value(grouped, &grouped.groups[i], aggs))
        .collect();
    writeln!(out, "{}", serde_json::to_string_pretty(&all)?)
}
