//! The per-group counts of `status`, from one pass over the tasks' stored states and
//! parameters (issue 15): memory in the number of groups and parameters, never in the number
//! of tasks. Unasked, `status` groups by the parameter with the fewest values above one, up to
//! [`MAX_GROUP_VALUES`]: every parameter's counts per value are kept while it has that few
//! values, and dropped (the parameter marked as having too many) at its next value.

use super::status::{Counts, MAX_GROUP_VALUES};
use crate::store::TaskState;
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// Counts tasks per group as they are read.
#[derive(Debug, Default)]
pub struct GroupCounter {
    /// The parameters asked for (`--by`), once each; empty: the default grouping.
    by: Vec<String>,
    /// With `by`: the counts per group, in order of first appearance.
    groups: IndexMap<String, Counts>,
    /// Every parameter seen, in order of first appearance, with its counts per value while it
    /// has at most [`MAX_GROUP_VALUES`] values (only without `by`).
    params: IndexMap<String, Option<IndexMap<String, Counts>>>,
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

    /// Counts one task, in state `state`, with parameters `params`.
    pub fn add(&mut self, state: TaskState, params: &Map<String, Value>) {
        let default = self.by.is_empty();
        for (name, value) in params {
            let values = match self.params.get_mut(name) {
                Some(values) => values,
                None => self
                    .params
                    .entry(name.clone())
                    .or_insert(Some(IndexMap::new())),
            };
            let Some(counts) = values.as_mut().filter(|_| default) else {
                continue;
            };
            let text = param_text(value);
            let room = counts.len() < MAX_GROUP_VALUES;
            match counts.get_mut(&text) {
                Some(c) => c.add(state),
                None if room => counts.entry(text).or_default().add(state),
                None => *values = None,
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
            self.groups.entry(key.join(" ")).or_default().add(state);
        }
    }

    /// The groups of every task added.
    pub fn finish(self) -> Grouping {
        let parameters: Vec<String> = self.params.keys().cloned().collect();
        if !self.by.is_empty() {
            return Grouping {
                group_by: self.by,
                groups: self.groups,
                too_many_values: Vec::new(),
                parameters,
            };
        }
        let too_many_values = self
            .params
            .iter()
            .filter(|(_, values)| values.is_none())
            .map(|(name, _)| name.clone())
            .collect();
        // The first of the parameters with fewest values, as plan order has them.
        let chosen = self
            .params
            .into_iter()
            .filter_map(|(name, values)| Some((name, values?)))
            .filter(|(_, values)| values.len() > 1)
            .min_by_key(|(_, values)| values.len());
        let (group_by, groups) = match chosen {
            Some((name, values)) => {
                let groups = values
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

/// A parameter value as group names and task filters write it.
fn param_text(v: &Value) -> String {
    crate::plan::filter::value_text(v)
}
