//! How far a run is: task counts overall, per stage and per group of parameter values.

use super::status_groups::{GroupCounter, Grouping};
use crate::store::{Store, StoreError, TaskState};
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// Task counts by state. Serialises as `status --json` shows it, fields in this order.
#[derive(Debug, serde::Serialize, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Every task counted.
    pub total: usize,
    /// Tasks in [`TaskState::Done`].
    pub done: usize,
    /// Tasks in [`TaskState::Running`].
    pub running: usize,
    /// Tasks in [`TaskState::Pending`].
    pub pending: usize,
    /// Tasks in [`TaskState::Failed`].
    pub failed: usize,
    /// Tasks in [`TaskState::Interrupted`].
    pub interrupted: usize,
    /// Tasks in [`TaskState::Blocked`].
    pub blocked: usize,
}

impl Counts {
    /// Counts one more task in state `s`.
    pub fn add(&mut self, s: TaskState) {
        self.add_many(s, 1);
    }

    /// Counts `n` more tasks in state `s`.
    pub fn add_many(&mut self, s: TaskState, n: usize) {
        self.total += n;
        *match s {
            TaskState::Done => &mut self.done,
            TaskState::Running => &mut self.running,
            TaskState::Pending => &mut self.pending,
            TaskState::Failed => &mut self.failed,
            TaskState::Interrupted => &mut self.interrupted,
            TaskState::Blocked => &mut self.blocked,
        } += n;
    }

    /// Counts the running tasks of a run whose runner is gone as interrupted, as
    /// [`super::runner::as_seen`] shows each of them.
    pub fn runner_gone(&mut self) {
        self.interrupted += std::mem::take(&mut self.running);
    }

    /// One line for people: `3/8 done, 1 running, 2 failed`. States with no task are left out;
    /// the order puts what needs attention (running, failed, ...) before what merely waits.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{}/{} done", self.done, self.total)];
        for (n, name) in [
            (self.running, "running"),
            (self.failed, "failed"),
            (self.interrupted, "interrupted"),
            (self.blocked, "blocked"),
            (self.pending, "pending"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {name}"));
            }
        }
        parts.join(", ")
    }

    /// The share of tasks done, in percent; 0 when there are no tasks (not NaN).
    pub fn percent_done(&self) -> f64 {
        if self.total > 0 {
            100.0 * self.done as f64 / self.total as f64
        } else {
            0.0
        }
    }
}

/// A run's progress, grouped. Serialises to exactly the shape of `labtrail status --json`.
#[derive(Debug, serde::Serialize, Clone)]
pub struct StatusModel {
    /// The run id.
    pub run: String,
    /// Every task of the run's current plan.
    pub counts: Counts,
    /// Per stage, in the order stages first appear in the plan.
    pub stages: IndexMap<String, Counts>,
    /// Per group (`name=value name=value`), in the order groups first appear in the plan. Tasks
    /// that have none of the `group_by` parameters (e.g. a fan-in stage) are in no group.
    pub groups: IndexMap<String, Counts>,
    /// The parameters the groups are made of: those asked for, or the default grouping's
    /// ([`GroupCounter`]).
    pub group_by: Vec<String>,
    /// With no `--by`: the parameters left out of the default grouping for having more than
    /// [`MAX_GROUP_VALUES`] values (not in `--json`, whose shape stays).
    #[serde(skip)]
    pub too_many_values: Vec<String>,
    /// `--by` parameters no task of the run has (a typo): they would group nothing, silently
    /// (not in `--json`).
    #[serde(skip)]
    pub unknown_by: Vec<String>,
    /// The parameters the run's tasks have, in plan order: what `--by` can name.
    #[serde(skip)]
    pub parameters: Vec<String>,
}

/// The most values a parameter may have for `status` to group by it unasked: more would print
/// a line per value (10^5 lines for a seed sweep) instead of a summary.
pub const MAX_GROUP_VALUES: usize = 20;

// The summary must tell "at most MAX_GROUP_VALUES values" from "more".
const _: () = assert!(crate::store::VALUES_CAP > MAX_GROUP_VALUES);

/// Without `--by`, the grouping the run's parameter summary alone gives (issue 15): when no
/// parameter has 2 to [`MAX_GROUP_VALUES`] values, `status` groups nothing, and needs no pass
/// over every task's parameters. `None`: a pass is needed (a parameter to group by, `--by`,
/// or a run without a summary).
fn ungrouped_from_summary(
    store: &Store,
    run: &str,
    by: &[String],
) -> Result<Option<Grouping>, StoreError> {
    if by.iter().any(|p| !p.is_empty()) {
        return Ok(None);
    }
    let Some(params) = store.param_summary(run)? else {
        return Ok(None);
    };
    if params
        .iter()
        .any(|p| (2..=MAX_GROUP_VALUES).contains(&p.values))
    {
        return Ok(None);
    }
    Ok(Some(Grouping {
        group_by: Vec::new(),
        groups: IndexMap::new(),
        too_many_values: params
            .iter()
            .filter(|p| p.values > MAX_GROUP_VALUES)
            .map(|p| p.name.clone())
            .collect(),
        parameters: params.into_iter().map(|p| p.name).collect(),
    }))
}

