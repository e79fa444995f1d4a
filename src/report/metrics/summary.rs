//! The streaming summary of one metric stream: O(keys) memory whatever its length.

use super::direction::{direction, Direction, STEP_KEYS, TIME_KEYS};
use super::record::{for_each_field, Scalar};
use crate::report::archive::model::MetricSummary;
use std::collections::HashMap;

/// Distinct metric keys summarised per stream; keys first seen after this many are ignored (a
/// stream that names a new key on every line would otherwise grow without bound).
pub const MAX_KEYS: usize = 1_000;

/// Step times kept per key for the 95th percentile: exact up to this many intervals, a uniform
/// reservoir sample of this size beyond (deterministic: the same stream gives the same figure).
pub const STEP_TIME_SAMPLE: usize = 4_096;

/// Summaries built line by line: feed every record with [`Summarizer::push`], then
/// [`Summarizer::finish`]. Holds nothing borrowed from the lines, so a reader can hand each line
/// from a buffer it reuses (see [`crate::store::Store::each_metric`]).
pub struct Summarizer {
    minimize: Vec<String>,
    maximize: Vec<String>,
    index: HashMap<Box<str>, usize>,
    keys: Vec<KeyStats>,
    /// This record's (key index, value), reused from line to line.
    fields: Vec<(usize, f64)>,
    /// Lines that were not a JSON object.
    pub skipped: u64,
}

struct KeyStats {
    key: String,
    direction: Option<Direction>,
    count: u64,
    nan: u64,
    last: Option<(f64, Option<f64>)>,
    best: Option<(f64, Option<f64>)>,
    /// (time, step) of the first and the latest record of this key with a time.
    first_timed: Option<(f64, Option<f64>)>,
    last_timed: Option<(f64, Option<f64>)>,
    timed: u64,
    interval_sum: f64,
    intervals: Reservoir,
}

impl Summarizer {
    /// A summarizer; `minimize` / `maximize` override the direction guessed from a key's name.
    pub fn new(minimize: &[String], maximize: &[String]) -> Summarizer {
        Summarizer {
            minimize: minimize.to_vec(),
            maximize: maximize.to_vec(),
            index: HashMap::new(),
            keys: Vec::new(),
            fields: Vec::new(),
            skipped: 0,
        }
    }

    /// Adds one record (a JSON object, as the store holds it).
    pub fn push(&mut self, line: &str) {
        let (mut step, mut step_rank) = (None, usize::MAX);
        let (mut time, mut time_rank) = (None, usize::MAX);
        self.fields.clear();
        let Summarizer {
            minimize,
            maximize,
            index,
            keys,
            fields,
            ..
        } = self;
        let parsed = for_each_field(line, |key, value| {
            let Scalar::Number(v) = value else { return };
            // The most specific axis present names the step (`step` before `epoch`).
            if let Some(rank) = STEP_KEYS.iter().position(|k| *k == key) {
                if rank < step_rank && v.is_finite() {
                    (step, step_rank) = (Some(v), rank);
                }
                return;
            }
            if let Some(rank) = TIME_KEYS.iter().position(|k| *k == key) {
                if rank < time_rank && v.is_finite() {
                    (time, time_rank) = (Some(v), rank);
                }
                return;
            }
            let i = match index.get(key) {
                Some(&i) => i,
                None if keys.len() < MAX_KEYS => {
                    index.insert(key.into(), keys.len());
                    keys.push(KeyStats::new(key, direction(key, minimize, maximize)));
                    keys.len() - 1
                }
                None => return,
            };
            fields.push((i, v));
        });
        if parsed.is_err() {
            self.skipped += 1;
            return;
        }
        for &(i, v) in &self.fields {
            self.keys[i].add(v, step, time);
        }
    }

    /// The summaries, one per key in the order the keys first appeared.
    pub fn finish(self) -> Vec<MetricSummary> {
        self.keys.into_iter().map(KeyStats::summary).collect()
    }
}

impl KeyStats {
    fn new(key: &str, direction: Option<Direction>) -> KeyStats {
        KeyStats {
            key: key.to_string(),
            direction,
            count: 0,
            nan: 0,
            last: None,
            best: None,
            first_timed: None,
            last_timed: None,
            timed: 0,
            interval_sum: 0.0,
            intervals: Reservoir::default(),
        }
    }

    fn add(&mut self, v: f64, step: Option<f64>, time: Option<f64>) {
        self.count += 1;
        if !v.is_finite() {
            self.nan += 1;
        } else {
            self.last = Some((v, step));
            let better = match (self.direction, self.best) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(Direction::Min), Some((b, _))) => v < b,
                (Some(Direction::Max), Some((b, _))) => v > b,
            };
            if better {
                self.best = Some((v, step));
            }
        }
        if let Some(t) = time {
            if let Some((prev, _)) = self.last_timed {
                let dt = t - prev;
                self.interval_sum += dt;
                self.intervals.add(dt);
            }
            self.first_timed.get_or_insert((t, step));
            self.last_timed = Some((t, step));
            self.timed += 1;
        }
    }

    fn summary(self) -> MetricSummary {
        let intervals = self.intervals.seen;
        let steps_per_s = match (self.first_timed, self.last_timed) {
            (Some((t0, s0)), Some((t1, s1))) if t1 > t0 => {
                let steps = match (s0, s1) {
                    (Some(s0), Some(s1)) => s1 - s0,
                    _ => (self.timed - 1) as f64,
                };
                Some(steps / (t1 - t0))
            }
            _ => None,
        };
        MetricSummary {
            key: self.key,
            count: self.count,
            last: self.last.map(|l| l.0),
            last_step: self.last.and_then(|l| l.1),
            best: self.best.map(|b| b.0),
            best_step: self.best.and_then(|b| b.1),
            direction: self.direction.map_or("none", Direction::as_str).to_string(),
            nan_count: self.nan,
            steps_per_s,
            step_time_mean_s: (intervals > 0).then(|| self.interval_sum / intervals as f64),
            step_time_p95_s: self.intervals.p95(),
        }
    }
}

/// A uniform sample of at most [`STEP_TIME_SAMPLE`] values (Algorithm R), with a fixed seed.
struct Reservoir {
    values: Vec<f64>,
    seen: u64,
    rng: u64,
}

impl Default for Reservoir {
    fn default() -> Self {
        Reservoir {
            values: Vec::new(),
            seen: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl Reservoir {
    fn add(&mut self, v: f64) {
        self.seen += 1;
        if self.values.len() < STEP_TIME_SAMPLE {
            self.values.push(v);
            return;
        }
        // xorshift64: cheap, and the same stream always keeps the same sample.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let j = self.rng % self.seen;
        if (j as usize) < STEP_TIME_SAMPLE {
            self.values[j as usize] = v;
        }
    }

    /// The nearest-rank 95th percentile.
    fn p95(mut self) -> Option<f64> {
        if self.values.is_empty() {
            return None;
        }
        self.values.sort_by(f64::total_cmp);
        let rank = (0.95 * self.values.len() as f64).ceil() as usize;
        Some(self.values[rank.clamp(1, self.values.len()) - 1])
    }
}
