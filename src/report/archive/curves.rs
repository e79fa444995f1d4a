//! Metric curves for the plots: which (task, key) pairs get one, their points read from a
//! task's metric lines, and largest-triangle-three-buckets downsampling (Steinarsson 2013) so a
//! curve of a million steps keeps its shape in [`MAX_POINTS`] points.

use std::collections::BTreeSet;

/// Points kept per curve.
pub const MAX_POINTS: usize = 500;
/// Curves kept per archive.
pub const MAX_CURVES: usize = 100;

/// Field names that are a position in the stream, not a metric.
const POSITION_KEYS: &[&str] = &["step", "epoch", "time", "timestamp", "t", "wall_time"];

/// The numeric metric keys of one metric line (positions left out), sorted.
pub fn keys_of_line(line: &str) -> BTreeSet<String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(line) else {
        return BTreeSet::new();
    };
    map.into_iter()
        .filter(|(k, v)| v.is_number() && !POSITION_KEYS.contains(&k.as_str()))
        .map(|(k, _)| k)
        .collect()
}

/// The key a stage's plot shows: the first whose name says loss, then accuracy-like, then
/// the first by name. Deterministic for a given set of keys.
pub fn headline_key<'a>(keys: impl IntoIterator<Item = &'a String>) -> Option<String> {
    let keys: Vec<&String> = keys.into_iter().collect();
    for want in ["loss", "acc", "f1", "bleu", "auc", "ppl", "err"] {
        let mut hits: Vec<&&String> = keys
            .iter()
            .filter(|k| k.to_ascii_lowercase().contains(want))
            .collect();
        // `loss` before `val_loss`: the shortest name, then by name.
        hits.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        if let Some(k) = hits.first() {
            return Some((**k).clone());
        }
    }
    keys.into_iter().min().cloned()
}

/// The (step, value) points of `key` in a metric stream: `step` from the line's `step` field
/// (else its position), finite values only.
pub fn points<'a>(lines: impl Iterator<Item = &'a str>, key: &str) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(y) = v.get(key).and_then(serde_json::Value::as_f64) else {
            continue;
        };
        if !y.is_finite() {
            continue;
        }
        let x = v
            .get("step")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(i as f64);
        out.push((x, y));
    }
    out
}

/// `points` downsampled to at most `threshold` points by largest-triangle-three-buckets:
/// the first and last points are kept, and from each bucket the point forming the largest
/// triangle with the previous pick and the next bucket's mean.
pub fn lttb(points: &[(f64, f64)], threshold: usize) -> Vec<(f64, f64)> {
    let n = points.len();
    if threshold >= n || threshold < 3 {
        return points
            .iter()
            .copied()
            .take(threshold.max(n.min(2)))
            .collect();
    }
    let mut out = Vec::with_capacity(threshold);
    out.push(points[0]);
    let every = (n - 2) as f64 / (threshold - 2) as f64;
    let mut a = 0usize;
    for i in 0..threshold - 2 {
        let start = (i as f64 * every) as usize + 1;
        let end = (((i + 1) as f64 * every) as usize + 1).min(n - 1);
        let next_start = end;
        let next_end = (((i + 2) as f64 * every) as usize + 1).min(n);
        let next = &points[next_start..next_end.max(next_start + 1).min(n)];
        let (mx, my) = mean(next);
        let (ax, ay) = points[a];
        let mut best = start;
        let mut best_area = -1.0;
        for (j, &(x, y)) in points.iter().enumerate().take(end).skip(start) {
            let area = ((ax - mx) * (y - ay) - (ax - x) * (my - ay)).abs();
            if area > best_area {
                best_area = area;
                best = j;
            }
        }
        out.push(points[best]);
        a = best;
    }
    out.push(points[n - 1]);
    out
}

fn mean(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len().max(1) as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    (sx / n, sy / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: a long curve is cut to the limit, keeps its ends and its extremes.
    #[test]
    fn lttb_keeps_ends_and_spikes() {
        let mut pts: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, (i % 7) as f64)).collect();
        pts[5_000].1 = 100.0;
        let out = lttb(&pts, 500);
        assert_eq!(out.len(), 500);
        assert_eq!(out[0], pts[0]);
        assert_eq!(out[499], pts[9_999]);
        assert!(out.contains(&(5_000.0, 100.0)), "the spike survives");
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "in step order");
        let short = &pts[..10];
        assert_eq!(lttb(short, 500), short.to_vec());
    }

    /// Issue 12: the headline key is the loss, whatever else is logged.
    #[test]
    fn headline_prefers_loss_then_accuracy() {
        let keys: Vec<String> = ["lr", "val_loss", "loss", "acc"].map(String::from).into();
        assert_eq!(headline_key(&keys).as_deref(), Some("loss"));
        let keys: Vec<String> = ["lr", "val_acc"].map(String::from).into();
        assert_eq!(headline_key(&keys).as_deref(), Some("val_acc"));
        let keys: Vec<String> = ["zeta", "beta"].map(String::from).into();
        assert_eq!(headline_key(&keys).as_deref(), Some("beta"));
        assert_eq!(
            keys_of_line(r#"{"step":1,"loss":0.5,"note":"x","acc":1}"#)
                .into_iter()
                .collect::<Vec<_>>(),
            ["acc", "loss"]
        );
        assert_eq!(
            points(
                [r#"{"step":3,"loss":1}"#, "{}", r#"{"loss":2}"#].into_iter(),
                "loss"
            ),
            [(3.0, 1.0), (2.0, 2.0)]
        );
    }
}