impl StatusModel {
    /// Loads the progress of `run` (`None`: the latest run), grouped by the parameters `by`
    /// (empty: the parameter with fewest values, see [`GroupCounter`]). The counts per stage and
    /// state are SQLite's (`GROUP BY`); the groups come from one pass over the tasks'
    /// parameters: nothing here grows with the number of tasks (issue 15).
    pub fn load(store: &Store, run: Option<&str>, by: &[String]) -> Result<Self, StoreError> {
        let run = store.resolve_run(run)?;
        let read = || {
            let by_stage = store.stage_state_counts(&run)?;
            if let Some(grouping) = ungrouped_from_summary(store, &run, by)? {
                return Ok((by_stage, grouping));
            }
            let mut counter = GroupCounter::new(by);
            store.each_task_params(&run, |seq, state, params| {
                // Parameters are a JSON object as stored; anything else has none.
                let params: Map<String, Value> = serde_json::from_str(params).unwrap_or_default();
                counter.add(seq, state, &params);
                Ok::<_, StoreError>(())
            })?;
            Ok::<_, StoreError>((by_stage, counter.finish()))
        };
        // One snapshot: the groups count the tasks the counts count.
        let ((by_stage, grouping), gone) =
            super::runner::read_with_runner(store, &run, || store.read_snapshot(read))?;
        let mut counts = Counts::default();
        let mut stages: IndexMap<String, Counts> = IndexMap::new();
        for c in by_stage {
            let stage = stages.entry(c.stage).or_default();
            stage.add_many(c.state, c.tasks);
            counts.add_many(c.state, c.tasks);
        }
        let Grouping {
            group_by,
            mut groups,
            too_many_values,
            parameters,
        } = grouping;
        if gone {
            counts.runner_gone();
            stages.values_mut().for_each(Counts::runner_gone);
            groups.values_mut().for_each(Counts::runner_gone);
        }
        let unknown_by = group_by
            .iter()
            .filter(|p| !parameters.contains(p))
            .cloned()
            .collect();
        Ok(StatusModel {
            run,
            counts,
            stages,
            groups,
            group_by,
            too_many_values,
            unknown_by,
            parameters,
        })
    }

    /// Whether per-stage counts say anything: an experiment without `[[stage]]` has the one
    /// implicit stage `main`, whose counts would only repeat the overall line.
    pub fn has_stages(&self) -> bool {
        self.stages.len() > 1 || self.stages.keys().any(|s| s != "main")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::Fixture;

    const GRID: &str = r#"
[experiment]
name = "grid"
command = "echo {lr} {rep} {opt}"
[params]
lr = [0.1, 0.01, 0.001]
rep = [1, 2]
opt = ["adam"]
"#;

    /// With no `--by`, the parameter with the fewest values above one groups the run.
    #[test]
    fn default_grouping_picks_the_parameter_with_fewest_values_above_one() {
        let f = Fixture::new(GRID);
        let m = StatusModel::load(&f.store, None, &[]).unwrap();
        assert_eq!(m.group_by, ["rep"], "opt has one value, lr three");
        assert_eq!(m.groups.keys().collect::<Vec<_>>(), ["rep=1", "rep=2"]);
        assert_eq!(m.groups["rep=1"].total, 3);
    }

    /// Counts follow the stored states, and `describe` leaves out states with no task.
    #[test]
    fn counts_follow_stored_states() {
        let mut f = Fixture::new(GRID);
        let keys = f.keys();
        f.finish(&keys[0], TaskState::Done, Some(r#"{"acc":1}"#));
        f.finish(&keys[1], TaskState::Failed, None);
        f.start(&keys[2]);
        let m = StatusModel::load(&f.store, Some(&f.run), &["lr".into()]).unwrap();
        assert_eq!(
            m.counts.describe(),
            "1/6 done, 1 running, 1 failed, 3 pending"
        );
        assert!((m.counts.percent_done() - 100.0 / 6.0).abs() < 1e-9);
        assert_eq!(m.groups["lr=0.1"].describe(), "1/2 done, 1 failed");
        assert!(
            !m.has_stages(),
            "an experiment without stages has only `main`"
        );
        assert_eq!(Counts::default().percent_done(), 0.0);
        f.runner_dies();
        let m = StatusModel::load(&f.store, Some(&f.run), &[]).unwrap();
        assert_eq!(
            m.counts.describe(),
            "1/6 done, 1 failed, 1 interrupted, 3 pending",
            "issue 9: a killed runner's task is not running"
        );
    }

    /// Groups and stages keep plan order, and several `--by` parameters join in the given order;
    /// tasks without any of them (the fan-in stage) are in no group.
    #[test]
    fn groups_and_stages_keep_plan_order() {
        let f = Fixture::new(
            r#"
[experiment]
name = "staged"
[params]
b = ["y", "x"]
a = [2, 1]
[[stage]]
name = "train"
command = "echo {a} {b}"
[[stage]]
name = "report"
params = []
command = "echo done"
"#,
        );
        let m = StatusModel::load(&f.store, None, &["a".into(), "b".into()]).unwrap();
        assert_eq!(m.stages.keys().collect::<Vec<_>>(), ["train", "report"]);
        assert!(m.has_stages());
        assert_eq!(
            m.groups.keys().collect::<Vec<_>>(),
            ["a=2 b=y", "a=1 b=y", "a=2 b=x", "a=1 b=x"]
        );
        assert_eq!(m.groups.values().map(|c| c.total).sum::<usize>(), 4);
        assert_eq!(m.counts.total, 5);
    }

    /// The JSON shape `status --json` prints: key order and field order are part of it.
    #[test]
    fn json_shape_is_pinned() {
        let f = Fixture::new(GRID);
        let m = StatusModel::load(&f.store, None, &["opt".into()]).unwrap();
        let text = serde_json::to_string(&m).unwrap();
        let counts = r#"{"total":6,"done":0,"running":0,"pending":6,"failed":0,"interrupted":0,"blocked":0}"#;
        assert_eq!(
            text,
            format!(
                r#"{{"run":"{}","counts":{counts},"stages":{{"main":{counts}}},"groups":{{"opt=adam":{counts}}},"group_by":["opt"]}}"#,
                f.run
            )
        );
    }
}
