//! Why each task will be skipped or run: behind `labtrail status --explain` and
//! `labtrail run --dry-run`.
//!
//! Three subjects: a stored run as it stands, a plan that has no run yet, and a plan (the
//! experiment file as it is now) compared with a stored run. Each gives one [`ExplainRow`] per
//! task, in order; the CLI prints them.

use crate::plan::{Inputs, Plan};
use crate::spec::Spec;
use crate::store::{Store, StoreError, TaskRow, TaskState, INPUTS_RECORD};
use std::collections::HashMap;
use std::path::PathBuf;

/// What `labtrail run` would do with a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Done: its result is kept and it does not run again.
    Skip,
    /// It runs (again).
    Run,
    /// An attempt is running now.
    Busy,
}

impl Verb {
    /// The word shown in the first column.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Skip => "skip",
            Verb::Run => "run",
            Verb::Busy => "busy",
        }
    }
}

/// Why a task of a plan with no run yet would run.
pub const NEVER_RUN: &str = "never run";

/// One task's line of an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainRow {
    /// What would happen to the task.
    pub verb: Verb,
    /// The task key.
    pub key: String,
    /// The task label.
    pub label: String,
    /// Why, in words.
    pub why: String,
}

/// What an explanation is about; the CLI's heading says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A stored run as it stands.
    Stored {
        /// The run id.
        run: String,
    },
    /// A plan with no run yet: every task would run.
    Fresh {
        /// The experiment's name.
        experiment: String,
        /// The number of tasks in the plan.
        tasks: usize,
    },
    /// A plan compared with a stored run.
    Compared {
        /// The run id.
        run: String,
        /// The experiment file the plan comes from, as given.
        spec_path: PathBuf,
        /// Whether the run was made before lineage keys (see [`crate::plan::KeyScheme`]): in
        /// it, a change upstream does not make the tasks downstream run again.
        own_keys: bool,
    },
}

/// Why each task will be skipped or run, in plan order.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// What is explained.
    pub subject: Subject,
    /// One row per task.
    pub rows: Vec<ExplainRow>,
}

/// Explains the stored run `run` (`None`: the latest) as it stands.
pub fn stored(store: &Store, run: Option<&str>) -> Result<Explanation, StoreError> {
    let run = store.resolve_run(run)?;
    let (mut tasks, gone) =
        super::runner::read_with_runner(store, &run, || store.tasks(&run, None))?;
    super::runner::as_seen(&mut tasks, gone);
    let rows = tasks
        .iter()
        .map(|t| {
            let (verb, why) = stored_reason(t);
            ExplainRow {
                verb,
                key: t.key.clone(),
                label: t.label.clone(),
                why,
            }
        })
        .collect();
    Ok(Explanation {
        subject: Subject::Stored { run },
        rows,
    })
}

/// Explains a plan that has no run yet: every task would run.
pub fn fresh(spec: &Spec, plan: &Plan) -> Explanation {
    Explanation {
        subject: fresh_subject(spec, plan),
        rows: fresh_rows(spec, plan).collect(),
    }
}

/// What [`fresh`] explains.
pub fn fresh_subject(spec: &Spec, plan: &Plan) -> Subject {
    Subject::Fresh {
        experiment: spec.name.clone(),
        tasks: plan.tasks.len(),
    }
}

/// The rows of [`fresh`], one at a time: a dry run of a 10^6-task plan prints them without
/// holding them all.
pub fn fresh_rows<'a>(spec: &'a Spec, plan: &'a Plan) -> impl Iterator<Item = ExplainRow> + 'a {
    plan.tasks.iter().enumerate().map(|(i, t)| ExplainRow {
        verb: Verb::Run,
        key: t.key.to_string(),
        label: plan.label(i, spec),
        why: NEVER_RUN.into(),
    })
}

