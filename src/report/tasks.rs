//! A run's tasks, selected by query and state, and their attempt histories: behind
//! `labtrail tasks`.

use super::QueryError;
use crate::store::{AttemptRow, Store, StoreError, TaskRow, TaskState};

/// The tasks of a run that match a query, in plan order.
#[derive(Debug, Clone)]
pub struct TaskSelection {
    /// The run id.
    pub run: String,
    /// The matching tasks of the run's current plan.
    pub tasks: Vec<TaskRow>,
    /// Whether the run's local runner is gone: its `running` tasks are shown as interrupted
    /// ([`super::runner`]).
    pub runner_gone: bool,
}

impl TaskSelection {
    /// Selects the tasks of `run` (`None`: the latest run) matching `query` (see
    /// [`Store::find_tasks`]: a label, a stage, a key or prefix, or filters; `None`: all) and
    /// in the state named `state` (`None`: any).
    ///
    /// The run is resolved before the state name is checked, and a query that matches nothing
    /// is an error ([`StoreError::TaskNotFound`]).
    pub fn load(
        store: &Store,
        run: Option<&str>,
        query: Option<&str>,
        state: Option<&str>,
    ) -> Result<TaskSelection, QueryError> {
        let run = store.resolve_run(run)?;
        let state = match state {
            Some(s) => Some(TaskState::parse(s).ok_or_else(|| QueryError::UnknownState(s.into()))?),
            None => None,
        };
        let (mut tasks, runner_gone) =
            super::runner::read_with_runner(store, &run, || match query {
                Some(q) => store.find_tasks(&run, q),
                None => store.tasks(&run, None),
            })?;
        super::runner::as_seen(&mut tasks, runner_gone);
        tasks.retain(|t| state.is_none_or(|s| t.state == s));
        Ok(TaskSelection {
            run,
            tasks,
            runner_gone,
        })
    }

    /// The error line of each selected failed task's last failed attempt (issue 12), by key:
    /// what `labtrail tasks` adds to the reason.
    pub fn error_lines(
        &self,
        store: &Store,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let failed: std::collections::HashSet<&str> = self
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Failed)
            .map(|t| t.key.as_str())
            .collect();
        let mut lines = std::collections::HashMap::new();
        if failed.is_empty() {
            return Ok(lines);
        }
        let kind = crate::provenance::model::ATTEMPT_ERROR_RECORD;
        for r in store.records(&self.run, kind)? {
            let Some(key) = r.task_key.filter(|k| failed.contains(k.as_str())) else {
                continue;
            };
            let error: Result<crate::provenance::model::AttemptError, _> =
                serde_json::from_str(&r.json);
            if let Some(line) = error.ok().and_then(|e| e.line) {
                lines.insert(key, line); // later records win: the last attempt's
            }
        }
        Ok(lines)
    }

    /// The last attempt's error line of every task of `run` whose attempts recorded one, by
    /// key: what [`TaskSelection::error_lines`] finds, without a selection (held per recorded
    /// error, not per task). Shown for failed tasks only.
    pub fn all_error_lines(
        store: &Store,
        run: &str,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let mut lines = std::collections::HashMap::new();
        let kind = crate::provenance::model::ATTEMPT_ERROR_RECORD;
        for r in store.records(run, kind)? {
            let Some(key) = r.task_key else { continue };
            let error: Result<crate::provenance::model::AttemptError, _> =
                serde_json::from_str(&r.json);
            if let Some(line) = error.ok().and_then(|e| e.line) {
                lines.insert(key, line); // later records win: the last attempt's
            }
        }
        Ok(lines)
    }

    /// Every attempt of the selected tasks: task by task in plan order, oldest attempt first.
    pub fn attempts(&self, store: &Store) -> Result<Vec<AttemptView>, StoreError> {
        let mut all = Vec::new();
        for t in &self.tasks {
            for a in store.attempts(&self.run, &t.key)? {
                let runner_gone = self.runner_gone && a.outcome.is_none();
                all.push(AttemptView {
                    label: t.label.clone(),
                    attempt: a,
                    runner_gone,
                });
            }
        }
        Ok(all)
    }
}

/// One attempt with its task's label. Serialises as `tasks --attempts --json` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttemptView {
    /// The task's label.
    pub label: String,
    /// The attempt as stored.
    pub attempt: AttemptRow,
    /// The attempt has no outcome and its runner is gone ([`super::runner`]): it is shown as
    /// interrupted. Present in JSON only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub runner_gone: bool,
}

impl AttemptView {
    /// Where it ran: `job 123 on node7` for SLURM (`job 123` before a node is known), else
    /// `host:pid` (`host:-` while no pid is known).
    pub fn place(&self) -> String {
        let a = &self.attempt;
        match (&a.job_id, &a.node) {
            (Some(job), Some(node)) => format!("job {job} on {node}"),
            (Some(job), None) => format!("job {job}"),
            _ => format!("{}:{}", a.host, a.pid.map_or("-".into(), |p| p.to_string())),
        }
    }

    /// How the process ended: `exit 3`, `signal 9`, or `-` while it runs.
    pub fn exit(&self) -> String {
        match (self.attempt.exit_code, self.attempt.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "-".into(),
        }
    }

