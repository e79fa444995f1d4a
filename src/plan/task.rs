//! A task as the plan holds it, and what the plan works out of it when asked: its parameter
//! values, label, command, environment and upstream tasks. A task is 32 bytes; its value indices
//! and upstream tasks live in two arrays the plan shares out, and its strings are made when
//! needed (issue 15: a plan of a million tasks held ~300 bytes per task before).

use super::keys::{self, ValueTable};
use super::{Key, Plan};
use crate::spec::{Spec, Value};

/// One unit of work: a stage's command for one combination of parameters.
#[derive(Debug, Clone, Copy)]
pub struct Task {
    pub key: Key,
    /// Index into [`Spec::stages`].
    pub stage: usize,
    /// Where the task's value indices start in the plan's (one per parameter of its stage).
    values_at: u32,
    /// Where the task's upstream tasks start in the plan's (they end where the next task's start).
    deps_at: u32,
}

/// What the plan keeps besides its tasks, shared out by position.
#[derive(Debug)]
pub(super) struct Arrays {
    /// The parameter values, as value indices by grid position.
    pub(super) table: ValueTable,
    /// Per stage, the grid positions of its parameters.
    pub(super) stage_params: Vec<Vec<usize>>,
    /// Every task's value indices, one after another.
    pub(super) values: Vec<u32>,
    /// Every task's upstream tasks (plan positions), one after another.
    pub(super) deps: Vec<u32>,
}

impl Task {
    /// Where the task's value indices start in the plan's.
    pub(super) fn values_at(&self) -> usize {
        self.values_at as usize
    }
}

impl Arrays {
    /// A task of `stage` whose value indices are `proj` and upstream tasks `deps`, recorded.
    pub(super) fn push(&mut self, key: Key, stage: usize, proj: &[u32], deps: &[u32]) -> Task {
        let task = Task {
            key,
            stage,
            values_at: position(self.values.len()),
            deps_at: position(self.deps.len()),
        };
        self.values.extend_from_slice(proj);
        self.deps.extend_from_slice(deps);
        task
    }
}

/// A position in one of the plan's arrays, kept in 32 bits: a plan of 2^32 value indices or
/// upstream links would need hundreds of gigabytes anyway.
fn position(n: usize) -> u32 {
    u32::try_from(n).expect("a plan's arrays hold fewer than 2^32 entries")
}

impl Plan {
    /// The number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the plan has no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Task `i`'s value indices, aligned with its stage's parameters.
    fn indices(&self, i: usize) -> &[u32] {
        let t = &self.tasks[i];
        let n = self.arrays.stage_params[t.stage].len();
        let at = t.values_at as usize;
        &self.arrays.values[at..at + n]
    }

    /// Task `i`'s parameter values, aligned with its stage's parameters.
    pub fn values(&self, i: usize) -> impl Iterator<Item = &Value> + '_ {
        let params = &self.arrays.stage_params[self.tasks[i].stage];
        params
            .iter()
            .zip(self.indices(i))
            .map(|(&p, &v)| &self.arrays.table.values[p][v as usize])
    }

    /// Task `i`'s parameter values as a list (see [`Plan::values`]).
    pub fn value_list(&self, i: usize) -> Vec<Value> {
        self.values(i).cloned().collect()
    }

    /// The plan positions of the tasks task `i` waits for.
    pub fn deps(&self, i: usize) -> &[u32] {
        let at = self.tasks[i].deps_at as usize;
        let end = self
            .tasks
            .get(i + 1)
            .map_or(self.arrays.deps.len(), |t| t.deps_at as usize);
        &self.arrays.deps[at..end]
    }

    /// The keys of the tasks task `i` waits for.
    pub fn dep_keys(&self, i: usize) -> impl Iterator<Item = &Key> + '_ {
        self.deps(i).iter().map(|&d| &self.tasks[d as usize].key)
    }

    /// Task `i`'s command, placeholders substituted (each value quoted for where its placeholder
    /// stands); `spec` is the spec the plan was expanded from.
    pub fn command(&self, i: usize, spec: &Spec) -> String {
        let si = self.tasks[i].stage;
        let params = &self.arrays.stage_params[si];
        keys::command(
            &self.arrays.table,
            &spec.stages[si],
            params,
            self.indices(i),
        )
    }

    /// Task `i`'s declared environment, resolved, in declared order.
    pub fn env(&self, i: usize, spec: &Spec) -> Vec<(String, String)> {
        let si = self.tasks[i].stage;
        let params = &self.arrays.stage_params[si];
        keys::env(
            &self.arrays.table,
            &spec.stages[si],
            params,
            self.indices(i),
        )
    }

    /// A readable name for task `i`: `rep=stats,layers=all` or `train/rep=stats` when the
    /// experiment has stages. Parameters with one value in the whole experiment are left out
    /// (they tell no two tasks apart); when none is left, the stage's name (`main` without
    /// stages).
    pub fn label(&self, i: usize, spec: &Spec) -> String {
        let mut label = String::new();
        self.label_into(i, spec, &mut label);
        label
    }

    /// Task `i`'s label (see [`Plan::label`]) written into `label`, which is cleared first: a
    /// dry run of a million tasks writes a million labels into one `String` (issue 15).
    pub fn label_into(&self, i: usize, spec: &Spec, label: &mut String) {
        label.clear();
        let stage = &spec.stages[self.tasks[i].stage];
        if spec.is_staged() {
            label.push_str(&stage.name);
            label.push('/');
        }
        let start = label.len();
        let params = &self.arrays.stage_params[self.tasks[i].stage];
        let texts = params
            .iter()
            .zip(self.indices(i))
            .map(|(&p, &v)| self.arrays.table.text[p][v as usize].as_str());
        // The values' texts, made once per value by the plan: formatting each value again made
        // most of a dry run's time (issue 15).
        for (n, v) in stage.params.iter().zip(texts) {
            if spec.single_valued.contains(n) {
                continue;
            }
            if label.len() > start {
                label.push(',');
            }
            label.push_str(n);
            label.push('=');
            label.push_str(v);
        }
        if label.len() == start {
            label.clear();
            label.push_str(if spec.is_staged() {
                &stage.name
            } else {
                "main"
            });
        }
    }

    /// Who task `i` is, as the task protocol tells every attempt of it (both engines).
    pub fn identity<'a>(
        &'a self,
        i: usize,
        spec: &'a Spec,
        run: &'a str,
        store_dir: &'a std::path::Path,
    ) -> crate::protocol::TaskIdentity<'a> {
        let task = &self.tasks[i];
        let stage = &spec.stages[task.stage];
        crate::protocol::TaskIdentity {
            run,
            store_dir,
            key: &task.key,
            label: self.label(i, spec),
            stage: &stage.name,
            params: stage
                .params
                .iter()
                .zip(self.values(i))
                .map(|(n, v)| (n.as_str(), v.to_string()))
                .collect(),
            declared: self.env(i, spec),
        }
    }

    /// Task `i`'s parameters as a JSON object, in grid order.
    pub fn params_json(&self, i: usize, spec: &Spec) -> serde_json::Map<String, serde_json::Value> {
        let stage = &spec.stages[self.tasks[i].stage];
        stage
            .params
            .iter()
            .zip(self.values(i))
            .map(|(n, v)| (n.clone(), v.to_json()))
            .collect()
    }
}
