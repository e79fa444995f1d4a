//! The task filters users type (`rep=stats`, `train/rep=stats`, `stage=train,rep=stats`, a stage
//! name, a label, a key prefix): one matcher for the tasks of a stored run (`labtrail tasks`,
//! `logs`, `reset`) and for the tasks of a plan (`run --only`, `--exclude`), so that a filter
//! selects the same tasks whichever command it is given to.

use crate::plan::Plan;
use crate::spec::Spec;
use serde_json::Value;

/// What a filter looks at in a task.
pub trait TaskFacts {
    /// The task key.
    fn key(&self) -> &str;
    /// The stage name (`main` without stages).
    fn stage(&self) -> &str;
    /// The label (`train/rep=stats`).
    fn label(&self) -> &str;
    /// The value of parameter `name`, if the task has it.
    fn param(&self, name: &str) -> Option<&Value>;
}

/// A plan's task as filters see it (see [`plan_facts`]).
#[derive(Debug, Clone)]
pub struct PlanFacts {
    pub key: String,
    pub stage: String,
    pub label: String,
    pub params: serde_json::Map<String, Value>,
}

impl TaskFacts for PlanFacts {
    fn key(&self) -> &str {
        &self.key
    }
    fn stage(&self) -> &str {
        &self.stage
    }
    fn label(&self) -> &str {
        &self.label
    }
    fn param(&self, name: &str) -> Option<&Value> {
        self.params.get(name)
    }
}

/// The tasks of `plan` (expanded from `spec`) as filters see them, in plan order: the same stage
/// names, labels and parameters the store records for them.
pub fn plan_facts(spec: &Spec, plan: &Plan) -> Vec<PlanFacts> {
    plan.tasks
        .iter()
        .enumerate()
        .map(|(i, t)| PlanFacts {
            key: t.key.to_string(),
            stage: spec.stages[t.stage].name.clone(),
            label: plan.label(i, spec),
            params: plan.params_json(i, spec),
        })
        .collect()
}

/// The positions in `all` of the tasks `query` names, in order. Names the user chose come first:
/// a label, then a stage name, then a key prefix (at least 4 characters; a stage called `beef`
/// is that stage, not the keys that start with `beef`), then `name=value` filters
/// (comma-separated, all must match, optionally after `stage/`; `stage=NAME` is the stage unless
/// a task has a parameter named `stage`). The first kind that matches wins.
pub fn matching<T: TaskFacts>(all: &[T], query: &str) -> Vec<usize> {
    let positions = |keep: &dyn Fn(&T) -> bool| -> Vec<usize> {
        (0..all.len()).filter(|&i| keep(&all[i])).collect()
    };
    if let Some(i) = all.iter().position(|t| t.label() == query) {
        return vec![i];
    }
    let of_stage = positions(&|t| t.stage() == query);
    if !of_stage.is_empty() {
        return of_stage;
    }
    if query.len() >= 4 {
        let by_key = positions(&|t| t.key().starts_with(query));
        if !by_key.is_empty() {
            return by_key;
        }
    }
    // `train/lr=0.1`: a stage before the `/`, if it is one (`data=a/b.csv` is a filter whose
    // value holds a `/`).
    let (stage, filters) = match query.split_once('/') {
        Some((s, f)) if !s.contains('=') && all.iter().any(|t| t.stage() == s) => (Some(s), f),
        _ => (None, query),
    };
    // Every part is `name=value`: one that is not matches nothing, rather than being dropped
    // and widening the selection.
    let pairs: Option<Vec<(&str, &str)>> = filters.split(',').map(|p| p.split_once('=')).collect();
    let Some(pairs) = pairs.filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    // `stage=NAME` names the stage, unless a parameter is called `stage`: the experiment's own
    // name wins, and the bare stage name still selects the stage.
    let stage_is_param = all.iter().any(|t| t.param("stage").is_some());
    positions(&|t| {
        stage.is_none_or(|s| s == t.stage())
            && pairs.iter().all(|(k, v)| match t.param(k) {
                _ if *k == "stage" && !stage_is_param => t.stage() == *v,
                Some(Value::String(s)) => s == v,
                Some(other) => same_value(serde_json::from_str::<Value>(v).ok(), other),
                None => false,
            })
    })
}

/// Whether a filter's value (parsed as JSON) names `value`. Numbers compare by value: a float
/// with no fraction is written `1` in labels and commands, so `w=1` names the float 1.0 (it
/// matched no task, issue 14, review); two integers compare exactly.
fn same_value(typed: Option<Value>, value: &Value) -> bool {
    match (typed, value) {
        (Some(Value::Number(a)), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            a.as_f64() == b.as_f64()
        }
        (typed, value) => typed.as_ref() == Some(value),
    }
}

/// A parameter value as labels, commands and filters write it: a string without its JSON
/// quotes, a float with no fraction without `.0` (`1`, as labels say, not `1.0`).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => {
            n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string())
        }
        other => other.to_string(),
    }
}
