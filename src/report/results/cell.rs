//! One cell of a results table: a number keeps both its exact text (CSV, JSON) and a short form
//! (4 significant digits, for a terminal or a Markdown table), so that a table is easy to read
//! and an export loses nothing.

use crate::protocol::NON_FINITE;
use serde_json::Value;
use std::cmp::Ordering;

/// The significant digits of a number in a table meant to be read (terminal, Markdown).
pub const SIGNIFICANT_DIGITS: usize = 4;

/// A number as a table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Num {
    /// The value, for sorting.
    pub value: f64,
    /// The exact text: what the task wrote, or the shortest text that reads back as `value`.
    pub exact: String,
    /// Whether it is shown as written, never rounded: an integer (a count, a seed), or a
    /// parameter's value, which names tasks (`lr=0.001` is typed in `--only`; 4 digits would
    /// show `0.001000`, and make two values that differ further on look alike).
    pub as_written: bool,
}

impl Num {
    /// A computed statistic (finite), written as JSON writes it.
    pub fn of(value: f64) -> Num {
        let exact = serde_json::Number::from_f64(value)
            .map_or_else(|| value.to_string(), |n| n.to_string());
        Num {
            value,
            exact,
            as_written: false,
        }
    }

    /// A count.
    pub fn count(n: u64) -> Num {
        Num {
            value: n as f64,
            exact: n.to_string(),
            as_written: true,
        }
    }
}

/// One cell: empty, a text (a string value, or nested JSON written compactly) or a number.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value: the parameter or key is not set for this row, or a statistic is undefined
    /// (the std of a single value).
    Missing,
    /// A string, or a list or object as compact JSON.
    Text(String),
    /// A number.
    Num(Num),
}

impl Cell {
    /// The cell of a JSON value (`None`: missing).
    pub fn of(value: Option<&Value>) -> Cell {
        match value {
            None | Some(Value::Null) => Cell::Missing,
            // What labtrail reads back from a bare `NaN` or `Infinity` (see
            // `protocol::standard_json`): a number that is not finite, shown as written.
            Some(Value::String(s)) if NON_FINITE.contains(&s.as_str()) => Cell::Num(Num {
                value: if s == "NaN" {
                    f64::NAN
                } else if s.starts_with('-') {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                },
                exact: s.clone(),
                as_written: false,
            }),
            Some(Value::String(s)) => Cell::Text(s.clone()),
            Some(Value::Number(n)) => Cell::Num(Num {
                value: n.as_f64().unwrap_or(f64::NAN),
                exact: n.to_string(),
                as_written: n.is_i64() || n.is_u64(),
            }),
            Some(other) => Cell::Text(other.to_string()),
        }
    }

    /// The cell of a parameter's value: a number is shown as written (see [`Num::as_written`]),
    /// in the text of the task's label (`lr=1000000`, `lr=0.00001`; JSON would say `1000000.0`).
    pub fn param(value: Option<&Value>) -> Cell {
        match Cell::of(value) {
            Cell::Num(n) => Cell::Num(Num {
                exact: if n.as_written || !n.value.is_finite() {
                    n.exact
                } else {
                    // As `spec::Value` writes a float into labels and commands.
                    n.value.to_string()
                },
                as_written: true,
                ..n
            }),
            other => other,
        }
    }

    /// The exact text (CSV): empty when missing.
    pub fn exact(&self) -> &str {
        match self {
            Cell::Missing => "",
            Cell::Text(s) => s,
            Cell::Num(n) => &n.exact,
        }
    }

    /// The text to read (terminal, Markdown): numbers to [`SIGNIFICANT_DIGITS`], `-` when missing.
    pub fn short(&self) -> String {
        match self {
            Cell::Missing => "-".into(),
            Cell::Text(s) => s.clone(),
            Cell::Num(n) if n.as_written || !n.value.is_finite() => n.exact.clone(),
            Cell::Num(n) => significant(n.value, SIGNIFICANT_DIGITS),
        }
    }

    /// Whether it reads as a number (right-aligned).
    pub fn is_num(&self) -> bool {
        matches!(self, Cell::Num(_))
    }

    /// Sort order: numbers by value, then `NaN`, then texts, then missing cells. `desc` reverses
    /// numbers and texts among themselves; `NaN` and missing cells stay last either way.
    pub fn order(&self, other: &Cell, desc: bool) -> Ordering {
        let rank = |c: &Cell| match c {
            Cell::Num(n) if n.value.is_nan() => 1,
            Cell::Num(_) => 0,
            Cell::Text(_) => 2,
            Cell::Missing => 3,
        };
        if rank(self) != rank(other) || rank(self) == 1 {
            return rank(self).cmp(&rank(other));
        }
        let by_value = match (self, other) {
            (Cell::Num(a), Cell::Num(b)) => a.value.total_cmp(&b.value),
            (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
            _ => return rank(self).cmp(&rank(other)),
        };
        if desc {
            by_value.reverse()
        } else {
            by_value
        }
    }
}

/// `x` to `digits` significant digits: fixed notation from 1e-4 up to 1e6, scientific
/// (`1.235e7`) outside; trailing zeros kept, so that a column's digits line up.
pub fn significant(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return x.to_string().to_lowercase();
    }
    if x == 0.0 {
        return "0".into();
    }
    // The exponent after rounding: 0.00099999 is 1.000e-3, shown as 0.001000, not 0.0010000.
    let scientific = format!("{:.*e}", digits.saturating_sub(1), x);
    let exponent: i32 = scientific
        .rsplit('e')
        .next()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        return scientific;
    }
    let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn four_significant_digits_fixed_then_scientific() {
        let s = |x| significant(x, 4);
        assert_eq!(s(0.912345), "0.9123");
        assert_eq!(s(12.3456), "12.35");
        assert_eq!(s(0.5), "0.5000");
        assert_eq!(s(-3.0), "-3.000");
        assert_eq!(s(123456.7), "123457");
        assert_eq!(s(0.00012346), "0.0001235");
        assert_eq!(s(0.0000123), "1.230e-5");
        assert_eq!(s(12345678.0), "1.235e7");
        assert_eq!(s(0.0), "0");
        assert_eq!(s(0.0009999999999999731), "0.001000");
        assert_eq!(s(9.99996), "10.00");
    }

    #[test]
    fn integers_stay_whole_and_exact_text_is_kept() {
        let c = Cell::of(Some(&json!(25)));
        assert_eq!((c.short().as_str(), c.exact()), ("25", "25"));
        let c = Cell::of(Some(&json!(0.123456789)));
        assert_eq!((c.short().as_str(), c.exact()), ("0.1235", "0.123456789"));
        assert_eq!(Cell::of(Some(&json!([1, "a"]))).exact(), r#"[1,"a"]"#);
        assert_eq!(Cell::of(None).short(), "-");
    }

    #[test]
    fn missing_cells_sort_last_both_ways() {
        let nan = Cell::of(Some(&json!("NaN")));
        assert_eq!(nan.short(), "NaN");
        let cells = [
            Cell::Missing,
            nan,
            Cell::Num(Num::of(2.0)),
            Cell::Text("a".into()),
            Cell::Num(Num::of(1.0)),
        ];
        for desc in [false, true] {
            let mut v = cells.to_vec();
            v.sort_by(|a, b| a.order(b, desc));
            assert_eq!(v.last(), Some(&Cell::Missing));
            let first = if desc { 2.0 } else { 1.0 };
            assert_eq!(v[0], Cell::Num(Num::of(first)));
        }
    }
}
