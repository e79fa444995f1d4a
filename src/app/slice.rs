//! `run --only` / `--exclude`: the slice of a run's plan one invocation works on, and the
//! upstream tasks it needs that are not done. The other tasks of the run are left as they are.

use super::UsageError;
use crate::plan::filter::{matching, plan_facts, PlanFacts};
use crate::plan::Plan;
use crate::spec::Spec;
use indexmap::IndexMap;
use std::collections::HashSet;

/// The tasks the filters pick, before the store says which are done.
#[derive(Debug, Clone)]
pub struct Picked {
    /// Per plan task: matched by an `--only` filter (all tasks without one) and not left out by
    /// `--exclude` (a matching task or a task downstream of one).
    chosen: Vec<bool>,
}

/// The tasks one invocation runs: those picked, and the upstream tasks they need that are not
/// done.
#[derive(Debug, Clone)]
pub struct Slice {
    /// Per plan task: in the slice.
    pub within: Vec<bool>,
    /// Tasks the filters picked (done or not).
    pub chosen: usize,
    /// Tasks added because a picked task needs them and they are not done.
    pub upstream: usize,
    /// Tasks of the plan.
    pub total: usize,
}

impl Slice {
    /// Tasks in the slice.
    pub fn len(&self) -> usize {
        self.chosen + self.upstream
    }

    /// Whether the slice has no task (never, once picked: a filter that matches nothing is an
    /// error, but `--exclude` may leave nothing).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The line a run prints: `slice: 6 of 24 tasks (4 picked + 2 upstream)`: the slice's
    /// size first, as the final `slice of run …: 6/6 done` counts it (issue 14, review).
    pub fn describe(&self) -> String {
        format!(
            "slice: {} of {} tasks ({} picked + {} upstream)",
            self.len(),
            self.total,
            self.chosen,
            self.upstream
        )
    }
}

/// Picks the tasks of `plan` the filters name; `None` when there is no filter (the whole plan).
/// A filter that matches no task is a [`UsageError`] that names it and lists the stages,
/// parameters and values a filter can use.
pub fn pick(
    spec: &Spec,
    plan: &Plan,
    only: &[String],
    exclude: &[String],
) -> anyhow::Result<Option<Picked>> {
    if only.is_empty() && exclude.is_empty() {
        return Ok(None);
    }
    let facts = plan_facts(spec, plan);
    let matched = |flag: &str, filter: &String| -> anyhow::Result<Vec<usize>> {
        let found = matching(&facts, filter);
        if found.is_empty() {
            return Err(no_match(flag, filter, spec, &facts).into());
        }
        Ok(found)
    };
    let n = plan.tasks.len();
    let mut chosen = vec![only.is_empty(); n];
    for filter in only {
        for i in matched("--only", filter)? {
            chosen[i] = true;
        }
    }
    let mut out = vec![false; n];
    for filter in exclude {
        for i in matched("--exclude", filter)? {
            out[i] = true;
        }
    }
    // What waits for a task left out cannot run either: it is left out too.
    let mut dependents = vec![Vec::new(); n];
    for i in 0..n {
        for &j in plan.deps(i) {
            dependents[j as usize].push(i);
        }
    }
    let mut stack: Vec<usize> = (0..n).filter(|&i| out[i]).collect();
    while let Some(j) = stack.pop() {
        for &i in &dependents[j] {
            if !std::mem::replace(&mut out[i], true) {
                stack.push(i);
            }
        }
    }
    for (c, o) in chosen.iter_mut().zip(&out) {
        *c &= !o;
    }
    Ok(Some(Picked { chosen }))
}

impl Picked {
    /// The slice: the picked tasks and, transitively, their upstream tasks that are not done
    /// (`done(i)`: plan task `i` is done). A done upstream task is not run again, and what is
    /// upstream of it is not needed.
    pub fn slice(&self, plan: &Plan, done: impl Fn(usize) -> bool) -> Slice {
        let mut within = self.chosen.clone();
        let mut stack: Vec<usize> = (0..within.len())
            .filter(|&i| within[i] && !done(i))
            .collect();
        let mut upstream = 0;
        while let Some(i) = stack.pop() {
            for &j in plan.deps(i) {
                let j = j as usize;
                if !within[j] && !done(j) {
                    within[j] = true;
                    upstream += 1;
                    stack.push(j);
                }
            }
        }
        Slice {
            within,
            chosen: self.chosen.iter().filter(|&&c| c).count(),
            upstream,
            total: plan.tasks.len(),
        }
    }
}

