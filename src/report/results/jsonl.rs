//! `labtrail results --format jsonl`: one compact JSON record (or group) per line, for `jq -c`
//! and line-oriented tools.

use super::aggregate::Grouped;
use super::stats::Agg;
use super::view::ViewError;
use super::{ResultSource, Results};
use std::io::{self, Write};

/// Writes each record as one line of compact JSON.
pub fn write(results: &Results, out: &mut impl Write) -> io::Result<()> {
    for r in &results.records {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
    }
    Ok(())
}

/// Writes what [`write`] writes, one record at a time as it is read (issue 15).
pub fn write_source(source: &ResultSource, out: &mut impl Write) -> Result<(), ViewError> {
    source.each(|r| {
        let line = serde_json::to_string(&r).map_err(io::Error::from)?;
        Ok::<_, ViewError>(writeln!(out, "{line}")?)
    })
}

/// Writes each group, in `order`, as one line of compact JSON (see [`super::json::group_value`]).
pub fn write_groups(
    grouped: &Grouped,
    aggs: &[Agg],
    order: &[usize],
    out: &mut impl Write,
) -> io::Result<()> {
    for &i in order {
        let v = super::json::group_value(grouped, &grouped.groups[i], aggs);
        writeln!(out, "{}", serde_json::to_string(&v)?)?;
    }
    Ok(())
}
