//! `labtrail results --group-by`: the done tasks grouped by some of their parameters, with the
//! statistics of every numeric result key over each group (the seeds, usually).
//!
//! A fold over the records, one at a time, in one pass: the groups and their running
//! [`Stats`] are all it keeps, never the records. Results of different stages are never
//! mixed: a group is a stage and values of the chosen parameters.

use super::stats::{is_numeric, Stats};
use super::ResultRecord;
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// One group: a stage and the values of the grouping parameters, with its statistics.
#[derive(Debug, Clone)]
pub struct Group {
    /// The stage of its tasks.
    pub stage: String,
    /// The value of each grouping parameter, in `--group-by` order (`None`: a task of this
    /// stage has no such parameter).
    pub values: Vec<Option<Value>>,
    /// How many done tasks it holds.
    pub tasks: u64,
    /// The statistics of each result key seen in the group, in order of first appearance.
    pub stats: IndexMap<String, Stats>,
}

/// The folded groups, in order of first appearance.
#[derive(Debug, Clone)]
pub struct Grouped {
    /// The grouping parameters.
    pub by: Vec<String>,
    /// The groups.
    pub groups: Vec<Group>,
    /// Result keys with at least one number (or non-finite value), in order of first
    /// appearance: the keys aggregated.
    pub numeric: Vec<String>,
    /// Result keys that never held a number: not aggregated.
    pub not_numeric: Vec<String>,
    /// Parameter names seen, to check `--group-by` against.
    pub params: Vec<String>,
    /// Stages seen, in order of first appearance.
    pub stages: Vec<String>,
}

/// The fold: [`Aggregator::add`] each record, then [`Aggregator::finish`].
#[derive(Debug)]
pub struct Aggregator {
    by: Vec<String>,
    groups: IndexMap<String, Group>,
    keys: IndexMap<String, bool>,
    params: Vec<String>,
    stages: Vec<String>,
}

/// A record's result as key-value pairs: an object's fields, any other value under `result`
/// (as the CSV's last column names it).
pub fn result_fields(result: &Option<Value>) -> Vec<(&str, &Value)> {
    match result {
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(v) => vec![("result", v)],
    }
}

impl Aggregator {
    /// An empty fold grouping by the parameters `by`.
    pub fn new(by: Vec<String>) -> Aggregator {
        Aggregator {
            by,
            groups: IndexMap::new(),
            keys: IndexMap::new(),
            params: Vec::new(),
            stages: Vec::new(),
        }
    }

    /// Folds one record in.
    pub fn add(&mut self, r: &ResultRecord) {
        let empty = Map::new();
        let params = r.params.as_object().unwrap_or(&empty);
        for k in params.keys() {
            if !self.params.contains(k) {
                self.params.push(k.clone());
            }
        }
        if !self.stages.contains(&r.stage) {
            self.stages.push(r.stage.clone());
        }
        let values: Vec<Option<Value>> = self.by.iter().map(|p| params.get(p).cloned()).collect();
        // Values as JSON text: `1` and `"1"` are different groups, as they are different tasks.
        let id = serde_json::to_string(&(&r.stage, &values)).unwrap_or_default();
        let group = self.groups.entry(id).or_insert_with(|| Group {
            stage: r.stage.clone(),
            values,
            tasks: 0,
            stats: IndexMap::new(),
        });
        group.tasks += 1;
        for (k, v) in result_fields(&r.result) {
            let numeric = is_numeric(v);
            *self.keys.entry(k.to_string()).or_insert(false) |= numeric;
            group.stats.entry(k.to_string()).or_default().add(v);
        }
    }

    /// The groups, and which keys were aggregated.
    pub fn finish(self) -> Grouped {
        let (numeric, not_numeric) = self.keys.into_iter().partition::<Vec<_>, _>(|(_, n)| *n);
        Grouped {
            by: self.by,
            groups: self.groups.into_values().collect(),
            numeric: numeric.into_iter().map(|(k, _)| k).collect(),
            not_numeric: not_numeric.into_iter().map(|(k, _)| k).collect(),
            params: self.params,
            stages: self.stages,
        }
    }
}

impl Grouped {
    /// Folds `records` grouped by `by`.
    pub fn of<'a>(by: Vec<String>, records: impl IntoIterator<Item = &'a ResultRecord>) -> Grouped {
        let mut fold = Aggregator::new(by);
        for r in records {
            fold.add(r);
        }
        fold.finish()
    }

    /// The grouping parameters that no task has: what `--group-by` got wrong.
    pub fn unknown_params(&self) -> Vec<&str> {
        self.by
            .iter()
            .filter(|p| !self.params.contains(p))
            .map(String::as_str)
            .collect()
    }

    /// Whether the groups span several stages: then the stage is shown as a grouping column.
    pub fn several_stages(&self) -> bool {
        self.stages.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(stage: &str, params: Value, result: Value) -> ResultRecord {
        ResultRecord {
            key: "k".into(),
            stage: stage.into(),
            label: String::new(),
            params,
            result: Some(result),
            attempts: 1,
            finished_at: None,
        }
    }

    /// Groups by the chosen parameters within each stage, in order of first appearance; a key
    /// that never holds a number is not aggregated.
    #[test]
    fn groups_within_stages_in_first_appearance_order() {
        let records = [
            record(
                "train",
                json!({"rep": "a", "seed": 0}),
                json!({"acc": 0.5, "note": "x"}),
            ),
            record("train", json!({"rep": "b", "seed": 0}), json!({"acc": 0.7})),
            record(
                "train",
                json!({"rep": "a", "seed": 1}),
                json!({"acc": "NaN"}),
            ),
            record("eval", json!({"rep": "a"}), json!(3)),
        ];
        let g = Grouped::of(vec!["rep".into()], &records);
        let seen: Vec<(&str, &Option<Value>, u64)> = g
            .groups
            .iter()
            .map(|g| (g.stage.as_str(), &g.values[0], g.tasks))
            .collect();
        assert_eq!(
            seen,
            [
                ("train", &Some(json!("a")), 2),
                ("train", &Some(json!("b")), 1),
                ("eval", &Some(json!("a")), 1)
            ]
        );
        assert_eq!(g.numeric, ["acc", "result"]);
        assert_eq!(g.not_numeric, ["note"]);
        let acc = &g.groups[0].stats["acc"];
        assert_eq!((acc.count, acc.nonfinite), (1, 1));
        assert!(g.several_stages());
        assert!(Grouped::of(vec!["nope".into()], &records).unknown_params() == ["nope"]);
    }
}