/// Explains, for each task of `plan`, what `labtrail run` would do with it and why, compared
/// with the run `run` (`None`: the experiment's latest run; none at all: [`fresh`]).
pub fn compared(
    store: &Store,
    spec: &Spec,
    plan: &Plan,
    run: Option<&str>,
) -> Result<Explanation, StoreError> {
    let run = match run {
        Some(r) => Some(store.resolve_run(Some(r))?),
        None => store.latest_run(Some(&spec.name))?,
    };
    let Some(run) = run else {
        return Ok(fresh(spec, plan));
    };
    // Retired tasks count: a task that left the plan and comes back keeps its result.
    let ((current, mut retired), gone) = super::runner::read_with_runner(store, &run, || {
        Ok::<_, StoreError>((store.tasks(&run, None)?, store.retired_tasks(&run)?))
    })?;
    let in_plan = current.len();
    let mut tasks = current;
    // Oldest first, so that of several earlier configurations of a label the latest is kept.
    retired.sort_by(|a, b| (&a.finished_at, &a.key).cmp(&(&b.finished_at, &b.key)));
    tasks.append(&mut retired);
    super::runner::as_seen(&mut tasks, gone);
    // A new key with a known label is a changed configuration of a task the run had: compared
    // with the run's current configuration of that label, else its latest earlier one (one
    // answer, the same every time).
    let mut by_label: HashMap<&str, &TaskRow> = HashMap::new();
    for t in tasks[in_plan..].iter().chain(&tasks[..in_plan]) {
        by_label.insert(t.label.as_str(), t);
    }
    let stored: HashMap<&str, &TaskRow> = tasks.iter().map(|t| (t.key.as_str(), t)).collect();
    let recorded = store
        .records(&run, INPUTS_RECORD)?
        .last()
        .and_then(|r| Inputs::from_json(spec, &r.json))
        .unwrap_or_default();
    let rows = plan
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let label = plan.label(i, spec);
            let (verb, why) = match stored.get(t.key.as_str()) {
                Some(row) => stored_reason(row),
                None => match by_label.get(label.as_str()) {
                    Some(old) => {
                        let what =
                            what_changed(spec, plan, i, old, &recorded, &by_label);
                        (
                            Verb::Run,
                            format!("new configuration: {what}; the earlier result is kept but not reused"),
                        )
                    }
                    None => (Verb::Run, "new task: not in this run before".into()),
                },
            };
            ExplainRow {
                verb,
                key: t.key.to_string(),
                label,
                why,
            }
        })
        .collect();
    Ok(Explanation {
        subject: Subject::Compared {
            run,
            spec_path: spec.path.clone(),
            own_keys: plan.scheme == crate::plan::KeyScheme::Own && spec.is_staged(),
        },
        rows,
    })
}

