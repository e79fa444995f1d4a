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

/// About `want` round tick values (1, 2 or 5 times a power of ten apart) covering `lo..=hi`.
pub fn nice_ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
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
const STATE_ORDER: [&str; 6] = ["done", "failed", "blocked", "running", "interrupted", "pending"];

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
        .filter(|s| matches!(**s, "done" | "failed" | "blocked" | "pending") || counts.contains_key(**s))
        .map(|s| (s.to_string(), counts.get(*s).copied().unwrap_or(0)))
        .collect();
    for (state, n) in counts {
        if !STATE_ORDER.contains(&state.as_str()) {
            out.push((state.clone(), *n));
        }
    }
    out
}
