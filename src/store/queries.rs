//! Read-only queries behind `status`, `tasks`, `logs`, `results`, `events` and `check`.

use super::paths::attempt_log;
use super::{AttemptRow, Store, StoreError, TaskRow};

impl Store {
    /// Finds tasks by exact label, stage name (every task of that stage), key or key prefix (at
    /// least 4 characters), or `name=value` filters (comma-separated, all must match, optionally
    /// after `stage/`; `stage=NAME` is the stage unless the run has a parameter named `stage`).
    /// Tried in that order, the first kind that matches wins. Searches the current plan only;
    /// finding nothing is [`StoreError::TaskNotFound`].
    pub fn find_tasks(&self, run: &str, query: &str) -> Result<Vec<TaskRow>, StoreError> {
        let found = match_tasks(self.tasks(run, None)?, query);
        if found.is_empty() {
            return Err(StoreError::TaskNotFound {
                query: query.to_string(),
                run: run.to_string(),
            });
        }
        Ok(found)
    }

    /// Every attempt of a task, oldest first.
    pub fn attempts(&self, run: &str, key: &str) -> Result<Vec<AttemptRow>, StoreError> {
        let sql = "SELECT task_key, number, host, pid, started_at, ended_at, exit_code, signal, outcome, reason, stdout_path, stderr_path, max_rss_kb, user_cpu_s, sys_cpu_s, job_id, node, scheduler_state, submitted_at,
                   started_event IS NOT NULL AND pid > 0 AND user_cpu_s IS NOT NULL AND job_id IS NULL
                   FROM attempts WHERE run_id = ?1 AND task_key = ?2 ORDER BY number";
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run, key], |r| {
                let number = r.get(1)?;
                let log = |which, i| {
                    Ok::<_, rusqlite::Error>(attempt_log(
                        &self.dir,
                        run,
                        key,
                        number,
                        which,
                        r.get(i)?,
                    ))
                };
                Ok(AttemptRow {
                    task_key: r.get(0)?,
                    number,
                    host: r.get(2)?,
                    pid: r.get(3)?,
                    started_at: r.get(4)?,
                    ended_at: r.get(5)?,
                    exit_code: r.get(6)?,
                    signal: r.get(7)?,
                    outcome: r.get(8)?,
                    reason: r.get(9)?,
                    stdout_path: log(0, 10)?,
                    stderr_path: log(1, 11)?,
                    max_rss_kb: r.get(12)?,
                    user_cpu_s: r.get(13)?,
                    sys_cpu_s: r.get(14)?,
                    job_id: r.get(15)?,
                    node: r.get(16)?,
                    scheduler_state: r.get(17)?,
                    submitted_at: r.get(18)?,
                    resources_in_row: r.get(19)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Metric records (JSON lines) of a task's attempt.
    pub fn metrics(&self, run: &str, key: &str, attempt: u32) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare("SELECT record FROM metrics WHERE run_id = ?1 AND task_key = ?2 AND attempt = ?3 ORDER BY line").map_err(|e| self.err(e))?;
        let rows = st
            .query_map(rusqlite::params![run, key, attempt], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Calls `line` with each metric record of one attempt, in the order the task wrote them,
    /// without collecting them: a stream of 10^6 lines costs one row's memory. Stops at the first
    /// error `line` returns, and returns it.
    pub fn each_metric<E: From<StoreError>>(
        &self,
        run: &str,
        key: &str,
        attempt: u32,
        mut line: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut st = self
            .conn
            .prepare_cached("SELECT record FROM metrics WHERE run_id = ?1 AND task_key = ?2 AND attempt = ?3 ORDER BY line")
            .map_err(|e| self.err(e))?;
        let mut rows = st
            .query(rusqlite::params![run, key, attempt])
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let text = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(|e| self.err(e))?;
            line(text)?;
        }
        Ok(())
    }

    /// labtrail's own invariants, as human-readable violations.
    pub(super) fn invariant_violations(&self) -> Result<Vec<String>, StoreError> {
        // Outcomes are read back into an enum: a name outside it would make the attempt history
        // unreadable, so `check` names it first.
        let outcomes = crate::outcome::Outcome::ALL
            .map(|o| format!("'{}'", o.as_str()))
            .join(",");
        let unknown_outcome = format!("SELECT run_id || '/' || task_key || ' attempt ' || number || ' (' || outcome || ')' FROM attempts WHERE outcome IS NOT NULL AND outcome NOT IN ({outcomes})");
        let checks = [
            ("SELECT run_id || '/' || key FROM tasks WHERE state = 'done' AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = tasks.run_id AND a.task_key = tasks.key AND a.outcome = 'success')",
             "is done but has no successful attempt"),
            ("SELECT run_id || '/' || task_key FROM attempts GROUP BY run_id, task_key HAVING SUM(outcome IS NULL) > 1",
             "has more than one attempt without an outcome"),
            ("SELECT t.run_id || '/' || t.key FROM tasks t WHERE t.attempts != (SELECT COUNT(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_key = t.key)",
             "has an attempt count that differs from its attempt history"),
            ("SELECT run_id || '/' || key FROM tasks WHERE state NOT IN ('pending','running','done','failed','interrupted','blocked')",
             "has an unknown state"),
            (unknown_outcome.as_str(), "has an unknown outcome"),
        ];
        let mut out = Vec::new();
        for (sql, what) in checks {
            let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| self.err(e))?;
            for r in rows {
                out.push(format!("task {} {what}", r.map_err(|e| self.err(e))?));
            }
        }
        // A store of schema 9 or older read as it is (a repair's health check reads it
        // without upgrading it) has neither table: nothing kept can have drifted.
        if self.has_table("task_counts")? {
            out.extend(self.count_drift()?);
        }
        if self.has_table("param_summaries")? {
            out.extend(self.param_summary_drift()?);
        }
        Ok(out)
    }

    /// Whether the database has the table `name`.
    fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Where `task_counts` (schema 10, kept by triggers) differs from the tasks themselves: the
    /// counts `status` and `list` show would be wrong. A repair of a damaged store counts again.
    fn count_drift(&self) -> Result<Vec<String>, StoreError> {
        let sql =
            "SELECT 'task counts of run ' || run_id || ', stage ' || stage || ', state ' || state
                || CASE in_plan WHEN 1 THEN '' ELSE ' (out of the plan)' END
                || ': kept ' || SUM(kept) || ', counted ' || SUM(counted)
            FROM (SELECT run_id, stage, in_plan, state, n AS kept, 0 AS counted FROM task_counts
                  UNION ALL SELECT run_id, stage, in_plan, state, 0, 1 FROM tasks)
            GROUP BY run_id, stage, in_plan, state HAVING SUM(kept) != SUM(counted)";
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

/// The tasks of `all` that `query` names (see [`crate::plan::filter::matching`], which `run
/// --only` uses too).
fn match_tasks(all: Vec<TaskRow>, query: &str) -> Vec<TaskRow> {
    let found = crate::plan::filter::matching(&all, query);
    let mut all: Vec<Option<TaskRow>> = all.into_iter().map(Some).collect();
    found.into_iter().filter_map(|i| all[i].take()).collect()
}

impl crate::plan::filter::TaskFacts for TaskRow {
    fn key(&self) -> &str {
        &self.key
    }
    fn stage(&self) -> &str {
        &self.stage
    }
    fn label(&self) -> &str {
        &self.label
    }
    fn param(&self, name: &str) -> Option<&serde_json::Value> {
        self.params.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TaskState;
    use serde_json::json as j;

    fn task(key: &str, stage: &str, label: &str, params: serde_json::Value) -> TaskRow {
        TaskRow {
            key: key.into(),
            seq: 0,
            stage: stage.into(),
            label: label.into(),
            params,
            command: String::new(),
            workdir: ".".into(),
            deps: Vec::new(),
            state: TaskState::Done,
            attempts: 1,
            result: None,
            reason: None,
            finished_at: None,
        }
    }

    fn keys(all: &[TaskRow], query: &str) -> Vec<String> {
        match_tasks(all.to_vec(), query)
            .into_iter()
            .map(|t| t.key)
            .collect()
    }

    /// Issue 9 (found in review): a value may hold a `/` (`data=data/a.csv` selected nothing, read
    /// as stage `data=data`), and a part that is not `name=value` is not dropped (`y=1,zzz`
    /// selected as `y=1` did).
    #[test]
    fn values_with_slashes_and_parts_without_values() {
        let all = vec![
            task(
                "aaaa1",
                "main",
                "data=data/a.csv,y=1",
                j!({"data": "data/a.csv", "y": 1}),
            ),
            task(
                "aaaa2",
                "main",
                "data=data/b.csv,y=1",
                j!({"data": "data/b.csv", "y": 1}),
            ),
        ];
        assert_eq!(keys(&all, "data=data/a.csv"), ["aaaa1"]);
        assert_eq!(keys(&all, "y=1"), ["aaaa1", "aaaa2"]);
        assert!(keys(&all, "y=1,zzz").is_empty());
        assert_eq!(keys(&all, "main/data=data/b.csv"), ["aaaa2"]);
    }

    /// Issue 9: a bare stage name and `stage=NAME` select every task of the stage (they matched
    /// no task); a label comes first, a stage name wins over a key prefix spelled the same, and a
    /// parameter called `stage` wins over the stage in a filter.
    #[test]
    fn a_stage_is_named_bare_or_as_a_filter_with_documented_precedence() {
        let all = [
            task("aaaa1111", "prepare", "prepare", j!({})),
            task("beef2222", "train", "train/lr=0.1", j!({"lr": 0.1})),
            task("beef3333", "train", "train/lr=0.2", j!({"lr": 0.2})),
            task("cccc4444", "beef", "beef/lr=0.1", j!({"lr": 0.1})),
        ];
        assert_eq!(keys(&all, "train"), ["beef2222", "beef3333"]);
        assert_eq!(keys(&all, "stage=train"), ["beef2222", "beef3333"]);
        assert_eq!(keys(&all, "stage=train,lr=0.2"), ["beef3333"]);
        assert_eq!(keys(&all, "prepare"), ["aaaa1111"]);
        assert_eq!(keys(&all, "beef"), ["cccc4444"], "the stage, not the keys");
        assert_eq!(keys(&all, "beef2"), ["beef2222"]);
        assert_eq!(keys(&all, "lr=0.1"), ["beef2222", "cccc4444"]);
        assert!(keys(&all, "stage=nope").is_empty());
        assert!(keys(&all, "nope").is_empty());

        let with_param = [
            task("aaaa1111", "train", "train/stage=a", j!({"stage": "a"})),
            task("bbbb2222", "eval", "eval", j!({})),
        ];
        assert_eq!(keys(&with_param, "stage=a"), ["aaaa1111"]);
        assert!(keys(&with_param, "stage=eval").is_empty(), "the parameter");
        assert_eq!(keys(&with_param, "eval"), ["bbbb2222"]);
    }
}