/// Why task `i` of `plan` has a new key where the run had `old` with the same label: the first of
/// its command, working directory, declared inputs (against `recorded`, those the run's plan was
/// synced with), upstream tasks, or else its environment (the only part of the key not stored).
fn what_changed(
    spec: &Spec,
    plan: &Plan,
    i: usize,
    old: &TaskRow,
    recorded: &Inputs,
    stored_labels: &HashMap<&str, &TaskRow>,
) -> String {
    let t = &plan.tasks[i];
    let stage = &spec.stages[t.stage];
    if old.command != plan.command(i, spec) {
        return format!("the command changed (was: {})", old.command);
    }
    if old.workdir != stage.workdir {
        return format!("the working directory changed (was: {})", old.workdir);
    }
    if let Some(change) = input_change(plan.inputs.of_stage(t.stage), recorded.of_stage(t.stage)) {
        return change;
    }
    // Upstream tasks it did not wait for before: changed ones (the run had their label) first.
    let mut changed: Vec<(bool, String)> = plan
        .deps(i)
        .iter()
        .filter(|&&d| !old.deps.iter().any(|k| plan.tasks[d as usize].key == *k))
        .map(|&d| plan.label(d as usize, spec))
        .map(|l| (!stored_labels.contains_key(l.as_str()), l))
        .collect();
    changed.sort();
    let more = match changed.len() {
        0 | 1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    match changed.first() {
        None if plan.deps(i).len() != old.deps.len() => "its upstream tasks changed".to_string(),
        None => "its environment changed".to_string(),
        Some((false, label)) => format!("upstream {label} changed{more}"),
        Some((true, label)) => format!("upstream {label} is new{more}"),
    }
}

/// The first difference between a stage's input files now and as recorded, in words.
fn input_change(now: &[(String, String)], was: &[(String, String)]) -> Option<String> {
    let was: HashMap<&str, &str> = was.iter().map(|(p, d)| (p.as_str(), d.as_str())).collect();
    for (path, digest) in now {
        match was.get(path.as_str()) {
            Some(d) if d == digest => {}
            Some(_) => return Some(format!("input {path} changed")),
            None => return Some(format!("input {path} is new")),
        }
    }
    let gone = was.keys().find(|p| !now.iter().any(|(n, _)| n == *p))?;
    Some(format!("input {gone} is gone"))
}

/// What resuming does with a stored task, and why, from its state alone.
fn stored_reason(t: &TaskRow) -> (Verb, String) {
    let reason = t.reason.clone().unwrap_or_default();
    match t.state {
        TaskState::Done => (
            Verb::Skip,
            format!(
                "done (attempt {}, {})",
                t.attempts,
                t.finished_at.clone().unwrap_or_default()
            ),
        ),
        TaskState::Running => (Verb::Busy, format!("running now (attempt {})", t.attempts)),
        TaskState::Pending if t.attempts == 0 => (Verb::Run, NEVER_RUN.into()),
        TaskState::Pending => (
            Verb::Run,
            format!(
                "pending after {} attempt(s){}",
                t.attempts,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            ),
        ),
        TaskState::Failed => (
            Verb::Run,
            format!("failed last time ({reason}); will be retried"),
        ),
        TaskState::Interrupted => (Verb::Run, format!("interrupted ({reason}); will run again")),
        TaskState::Blocked => (
            Verb::Run,
            format!("blocked ({reason}); runs once its upstream succeeds"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::Fixture;

    const EXP: &str = r#"
[experiment]
name = "lr"
command = "train --lr {lr}"
[params]
lr = [0.1, 0.01, 0.001]
"#;

    fn why(e: &Explanation) -> Vec<(Verb, &str, &str)> {
        e.rows
            .iter()
            .map(|r| (r.verb, r.label.as_str(), r.why.as_str()))
            .collect()
    }

    /// A stored run: done tasks are skipped, running ones are busy, the rest run, in plan order.
    #[test]
    fn stored_run_reasons_follow_states() {
        let mut f = Fixture::new(EXP);
        let k = f.keys();
        f.finish(&k[0], TaskState::Done, None);
        f.finish(&k[1], TaskState::Failed, None);
        f.start(&k[2]);
        let e = stored(&f.store, None).unwrap();
        assert_eq!(e.subject, Subject::Stored { run: "r1".into() });
        assert_eq!(
            why(&e),
            [
                (
                    Verb::Skip,
                    "lr=0.1",
                    "done (attempt 1, 2026-01-01T00:01:01.000Z)"
                ),
                (
                    Verb::Run,
                    "lr=0.01",
                    "failed last time (exit code 1); will be retried"
                ),
                (Verb::Busy, "lr=0.001", "running now (attempt 1)"),
            ]
        );
        assert_eq!(e.rows[0].key, k[0]);
        f.runner_dies();
        let e = stored(&f.store, None).unwrap();
        assert_eq!(
            why(&e)[2],
            (
                Verb::Run,
                "lr=0.001",
                "interrupted (runner gone); will run again"
            ),
            "issue 9: not busy for ever after the runner was killed"
        );
        let now = compared(&f.store, &f.spec, &f.plan, None).unwrap();
        assert_eq!(now.rows[2], e.rows[2]);
    }

    /// No run of the experiment yet: every task would run.
    #[test]
    fn a_plan_without_a_run_runs_everything() {
        let f = Fixture::new(EXP);
        let other =
            Spec::parse(&f.dir.path().join("b.toml"), EXP.replace("\"lr\"", "\"b\"")).unwrap();
        let plan = crate::plan::expand(&other);
        let e = compared(&f.store, &other, &plan, None).unwrap();
        assert_eq!(
            e.subject,
            Subject::Fresh {
                experiment: "b".into(),
                tasks: 3
            }
        );
        assert!(e
            .rows
            .iter()
            .all(|r| r.verb == Verb::Run && r.why == "never run"));
    }

    /// Compared with the file as it is now: a new value is a new task, a changed command a new
    /// configuration of a task the run had.
    #[test]
    fn a_changed_plan_names_what_changed() {
        let mut f = Fixture::new(EXP);
        let k = f.keys();
        f.finish(&k[0], TaskState::Done, None);
        let text = EXP
            .replace("0.001]", "0.5]")
            .replace("train --lr", "train2 --lr");
        let now = Spec::parse(&f.dir.path().join("exp.toml"), text).unwrap();
        let plan = crate::plan::expand(&now);
        let e = compared(&f.store, &now, &plan, None).unwrap();
        assert!(matches!(&e.subject, Subject::Compared { run, .. } if run == "r1"));
        assert_eq!(e.rows.len(), 3);
        assert_eq!(
            e.rows[0].why,
            "new configuration: the command changed (was: train --lr 0.1); the earlier result is kept but not reused"
        );
        assert_eq!(e.rows[2].why, "new task: not in this run before");
        assert_eq!(f.keys()[0], k[0], "the fixture's own plan is unchanged");
        let same = compared(&f.store, &f.spec, &f.plan, Some("r1")).unwrap();
        assert_eq!(same.rows[0].verb, Verb::Skip);
        assert_eq!(same.rows[1].why, "never run");
    }
}
