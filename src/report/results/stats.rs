//! The statistics of one result key over the tasks of one group, accumulated one value at a
//! time (Welford's method: no list of values is kept, and the variance stays accurate).

use crate::protocol::NON_FINITE;
use serde_json::Value;

/// What can be asked of a group's values (`results --agg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Agg {
    /// The arithmetic mean.
    Mean,
    /// The sample standard deviation (n-1 in the denominator); undefined for one value.
    Std,
    /// The standard error of the mean: std / sqrt(count).
    Sem,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// How many finite numbers the statistics are over.
    Count,
}

impl Agg {
    /// Its name, as in a column header (`val_acc:mean`) and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Agg::Mean => "mean",
            Agg::Std => "std",
            Agg::Sem => "sem",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Count => "count",
        }
    }
}

/// The running statistics of one key in one group.
///
/// Only finite numbers enter the statistics. `NaN`, `Infinity` and `-Infinity` (which a task's
/// JSON may hold, see [`crate::protocol::standard_json`]) are counted apart in `nonfinite`,
/// never averaged in: one diverged seed would otherwise turn the mean into `NaN` and hide the
/// others. Anything else (a string, a list, no value) is missing: the group's task count minus
/// `count` and `nonfinite`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Finite numbers seen.
    pub count: u64,
    /// `NaN` or infinite values seen (skipped).
    pub nonfinite: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

/// Whether `v` is a value a result key is aggregated for: a number or a non-finite one.
pub fn is_numeric(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::String(s) => NON_FINITE.contains(&s.as_str()),
        _ => false,
    }
}

impl Stats {
    /// Adds one value: a finite number enters the statistics, a non-finite one is counted,
    /// anything else is ignored (missing).
    pub fn add(&mut self, v: &Value) {
        match v {
            Value::Number(n) => match n.as_f64() {
                Some(x) if x.is_finite() => self.add_finite(x),
                _ => self.nonfinite += 1,
            },
            Value::String(s) if NON_FINITE.contains(&s.as_str()) => self.nonfinite += 1,
            _ => {}
        }
    }

    fn add_finite(&mut self, x: f64) {
        self.count += 1;
        if self.count == 1 {
            (self.min, self.max) = (x, x);
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The statistic `agg`; `None` when undefined (no value; the std of one value).
    pub fn get(&self, agg: Agg) -> Option<f64> {
        let n = self.count;
        match agg {
            Agg::Count => Some(n as f64),
            _ if n == 0 => None,
            Agg::Mean => Some(self.mean),
            Agg::Min => Some(self.min),
            Agg::Max => Some(self.max),
            Agg::Std | Agg::Sem if n < 2 => None,
            Agg::Std => Some(self.std()),
            Agg::Sem => Some(self.std() / (n as f64).sqrt()),
        }
    }

    fn std(&self) -> f64 {
        (self.m2 / (self.count - 1) as f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sample_std_and_nonfinite_values_kept_apart() {
        let mut s = Stats::default();
        for v in [
            json!(2),
            json!(4),
            json!("NaN"),
            json!(4),
            json!("x"),
            json!(5.0),
        ] {
            s.add(&v);
        }
        s.add(&json!(7)); // 2 4 4 5 7: mean 4.4
        s.add(&json!("-Infinity"));
        assert_eq!((s.count, s.nonfinite), (5, 2));
        assert!((s.get(Agg::Mean).unwrap() - 4.4).abs() < 1e-12);
        // sum of squares about the mean: 5.76+0.16+0.16+0.36+6.76 = 13.2; /4 = 3.3
        assert!((s.get(Agg::Std).unwrap() - 3.3f64.sqrt()).abs() < 1e-12);
        assert_eq!((s.get(Agg::Min), s.get(Agg::Max)), (Some(2.0), Some(7.0)));
        let mut one = Stats::default();
        one.add(&json!(1.5));
        assert_eq!((one.get(Agg::Std), one.get(Agg::Count)), (None, Some(1.0)));
        assert_eq!(Stats::default().get(Agg::Mean), None);
    }
}
