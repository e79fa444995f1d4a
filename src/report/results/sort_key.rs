//! `results --sort`'s order as bytes (issue 15): a row's stage rank, its cell in the sorted
//! column and its plan position written so that comparing two encodings byte by byte (what
//! SQLite's `ORDER BY` of a BLOB does, spilling to temporary files) gives the order of
//! [`super::table::Table::order_by`]: stages in order, then [`Cell::order`], then plan order.

use super::cell::Cell;

/// Where a cell's kind sorts, whatever the direction: numbers, `NaN`, texts, missing.
const NUMBER: u8 = 0;
const NAN: u8 = 1;
const TEXT: u8 = 2;
const MISSING: u8 = 3;

/// Appends the sort key of a row to `out`: `rank` (its stage's, 0 without stages), its `cell`
/// in the sorted column, largest first with `desc`, and its plan `position` (ties keep plan
/// order in both directions, as a stable sort does).
pub fn encode(out: &mut Vec<u8>, rank: u32, cell: &Cell, desc: bool, position: u64) {
    out.extend_from_slice(&rank.to_be_bytes());
    // Only the value is flipped for `desc`: NaN and missing cells stay last either way.
    let flip = |b: u8| if desc { !b } else { b };
    match cell {
        Cell::Num(n) if n.value.is_nan() => out.push(NAN),
        Cell::Num(n) => {
            out.push(NUMBER);
            // f64::total_cmp's order as an unsigned integer: negatives have every bit
            // flipped (larger magnitude, smaller key), the others only their sign bit.
            let bits = n.value.to_bits();
            let key = if bits >> 63 == 1 {
                !bits
            } else {
                bits | 1 << 63
            };
            out.extend(key.to_be_bytes().map(flip));
        }
        Cell::Text(s) => {
            out.push(TEXT);
            // A NUL byte is written 00 FF and the text ends with 00 00: no encoding is a
            // prefix of another, so byte order is the texts' order, and flipped, its reverse.
            for &b in s.as_bytes() {
                out.push(flip(b));
                if b == 0 {
                    out.push(flip(0xFF));
                }
            }
            out.extend([flip(0), flip(0)]);
        }
        Cell::Missing => out.push(MISSING),
    }
    out.extend_from_slice(&position.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Cells that tell encodings apart: signed zeros, subnormals, infinities, NaN, integers past
    /// 2^53 (equal as f64 to their neighbour: a tie), texts with NUL bytes, prefixes, non-ASCII
    /// text, a text that reads like a number, and missing cells.
    fn tricky() -> Vec<Cell> {
        let values: Vec<Value> = vec![
            json!(-1e300),
            json!(-1.5),
            json!(-0.0),
            json!(0.0),
            json!(0),
            json!(5e-324),
            json!(-5e-324),
            json!(1),
            json!(1.0),
            json!(9007199254740992u64),
            json!(9007199254740993u64),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("NaN"),
            json!("Infinity"),
            json!("-Infinity"),
            json!(""),
            json!("a"),
            json!("a\u{0}"),
            json!("a\u{0}b"),
            json!("a\u{1}"),
            json!("ab"),
            json!("b"),
            json!("é"),
            json!("\u{ff}"),
            json!("10"),
            json!([1, "a"]),
            json!({"x": 1}),
            Value::Null,
        ];
        let mut cells: Vec<Cell> = values.iter().map(|v| Cell::of(Some(v))).collect();
        cells.push(Cell::of(None));
        cells.push(Cell::param(Some(&json!(0.5))));
        cells
    }

    /// Every pair of (stage rank, tricky cell, plan position), both directions: the bytes
    /// compare as the table's sort compares the rows.
    #[test]
    fn byte_order_is_the_tables_order() {
        let cells = tricky();
        let mut rows = Vec::new();
        for rank in [0u32, 1, 256] {
            for (i, cell) in cells.iter().enumerate() {
                // Two positions per cell: ties must fall back to plan order.
                for position in [i as u64, (i + cells.len()) as u64, u64::MAX - i as u64] {
                    rows.push((rank, cell, position));
                }
            }
        }
        for desc in [false, true] {
            let key = |(rank, cell, position): &(u32, &Cell, u64)| {
                let mut out = Vec::new();
                encode(&mut out, *rank, cell, desc, *position);
                out
            };
            for a in &rows {
                for b in &rows {
                    let table =
                        a.0.cmp(&b.0)
                            .then_with(|| a.1.order(b.1, desc))
                            .then_with(|| a.2.cmp(&b.2));
                    assert_eq!(key(a).cmp(&key(b)), table, "{a:?} vs {b:?}, desc {desc}");
                }
            }
        }
    }
}
