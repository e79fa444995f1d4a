//! The estimate of the time left that the bar shows.

/// Tasks this invocation must have finished before the time left is estimated.
pub const ETA_MIN_FINISHED: u64 = 3;
/// Seconds this invocation must have run before the time left is estimated.
pub const ETA_MIN_ELAPSED: f64 = 5.0;
/// The most a new estimate may differ from the one shown, as a factor either way.
const ETA_MAX_STEP: f64 = 1.5;

/// The time left of a run, estimated steadily: "—" (`None`) until this invocation has finished
/// [`ETA_MIN_FINISHED`] tasks and run [`ETA_MIN_ELAPSED`] seconds; then the tasks left at the
/// rate of the tasks it finished, counting down between finished tasks, and never more than
/// 1.5x away from the estimate shown before. (indicatif's own ETA follows the rate of recent
/// ticks: with several workers finishing together it jumped several-fold between refreshes.)
///
/// Times are seconds since the invocation started, given by the caller: a pure function of
/// them, tested without a clock.
#[derive(Debug, Clone)]
pub struct Eta {
    /// Tasks finished before this invocation (a resumed run): not part of its rate.
    base: u64,
    /// Tasks finished at the last observation.
    finished: u64,
    /// The last estimate: when it was made, and the seconds left then.
    last: Option<(f64, f64)>,
}

impl Eta {
    /// An estimator for an invocation that starts with `already_finished` tasks finished.
    pub fn new(already_finished: u64) -> Eta {
        Eta {
            base: already_finished,
            finished: already_finished,
            last: None,
        }
    }

    /// The counts at `now`: `finished` tasks (done or failed, earlier ones included) of `total`.
    /// Only a change of `finished` makes a new estimate.
    pub fn observe(&mut self, now: f64, finished: u64, total: u64) {
        if finished == self.finished {
            return;
        }
        self.finished = finished;
        let here = finished.saturating_sub(self.base);
        if here < ETA_MIN_FINISHED || now < ETA_MIN_ELAPSED {
            self.last = None;
            return;
        }
        let fresh = total.saturating_sub(finished) as f64 * now / here as f64;
        let value = match self.at(now) {
            Some(shown) => fresh.clamp(shown / ETA_MAX_STEP, shown * ETA_MAX_STEP),
            // Nothing shown ("—"), or the countdown ran out: the estimate starts afresh.
            None => fresh,
        };
        self.last = Some((now, value));
    }

    /// The seconds left at `now`: the last estimate counted down. `None` before there is one,
    /// and once the countdown has run out (the run is slower than estimated: "—" rather than a
    /// time that stays at 0).
    pub fn at(&self, now: f64) -> Option<f64> {
        let (at, left) = self.last?;
        let v = left - (now - at).max(0.0);
        (v > 0.0).then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the bar shows at each refresh (every 0.2 s) while tasks finish at `ends` (seconds,
    /// sorted), `total` tasks in all, `base` of them finished before.
    fn shown(ends: &[f64], total: u64, base: u64) -> Vec<(f64, Option<f64>)> {
        let mut eta = Eta::new(base);
        let mut next = ends.iter().peekable();
        let mut finished = base;
        let mut out = Vec::new();
        let last = ends.last().copied().unwrap_or(0.0);
        let mut t = 0.0;
        while t <= last {
            while next.peek().is_some_and(|&&e| e <= t) {
                next.next();
                finished += 1;
                eta.observe(t, finished, total);
            }
            out.push((t, eta.at(t)));
            t += 0.2;
        }
        out
    }

    /// Asserts that no refresh shows more than twice, or less than half, the one before (among
    /// values of at least a second: a countdown from 0.4 s to 0.2 s halves, and shows as 0 s).
    fn steady(seq: &[(f64, Option<f64>)]) {
        for w in seq.windows(2) {
            if let ((t0, Some(a)), (t1, Some(b))) = (w[0], w[1]) {
                if a >= 1.0 && b >= 1.0 {
                    let r = b / a;
                    assert!(
                        (0.5..=2.0).contains(&r),
                        "{a:.1}s at {t0:.1} -> {b:.1}s at {t1:.1}"
                    );
                }
            }
        }
    }

    /// Issue 9: "—" until 3 tasks finished and 5 s passed; then steady.
    #[test]
    fn nothing_before_enough_tasks_and_time() {
        // Four workers, 10 s tasks: they end in batches of four.
        let ends: Vec<f64> = (0..40)
            .map(|i| 10.0 * (i / 4 + 1) as f64 + 0.01 * (i % 4) as f64)
            .collect();
        let seq = shown(&ends, 40, 0);
        assert!(seq
            .iter()
            .filter(|(t, _)| *t < 10.0)
            .all(|(_, v)| v.is_none()));
        let at = |time: f64| seq.iter().find(|(t, _)| (*t - time).abs() < 0.1).unwrap().1;
        // Truth at 20 s: 80 s left.
        let mid = at(20.2).expect("an estimate after two batches");
        assert!((70.0..=90.0).contains(&mid), "{mid}");
        steady(&seq);

        let mut quick = Eta::new(0);
        for (i, t) in [0.5, 1.0, 1.5, 2.0].into_iter().enumerate() {
            quick.observe(t, i as u64 + 1, 100);
        }
        assert_eq!(quick.at(2.0), None, "4 tasks, but only 2 s");
    }

    /// Issue 9: irregular task lengths and a resumed run (its earlier tasks are not part of the
    /// rate) never make the estimate jump 2x between refreshes.
    #[test]
    fn irregular_tasks_never_jump_twofold() {
        // Deterministic pseudo-random task lengths from 1 s to 60 s, three workers.
        let mut seed: u64 = 7;
        let mut workers = [0.0f64; 3];
        let mut ends = Vec::new();
        for _ in 0..60 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = 1.0 + (seed >> 33) as f64 / (1u64 << 31) as f64 * 59.0;
            let w = (0..3)
                .min_by(|&a, &b| workers[a].total_cmp(&workers[b]))
                .unwrap();
            workers[w] += len;
            ends.push(workers[w]);
        }
        ends.sort_by(f64::total_cmp);
        steady(&shown(&ends, 60, 0));
        steady(&shown(&ends, 160, 100));
        let resumed = shown(&ends, 160, 100);
        let first = resumed.iter().find_map(|(_, v)| *v).unwrap();
        let whole = shown(&ends, 60, 0).iter().find_map(|(_, v)| *v).unwrap();
        assert!(
            (first - whole).abs() < 1e-9,
            "100 earlier tasks do not count: {first} vs {whole}"
        );
    }
}
