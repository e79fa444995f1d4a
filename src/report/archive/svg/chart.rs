//! One metric panel: a line chart of several series over shared axes, as inline SVG.
//!
//! The panel is 320 × 180 user units; series are written in half-unit integers inside a
//! `scale(.5)` group, as one `<path>` each with relative moves (`M12 300l2-5 2 3…`): a 500-point
//! curve is about 2.5 KB. Non-finite values break the line (a new `M`), never move it to 0.

use super::super::html::esc;
use super::{nice_ticks, tick_label};
use std::fmt::Write;

/// Width and height of a panel, in user units (the SVG scales to its box).
const W: i64 = 320;
const H: i64 = 180;
/// The plot area inside the panel: left, top, width, height.
const L: i64 = 46;
const T: i64 = 8;
const PW: i64 = 266;
const PH: i64 = 146;
/// Series coordinates are in units of 1/SCALE of a user unit.
const SCALE: i64 = 2;

/// One line of a panel.
pub struct Series<'a> {
    /// (step, value) pairs, in step order.
    pub points: &'a [(f64, f64)],
    /// The CSS class giving its colour (`s0`…`s7`, `many`, `best`, `prev`).
    pub class: &'a str,
    /// Shown on hover (`<title>`).
    pub title: String,
}

/// Writes a panel: the previous run's series first (grey, underneath), then the current ones
/// in the order given (the last is drawn on top).
pub fn panel(previous: &[Series], current: &[Series], aria: &str) -> String {
    let all = || previous.iter().chain(current).flat_map(|s| s.points.iter());
    let (x0, x1) = span(all().map(|p| p.0), 0.0);
    let (y0, y1) = span(all().map(|p| p.1), 0.03);
    let mut out = String::with_capacity(1024 + 3 * all().count());
    let _ = write!(
        out,
        r#"<svg class="plot" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
        esc(aria)
    );
    axes(&mut out, (x0, x1), (y0, y1));
    let _ = write!(
        out,
        r#"<g transform="translate({L} {T}) scale({})">"#,
        1.0 / SCALE as f64
    );
    for s in previous.iter().chain(current) {
        let d = path_data(s.points, (x0, x1), (y0, y1));
        if !d.is_empty() {
            let _ = write!(
                out,
                r#"<path class="l {}" d="{d}"><title>{}</title></path>"#,
                s.class,
                esc(&s.title)
            );
        }
    }
    out.push_str("</g></svg>");
    out
}

/// The finite range of `values`, padded by `pad` of its width on each side; a single value
/// gets a range around it so it is drawn mid-panel.
fn span(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return (0.0, 1.0);
    }
    if hi == lo {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    let p = (hi - lo) * pad;
    (lo - p, hi + p)
}

/// Grid lines and tick labels at round values, the left and bottom axes.
fn axes(out: &mut String, (x0, x1): (f64, f64), (y0, y1): (f64, f64)) {
    let px = |x: f64| L as f64 + (x - x0) / (x1 - x0) * PW as f64;
    let py = |y: f64| T as f64 + (y1 - y) / (y1 - y0) * PH as f64;
    let yt = nice_ticks(y0, y1, 4);
    let xt = nice_ticks(x0, x1, 4);
    let step = |t: &[f64]| if t.len() > 1 { t[1] - t[0] } else { 1.0 };
    let mut grid = String::new();
    let mut labels = String::new();
    for v in &yt {
        let y = py(*v).round() as i64;
        let _ = write!(grid, "M{L} {y}h{PW}");
        let _ = write!(
            labels,
            r#"<text class="ty" x="{}" y="{}">{}</text>"#,
            L - 4,
            y + 3,
            tick_label(*v, step(&yt))
        );
    }
    for v in &xt {
        let x = px(*v).round() as i64;
        let _ = write!(grid, "M{x} {T}v{PH}");
        let _ = write!(
            labels,
            r#"<text class="tx" x="{x}" y="{}">{}</text>"#,
            T + PH + 13,
            tick_label(*v, step(&xt))
        );
    }
    let _ = write!(
        out,
        r#"<path class="grid" d="{grid}"/><path class="ax" d="M{L} {T}V{}H{}"/>{labels}"#,
        T + PH,
        L + PW
    );
}

/// The `d` attribute of one series: absolute `M` at the start and after every break, then
/// relative `l` moves; points that land on the same unit as the previous one are skipped.
fn path_data(points: &[(f64, f64)], (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> String {
    let (uw, uh) = ((PW * SCALE) as f64, (PH * SCALE) as f64);
    let mut d = String::new();
    let mut at: Option<(i64, i64)> = None;
    let mut run = 0;
    for &(x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            dot_if_alone(&mut d, run);
            at = None;
            continue;
        }
        let p = (
            ((x - x0) / (x1 - x0) * uw).round() as i64,
            ((y1 - y) / (y1 - y0) * uh).round() as i64,
        );
        match at {
            None => {
                let _ = write!(d, "M{} {}", p.0, p.1);
                run = 1;
            }
            Some(q) if q == p => continue,
            Some(q) => {
                if run == 1 {
                    d.push('l');
                    let _ = write!(d, "{}", p.0 - q.0);
                } else {
                    push_num(&mut d, p.0 - q.0);
                }
                push_num(&mut d, p.1 - q.1);
                run += 1;
            }
        }
        at = Some(p);
    }
    dot_if_alone(&mut d, run);
    d
}

/// A lone point draws nothing as a path: give it a zero-length segment (round caps make it a dot).
fn dot_if_alone(d: &mut String, run: usize) {
    if run == 1 {
        d.push_str("l0 0");
    }
}

/// A number in a path's list: a space before it unless its minus sign separates it.
fn push_num(d: &mut String, n: i64) {
    if n >= 0 {
        d.push(' ');
    }
    let _ = write!(d, "{n}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: a series is one path of relative moves; NaN breaks it; a lone point is a dot.
    #[test]
    fn path_data_is_relative_and_breaks_at_non_finite_values() {
        let pts = [
            (0.0, 1.0),
            (1.0, 0.0),
            (2.0, 1.0),
            (3.0, f64::NAN),
            (4.0, 0.5),
        ];
        let d = path_data(&pts, (0.0, 4.0), (0.0, 1.0));
        assert_eq!(d, "M0 0l133 292 133-292M532 146l0 0");
    }

    /// Issue 12: a flat or single-valued series still gets a drawable range.
    #[test]
    fn span_of_one_value_is_around_it() {
        assert_eq!(span([2.0, 2.0].into_iter(), 0.0), (1.8, 2.2));
        assert_eq!(span([f64::NAN].into_iter(), 0.0), (0.0, 1.0));
    }

    /// Issue 12: a panel holds one path per series, the previous run's first.
    #[test]
    fn panel_draws_previous_under_current() {
        let a = [(0.0, 1.0), (10.0, 0.1)];
        let b = [(0.0, 1.2), (10.0, 0.3)];
        let prev = [Series {
            points: &b,
            class: "prev",
            title: "previous".into(),
        }];
        let cur = [Series {
            points: &a,
            class: "s0",
            title: "lr=<1>".into(),
        }];
        let svg = panel(&prev, &cur, "train loss");
        assert_eq!(svg.matches("<path class=\"l ").count(), 2);
        assert!(svg.find("l prev").unwrap() < svg.find("l s0").unwrap());
        assert!(svg.contains("lr=&lt;1&gt;"), "{svg}");
    }
}