/// Values of a parameter listed in an error before `…`.
const VALUES_SHOWN: usize = 8;

/// The error of a filter that matches no task: what a filter can name instead.
fn no_match(flag: &str, filter: &str, spec: &Spec, facts: &[PlanFacts]) -> UsageError {
    // Values in plan order, each once (a set beside the list: 10^5 tasks stay quick).
    let mut values: IndexMap<&str, (Vec<String>, HashSet<String>)> = IndexMap::new();
    for t in facts {
        for (k, v) in &t.params {
            let text = crate::plan::filter::value_text(v);
            let (list, seen) = values.entry(k.as_str()).or_default();
            if seen.insert(text.clone()) {
                list.push(text);
            }
        }
    }
    let mut lines = Vec::new();
    if spec.is_staged() {
        let stages: Vec<&str> = spec.stages.iter().map(|s| s.name.as_str()).collect();
        lines.push(format!("  stages: {}", stages.join(", ")));
    }
    for (name, (vs, _)) in &values {
        let shown: Vec<&str> = vs.iter().take(VALUES_SHOWN).map(String::as_str).collect();
        let more = match vs.len().saturating_sub(VALUES_SHOWN) {
            0 => String::new(),
            k => format!(", … and {k} more"),
        };
        lines.push(format!("  {name} = {}{more}", shown.join(", ")));
    }
    UsageError(format!(
        "{flag} {filter}: matches no task of experiment `{}`; a filter names a stage, NAME=VALUE (comma-separated: all must match) or STAGE/NAME=VALUE, as `labtrail tasks` takes it. The experiment has:\n{}",
        spec.name,
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// prep → train (per a, b) → eval (per a): a diamond-free pipeline with a fan-in.
    const EXP: &str = r#"
[experiment]
name = "s"
[params]
a = [1, 2]
b = ["x", "y"]
[[stage]]
name = "prep"
params = ["a"]
command = "true {a}"
[[stage]]
name = "train"
command = "true {a} {b}"
[[stage]]
name = "eval"
params = ["a"]
command = "true {a}"
"#;

    fn plan() -> (Spec, Plan) {
        let spec = Spec::parse(std::path::Path::new("s.toml"), EXP.into()).unwrap();
        let plan = crate::plan::expand(&spec);
        (spec, plan)
    }

    fn labels(spec: &Spec, plan: &Plan, s: &Slice) -> Vec<String> {
        (0..plan.tasks.len())
            .filter(|&i| s.within[i])
            .map(|i| plan.label(i, spec))
            .collect()
    }

    /// Issue 14: upstream tasks not done join the slice, transitively; a done one stops the walk.
    #[test]
    fn upstream_not_done_joins_the_slice_and_done_upstream_stops_it() {
        let (spec, plan) = plan();
        let only = ["eval/a=1".to_string()];
        let picked = pick(&spec, &plan, &only, &[]).unwrap().unwrap();
        let s = picked.slice(&plan, |_| false);
        assert_eq!((s.chosen, s.upstream, s.total), (1, 3, 8));
        assert_eq!(
            labels(&spec, &plan, &s),
            ["prep/a=1", "train/a=1,b=x", "train/a=1,b=y", "eval/a=1"]
        );
        let done_train = |i: usize| plan.label(i, &spec) == "train/a=1,b=x";
        let s = picked.slice(&plan, done_train);
        assert_eq!(
            labels(&spec, &plan, &s),
            ["prep/a=1", "train/a=1,b=y", "eval/a=1"],
            "prep is still needed by the train task not done"
        );
        assert!(pick(&spec, &plan, &[], &[]).unwrap().is_none());
    }

    /// Issue 14: `--exclude` takes what waits for the excluded tasks with them.
    #[test]
    fn exclude_carries_down_and_a_filter_that_matches_nothing_is_an_error() {
        let (spec, plan) = plan();
        let exclude = ["prep/a=2".to_string()];
        let s = pick(&spec, &plan, &[], &exclude)
            .unwrap()
            .unwrap()
            .slice(&plan, |_| false);
        assert_eq!(
            labels(&spec, &plan, &s),
            ["prep/a=1", "train/a=1,b=x", "train/a=1,b=y", "eval/a=1"]
        );
        let err = pick(&spec, &plan, &["b=z".to_string()], &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("--only b=z: matches no task"), "{text}");
        assert!(text.contains("stages: prep, train, eval") && text.contains("b = x, y"));
    }
}
