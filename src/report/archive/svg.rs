//! Inline SVG written by hand for the HTML archive: the counts bar of the verdict line and the
//! metric panels (one `<path>` per series, a few ticks, the previous run in grey underneath).
//!
//! Everything here is deterministic text: numbers go through [`fmt_num`] (fixed rules, no
//! locale), and series are drawn in integer half-pixel units with relative moves, so a 500-point
//! curve costs about 2.5 KB and the same archive always gives the same bytes.

use super::html::esc;
use std::fmt::Write;

pub mod chart;

/// A number for people: 4 significant digits, trailing zeros dropped, scientific notation
/// below 0.001 and from 100,000 on; `NaN`, `inf`, `-inf` as such.
pub fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    trim_zeros(format!("{v:.decimals$}"))
}

/// `1.500` → `1.5`, `2.000` → `2`; text without a decimal point is left alone.
fn trim_zeros(s: String) -> String {
    if !s.contains('.') {
        return s;
    }
    let t = s.trim_end_matches('0').trim_end_matches('.');
    if t == "-0" {
        "0".into()
    } else {
        t.to_string()
    }
}

/// At least `want - 1` round tick values (1, 2 or 5 times a power of ten apart) inside
/// `lo..=hi`: the widest spacing that still gives that many.
pub fn nice_ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let e = ((hi - lo) / want.max(1) as f64).log10().floor() as i32;
    let ticks = |step: f64| {
        let (first, last) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
        (first..=last)
            .map(|i| i as f64 * step)
            .collect::<Vec<f64>>()
    };
    let mut best = ticks(10f64.powi(e - 1));
    for p in [e - 1, e, e + 1] {
        for m in [1.0, 2.0, 5.0] {
            let t = ticks(m * 10f64.powi(p));
            if t.len() + 1 >= want {
                best = t;
            }
        }
    }
    best
}

/// A tick label: as many decimals as the tick spacing needs, so `0.1 0.2 0.3` and not
/// `0.30000000000000004`.
fn tick_label(v: f64, step: f64) -> String {
    let a = v.abs().max(step.abs());
    if a >= 1e5 || (step.abs() < 1e-3 && v != 0.0) {
        return fmt_num(v);
    }
    let decimals = (-step.abs().log10().floor()).clamp(0.0, 6.0) as usize;
    trim_zeros(format!("{v:.decimals$}"))
}

/// Order and class of the states in the counts bar: the four every run has, then others.
const STATE_ORDER: [&str; 6] = [
    "done",
    "failed",
    "blocked",
    "running",
    "interrupted",
    "pending",
];

/// The verdict line's stacked bar: one `<rect>` per state with tasks, widths proportional to
/// the counts (a state with any task at least 3 units wide, so one failure in 10^4 shows).
pub fn counts_bar(counts: &[(String, u64)]) -> String {
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let mut out = String::new();
    let mut x = 0u64;
    let mut rects = String::new();
    for (state, n) in counts.iter().filter(|(_, n)| *n > 0) {
        let w = ((*n as f64 * 1000.0 / total.max(1) as f64).round() as u64).max(3);
        let class = if STATE_ORDER.contains(&state.as_str()) {
            state.as_str()
        } else {
            "other"
        };
        let _ = write!(
            rects,
            r#"<rect class="st-{class}" x="{x}" width="{w}" height="10"><title>{n} {}</title></rect>"#,
            esc(state)
        );
        x += w;
    }
    let _ = write!(
        out,
        r#"<svg class="counts" viewBox="0 0 {} 10" preserveAspectRatio="none" role="img" aria-label="tasks by state">{rects}</svg>"#,
        x.max(1)
    );
    out
}

/// The states of `counts` in bar order: done, failed, blocked, running, interrupted, pending
/// (each listed even at 0 for the first four), then any other state alphabetically.
pub fn ordered_counts(counts: &std::collections::BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = STATE_ORDER
        .iter()
        .filter(|s| {
            matches!(**s, "done" | "failed" | "blocked" | "pending") || counts.contains_key(**s)
        })
        .map(|s| (s.to_string(), counts.get(*s).copied().unwrap_or(0)))
        .collect();
    for (state, n) in counts {
        if !STATE_ORDER.contains(&state.as_str()) {
            out.push((state.clone(), *n));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: numbers have one fixed text whatever their size.
    #[test]
    fn numbers_have_fixed_text() {
        assert_eq!(fmt_num(0.123456), "0.1235");
        assert_eq!(fmt_num(12.0), "12");
        assert_eq!(fmt_num(-3.5), "-3.5");
        assert_eq!(fmt_num(1234.5678), "1235");
        assert_eq!(fmt_num(0.0001234), "1.234e-4");
        assert_eq!(fmt_num(123456.0), "1.235e5");
        assert_eq!(fmt_num(f64::NAN), "NaN");
    }

    /// Issue 12: 3 to 5 round ticks inside the range, labelled without float noise.
    #[test]
    fn ticks_are_round_and_enough() {
        assert_eq!(
            nice_ticks(0.07, 0.98, 4),
            vec![0.2, 0.4, 0.6000000000000001, 0.8]
        );
        assert_eq!(nice_ticks(0.0, 5000.0, 4), vec![0.0, 2000.0, 4000.0]);
        let t = nice_ticks(0.07, 0.98, 4);
        let labels: Vec<String> = t.iter().map(|v| tick_label(*v, t[1] - t[0])).collect();
        assert_eq!(labels, ["0.2", "0.4", "0.6", "0.8"]);
    }

    /// Issue 12: the counts bar has a rect per state with tasks, one failure in 10^4 visible.
    #[test]
    fn counts_bar_shows_every_state_with_tasks() {
        let counts = std::collections::BTreeMap::from([
            ("done".to_string(), 9999),
            ("failed".to_string(), 1),
        ]);
        let ordered = ordered_counts(&counts);
        assert_eq!(
            ordered.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
            ["done", "failed", "blocked", "pending"]
        );
        let bar = counts_bar(&ordered);
        assert!(
            bar.contains(r#"<rect class="st-failed" x="1000" width="3""#),
            "{bar}"
        );
        assert!(!bar.contains("st-blocked"));
    }
}