    /// How the attempt ended, with its reason: `failed (exit code 1)`. An attempt without an
    /// outcome is still going: SLURM's last known state (`pending`) tells more than `running`.
    pub fn outcome(&self) -> String {
        let a = &self.attempt;
        if self.runner_gone {
            return format!("interrupted ({})", super::runner::RUNNER_GONE);
        }
        let outcome = a
            .outcome
            .map(|o| o.to_string())
            .or_else(|| a.scheduler_state.as_ref().map(|s| s.to_lowercase()))
            .unwrap_or_else(|| "running".into());
        match &a.reason {
            Some(r) => format!("{outcome} ({r})"),
            None => outcome,
        }
    }

    /// Peak memory in whole MiB (`14M`), or `-` when not measured.
    pub fn max_rss(&self) -> String {
        self.attempt
            .max_rss_kb
            .map_or("-".into(), |k| format!("{}M", k / 1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::Fixture;

    const EXP: &str = r#"
[experiment]
name = "t"
command = "echo {rep} {n}"
[params]
rep = ["stats", "spectral"]
n = [1, 2]
"#;

    /// Filters select in plan order, the state narrows them, and attempts follow task by task.
    #[test]
    fn selection_and_attempts_keep_plan_order() {
        let mut f = Fixture::new(EXP);
        let k = f.keys();
        f.finish(&k[1], TaskState::Failed, None);
        f.finish(&k[1], TaskState::Done, None);
        f.finish(&k[0], TaskState::Done, None);
        let sel = TaskSelection::load(&f.store, None, Some("rep=stats"), Some("done")).unwrap();
        assert_eq!(
            sel.tasks.iter().map(|t| &t.key).collect::<Vec<_>>(),
            [&k[0], &k[1]]
        );
        let attempts = sel.attempts(&f.store).unwrap();
        let seen: Vec<(&str, u32, String, String)> = attempts
            .iter()
            .map(|a| (a.label.as_str(), a.attempt.number, a.exit(), a.outcome()))
            .collect();
        assert_eq!(
            seen,
            [
                ("rep=stats,n=1", 1, "exit 0".into(), "success".into()),
                (
                    "rep=stats,n=2",
                    1,
                    "exit 1".into(),
                    "failed (exit code 1)".into()
                ),
                ("rep=stats,n=2", 2, "exit 0".into(), "success".into()),
            ]
        );
        let here = crate::exec::process::hostname();
        assert_eq!(attempts[0].place(), format!("{here}:1001"));
        assert_eq!(attempts[0].max_rss(), "2M");
    }

    /// A running attempt has no exit yet; a bad state name is the asker's mistake, checked
    /// after the run.
    #[test]
    fn running_attempts_and_bad_state_names() {
        let mut f = Fixture::new(EXP);
        let k = f.keys();
        f.start(&k[2]);
        let sel = TaskSelection::load(&f.store, Some("r1"), None, Some("running")).unwrap();
        let a = &sel.attempts(&f.store).unwrap()[0];
        assert_eq!(
            (a.exit(), a.outcome()),
            ("-".to_string(), "running".to_string())
        );
        assert!(!a.runner_gone);
        let err = TaskSelection::load(&f.store, None, None, Some("bogus")).unwrap_err();
        assert!(
            matches!(err, QueryError::UnknownState(ref s) if s == "bogus"),
            "{err}"
        );
        let err = TaskSelection::load(&f.store, Some("nope"), None, Some("bogus")).unwrap_err();
        assert!(
            matches!(err, QueryError::Store(StoreError::RunNotFound { .. })),
            "{err}"
        );
    }

    /// Issue 9: once the runner is gone (nobody holds the run's lock), a running task and its
    /// open attempt are shown as interrupted; the store still says running. Not for SLURM runs,
    /// whose jobs run without the monitor.
    #[test]
    fn a_gone_runner_leaves_interrupted_tasks_not_running_ones() {
        let mut f = Fixture::new(EXP);
        let k = f.keys();
        f.start(&k[2]);
        f.runner_dies();
        let sel = TaskSelection::load(&f.store, None, None, Some("interrupted")).unwrap();
        assert_eq!(sel.tasks.len(), 1);
        assert_eq!(sel.tasks[0].reason.as_deref(), Some("runner gone"));
        let a = &sel.attempts(&f.store).unwrap()[0];
        assert_eq!(a.outcome(), "interrupted (runner gone)");
        assert_eq!(serde_json::to_value(a).unwrap()["runner_gone"], true);
        let running = TaskSelection::load(&f.store, None, None, Some("running")).unwrap();
        assert!(running.tasks.is_empty());
        assert_eq!(
            f.store.tasks("r1", Some(TaskState::Running)).unwrap().len(),
            1,
            "reading changes nothing"
        );

        f.store.set_executor("r1", "slurm").unwrap();
        let sel = TaskSelection::load(&f.store, None, None, Some("running")).unwrap();
        assert_eq!(sel.tasks.len(), 1, "a SLURM job runs without its monitor");
    }
}
