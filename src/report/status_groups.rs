//! The per-group counts of `status`, from one pass over the tasks' stored states and
//! parameters (issue 15): memory in the number of groups and parameters, never in the number
//! of tasks. Unasked, `status` groups by the parameter with the fewest values above one, up to
//! [`MAX_GROUP_VALUES`]: every parameter's counts per value are kept while it has that few
//! values, and dropped (the parameter marked as having too many) at its next value. Whether a
//! parameter has too many values does not depend on the order tasks are read in.

use super::status::{Counts, MAX_GROUP_VALUES};
use crate::store::TaskState;
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// Counts tasks per group as they are read, in any order: each group, parameter and value
/// keeps the plan position where it first appears, and they are put in plan order at the end
/// (so that SQLite need not sort the tasks).
#[derive(Debug, Default)]
pub struct GroupCounter {
    /// The parameters asked for (`--by`), once each; empty: the default grouping.
    by: Vec<String>,
    /// With `by`: the counts per group.
    groups: IndexMap<String, Seen>,
    /// Every parameter seen, with its counts per value while it has at most
    /// [`MAX_GROUP_VALUES`] values (only without `by`).
    params: IndexMap<String, Param>,
}

/// A group's (or a value's) counts, and the plan position of its first task.
#[derive(Debug)]
struct Seen {
    first: i64,
    counts: Counts,
}

/// A parameter: where it first appears (task position, then its place among the task's
/// parameters), and its values' counts until it has too many.
#[derive(Debug)]
struct Param {
    first: (i64, usize),
    values: Option<IndexMap<String, Seen>>,
}

/// The groups of a run's tasks, as `status` shows them.
#[derive(Debug, Default)]
pub struct Grouping {
    /// The parameters the groups are made of.
    pub group_by: Vec<String>,
    /// The counts per group (`name=value name=value`), in order of first appearance.
    pub groups: IndexMap<String, Counts>,
    /// Without `--by`: the parameters with more than [`MAX_GROUP_VALUES`] values.
    pub too_many_values: Vec<String>,
    /// The parameters the tasks have, in order of first appearance.
    pub parameters: Vec<String>,
}

impl GroupCounter {
    /// A counter grouping by `by` (empty: the default grouping).
    pub fn new(by: &[String]) -> GroupCounter {
        // `--by x --by x` would make groups named `x=1 x=1`.
        let mut once: Vec<String> = Vec::new();
        for p in by.iter().filter(|p| !p.is_empty()) {
            if !once.contains(p) {
                once.push(p.clone());
            }
        }
        GroupCounter {
            by: once,
            ..GroupCounter::default()
        }
    }

    /// Counts the task at plan position `seq`, in state `state`, with parameters `params`.
    pub fn add(&mut self, seq: i64, state: TaskState, params: &Map<String, Value>) {
        let default = self.by.is_empty();
        for (i, (name, value)) in params.iter().enumerate() {
            let param = match self.params.get_mut(name) {
                Some(param) => param,
                None => self.params.entry(name.clone()).or_insert(Param {
                    first: (seq, i),
                    values: Some(IndexMap::new()),
                }),
            };
            param.first = param.first.min((seq, i));
            let Some(values) = param.values.as_mut().filter(|_| default) else {
                continue;
            };
            let text = param_text(value);
            let room = values.len() < MAX_GROUP_VALUES;
            match values.get_mut(&text) {
                Some(seen) => seen.add(seq, state),
                None if room => {
                    let mut seen = Seen::at(seq);
                    seen.add(seq, state);
                    values.insert(text, seen);
                }
                None => param.values = None,
            }
        }
        if default {
            return;
        }
        let key: Vec<String> = self
            .by
            .iter()
            .filter_map(|p| params.get(p).map(|v| format!("{p}={}", param_text(v))))
            .collect();
        if !key.is_empty() {
            let seen = self.groups.entry(key.join(" ")).or_insert(Seen::at(seq));
            seen.add(seq, state);
        }
    }

    /// The groups of every task added.
    pub fn finish(mut self) -> Grouping {
        self.params.sort_by(|_, a, _, b| a.first.cmp(&b.first));
        let parameters: Vec<String> = self.params.keys().cloned().collect();
        if !self.by.is_empty() {
            return Grouping {
                group_by: self.by,
                groups: in_plan_order(self.groups),
                too_many_values: Vec::new(),
                parameters,
            };
        }
        let too_many_values = self
            .params
            .iter()
            .filter(|(_, p)| p.values.is_none())
            .map(|(name, _)| name.clone())
            .collect();
        // The first of the parameters with fewest values, as plan order has them.
        let chosen = self
            .params
            .into_iter()
            .filter_map(|(name, p)| Some((name, p.values?)))
            .filter(|(_, values)| values.len() > 1)
            .min_by_key(|(_, values)| values.len());
        let (group_by, groups) = match chosen {
            Some((name, values)) => {
                let groups = in_plan_order(values)
                    .into_iter()
                    .map(|(v, c)| (format!("{name}={v}"), c))
                    .collect();
                (vec![name], groups)
            }
            None => (Vec::new(), IndexMap::new()),
        };
        Grouping {
            group_by,
            groups,
            too_many_values,
            parameters,
        }
    }
}

impl Seen {
    fn at(seq: i64) -> Seen {
        Seen {
            first: seq,
            counts: Counts::default(),
        }
    }

    fn add(&mut self, seq: i64, state: TaskState) {
        self.first = self.first.min(seq);
        self.counts.add(state);
    }
}

/// The counts, in the order of their first task in the plan.
fn in_plan_order(mut seen: IndexMap<String, Seen>) -> IndexMap<String, Counts> {
    seen.sort_by(|_, a, _, b| a.first.cmp(&b.first));
    seen.into_iter().map(|(k, s)| (k, s.counts)).collect()
}

/// A parameter value as group names and task filters write it.
fn param_text(v: &Value) -> String {
    crate::plan::filter::value_text(v)
}
