//! State changes and how they are written: each batch is one transaction.

use super::event_log::{is_ordinary_end, reserve_event_id};
use super::paths::stored_logs;
use super::records::{check_json, insert_record};
use super::{now, Store, StoreError, TaskState};
use crate::outcome::Outcome;
use rusqlite::{params, Transaction};
use std::collections::HashMap;
use std::path::Path;

/// A state change, applied with others in one transaction by [`Store::apply`].
#[derive(Debug, Clone)]
pub enum Change {
    /// An attempt started.
    Started {
        key: String,
        attempt: u32,
        host: String,
        pid: u32,
        started_at: String,
        stdout: String,
        stderr: String,
    },
    /// An attempt ended; `state` is what the task becomes (decided by the policy).
    Finished {
        key: String,
        attempt: u32,
        ended_at: String,
        exit_code: Option<i32>,
        signal: Option<i32>,
        outcome: Outcome,
        reason: Option<String>,
        state: TaskState,
        result: Option<String>,
        max_rss_kb: Option<i64>,
        user_cpu_s: Option<f64>,
        sys_cpu_s: Option<f64>,
        metrics: Vec<String>,
    },
    /// A task cannot run because an upstream task failed.
    Blocked { key: String, reason: String },
    /// A free-form run-level event (lock taken over, run stopped by a signal, ...).
    Note { kind: String, detail: String },
    /// A free-form event about one task (metrics lines skipped, processes left running, ...).
    TaskNote {
        key: String,
        kind: String,
        detail: String,
    },
    /// A JSON document appended to the run's records (provenance, a resource sample, ...), of
    /// one task or of the whole run; stamped with the time it is written. `json` must be valid
    /// JSON, or the whole batch is refused ([`StoreError::InvalidRecord`]). Read back with
    /// [`Store::records`].
    Record {
        /// The task it is about; `None` for a record of the whole run.
        task: Option<String>,
        /// What kind of record it is (`provenance`, `resource_sample`, ...).
        kind: String,
        /// The document, JSON text.
        json: String,
    },
}

pub(super) fn event(
    tx: &Transaction,
    run: &str,
    key: Option<&str>,
    at: &str,
    kind: &str,
    detail: Option<&str>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (run_id, task_key, at, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![run, key, at, kind, detail])
    .map(|_| ())
}

impl Store {
    /// Applies state changes in one durable transaction. Nothing is reported before this returns.
    pub fn apply(&mut self, run: &str, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        for c in changes {
            if let Change::Record { kind, json, .. } = c {
                check_json(kind, json)?;
            }
        }
        let (path, dir) = (self.db_path.clone(), self.dir.clone());
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        // An attempt that starts and ends within the batch (a short task) is written once, whole:
        // one attempt insert and one task update instead of two of each. Its two event ids are
        // still taken, each in its place.
        let ends: HashMap<(&str, u32), usize> = changes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c {
                Change::Finished { key, attempt, .. } => Some(((key.as_str(), *attempt), i)),
                _ => None,
            })
            .collect();
        let mut starts: HashMap<(&str, u32), (&Change, i64)> = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            match c {
                Change::Started { key, attempt, .. }
                    if ends
                        .get(&(key.as_str(), *attempt))
                        .is_some_and(|&end| end > i) =>
                {
                    // Its `started` line's id is taken now, in its place among the batch's events.
                    let id = reserve_event_id(&tx).map_err(e)?;
                    starts.insert((key.as_str(), *attempt), (c, id));
                }
                Change::Finished { key, attempt, .. } => {
                    let start = starts.remove(&(key.as_str(), *attempt));
                    write_end(&tx, run, c, start, &dir).map_err(e)?;
                }
                _ => apply_one(&tx, run, c, &dir).map_err(e)?,
            }
        }
        tx.execute(
            "UPDATE runs SET updated_at = ?2 WHERE id = ?1",
            params![run, now()],
        )
        .map_err(e)?;
        tx.commit()
            .map_err(|err| super::gone::with_unsaved(e(err), changes.len()))
    }
}

/// Writes one change. `store_dir`: the store folder, which attempt file paths are stored
/// relative to.
pub(super) fn apply_one(
    tx: &Transaction,
    run: &str,
    c: &Change,
    store_dir: &Path,
) -> rusqlite::Result<()> {
    match c {
        Change::Started {
            key,
            attempt,
            host,
            pid,
            started_at,
            stdout,
            stderr,
        } => {
            let id = reserve_event_id(tx)?;
            let [stdout, stderr] = stored_logs(store_dir, run, key, *attempt, [stdout, stderr]);
            tx.prepare_cached("INSERT INTO attempts (run_id, task_key, number, host, pid, started_at, stdout_path, stderr_path, started_event) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)")?
                .execute(params![run, key, attempt, host, pid, started_at, stdout, stderr, id])?;
            tx.prepare_cached("UPDATE tasks SET state = 'running', attempts = ?3, reason = NULL WHERE run_id = ?1 AND key = ?2")?
                .execute(params![run, key, attempt])
                .map(|_| ())
        }
        Change::Finished { .. } => write_end(tx, run, c, None, store_dir),
        Change::Blocked { key, reason } => {
            tx.prepare_cached(
                "UPDATE tasks SET state = 'blocked', reason = ?3 WHERE run_id = ?1 AND key = ?2",
            )?
            .execute(params![run, key, reason])?;
            event(tx, run, Some(key), &now(), "blocked", Some(reason))
        }
        Change::Note { kind, detail } => event(tx, run, None, &now(), kind, Some(detail)),
        Change::TaskNote { key, kind, detail } => {
            event(tx, run, Some(key), &now(), kind, Some(detail))
        }
        Change::Record { task, kind, json } => {
            insert_record(tx, Some(run), task.as_deref(), &now(), kind, json)
        }
    }
}

/// Writes an attempt's end (`end` is a [`Change::Finished`]). With `start`, the attempt's
/// [`Change::Started`] from the same batch, whose rows were not written: the attempt is inserted
/// whole, with the id its `started` line was given.
fn write_end(
    tx: &Transaction,
    run: &str,
    end: &Change,
    start: Option<(&Change, i64)>,
    store_dir: &Path,
) -> rusqlite::Result<()> {
    let Change::Finished {
        key,
        attempt,
        ended_at,
        exit_code,
        signal,
        outcome,
        reason,
        state,
        result,
        max_rss_kb,
        user_cpu_s,
        sys_cpu_s,
        metrics,
    } = end
    else {
        unreachable!("write_end is given a Finished change");
    };
    let done = *state == TaskState::Done;
    // An ordinary end's `finished` line is said by the attempt's row: only its id is kept.
    let mut end_id = match is_ordinary_end(*outcome, reason.as_deref(), *state) {
        true => Some(reserve_event_id(tx)?),
        false => None,
    };
    match start {
        Some((
            Change::Started {
                host,
                pid,
                started_at,
                stdout,
                stderr,
                ..
            },
            start_id,
        )) => {
            let end_id = end_id.map(|id| id - start_id);
            let [stdout, stderr] = stored_logs(store_dir, run, key, *attempt, [stdout, stderr]);
            tx.prepare_cached("INSERT INTO attempts (run_id, task_key, number, host, pid, started_at, stdout_path, stderr_path, ended_at, exit_code, signal, outcome, reason, result, max_rss_kb, user_cpu_s, sys_cpu_s, started_event, finished_event) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)")?
                .execute(params![run, key, attempt, host, pid, started_at, stdout, stderr, ended_at, exit_code, signal, outcome, reason, result, max_rss_kb, user_cpu_s, sys_cpu_s, start_id, end_id])?;
            tx.prepare_cached("UPDATE tasks SET state = ?3, attempts = ?8, reason = ?4, result = CASE WHEN ?5 THEN ?6 ELSE result END, finished_at = CASE WHEN ?5 THEN ?7 ELSE finished_at END WHERE run_id = ?1 AND key = ?2")?
                .execute(params![run, key, state.as_str(), reason, done, result, ended_at, attempt])?;
        }
        _ => {
            let updated = tx.prepare_cached("UPDATE attempts SET ended_at = ?4, exit_code = ?5, signal = ?6, outcome = ?7, reason = ?8, result = ?9, max_rss_kb = ?10, user_cpu_s = ?11, sys_cpu_s = ?12, finished_event = ?13 - COALESCE(started_event, 0) WHERE run_id = ?1 AND task_key = ?2 AND number = ?3")?
                .execute(params![run, key, attempt, ended_at, exit_code, signal, outcome, reason, result, max_rss_kb, user_cpu_s, sys_cpu_s, end_id])?;
            // An end with no attempt to keep its id (no runner sends one) is still logged.
            if updated == 0 {
                end_id = None;
            }
            tx.prepare_cached("UPDATE tasks SET state = ?3, reason = ?4, result = CASE WHEN ?5 THEN ?6 ELSE result END, finished_at = CASE WHEN ?5 THEN ?7 ELSE finished_at END WHERE run_id = ?1 AND key = ?2")?
                .execute(params![run, key, state.as_str(), reason, done, result, ended_at])?;
        }
    }
    for (i, line) in metrics.iter().enumerate() {
        tx.prepare_cached("INSERT OR REPLACE INTO metrics (run_id, task_key, attempt, line, record) VALUES (?1,?2,?3,?4,?5)")?
            .execute(params![run, key, attempt, i as i64 + 1, line])?;
    }
    if end_id.is_some() {
        return Ok(());
    }
    let detail = match reason {
        Some(r) => format!("attempt {attempt}: {outcome} ({r}) -> {}", state.as_str()),
        None => format!("attempt {attempt}: {outcome} -> {}", state.as_str()),
    };
    event(tx, run, Some(key), ended_at, "finished", Some(&detail))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::Store;

    fn started(key: &str, attempt: u32) -> Change {
        Change::Started {
            key: key.into(),
            attempt,
            host: "h".into(),
            pid: 42,
            started_at: "2026-01-01T00:00:00Z".into(),
            stdout: "/o".into(),
            stderr: "/e".into(),
        }
    }

    fn finished(key: &str, attempt: u32, state: TaskState) -> Change {
        Change::Finished {
            key: key.into(),
            attempt,
            ended_at: "2026-01-01T00:00:01Z".into(),
            exit_code: Some(0),
            signal: None,
            outcome: Outcome::Success,
            reason: None,
            state,
            result: Some("{\"acc\":1}".into()),
            max_rss_kb: Some(7),
            user_cpu_s: Some(0.5),
            sys_cpu_s: Some(0.25),
            metrics: vec!["{\"step\":1}".into()],
        }
    }

    /// Everything stored about a run's attempts, tasks and events, as text.
    fn dump(store: &Store) -> String {
        let c = &store.conn;
        let rows = |sql: &str| -> Vec<String> {
            let mut st = c.prepare(sql).unwrap();
            let n = st.column_count();
            st.query_map([], |r| {
                Ok((0..n)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Null => "NULL".to_string(),
                        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                        rusqlite::types::ValueRef::Real(v) => v.to_string(),
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                        rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
        };
        let mut out = rows("SELECT * FROM attempts ORDER BY task_key, number");
        out.extend(rows(
            "SELECT key, state, attempts, result, reason, finished_at FROM tasks ORDER BY key",
        ));
        // The log as read, rows and the lines attempts say, with their ids.
        out.extend(
            store
                .events("r")
                .unwrap()
                .into_iter()
                .filter(|e| e.task_key.is_some())
                .map(|e| {
                    let key = e.task_key.unwrap_or_default();
                    let detail = e.detail.unwrap_or_default();
                    format!("{}|{key}|{}|{}|{detail}", e.id, e.at, e.kind)
                }),
        );
        out.extend(rows("SELECT * FROM metrics"));
        out.join("\n")
    }

    /// A store in `dir/.labtrail` with run `r` of two tasks, `aa` and `bb`, as unit tests of the
    /// store's writes need it.
    pub(crate) fn store_with_tasks(dir: &std::path::Path) -> Store {
        let mut store = Store::open(&dir.join(".labtrail"), true).unwrap();
        store.create_run("r", "t", "exp.toml", "").unwrap();
        for key in ["aa", "bb"] {
            store
                .conn
                .execute(
                    "INSERT INTO tasks (run_id, key, seq, stage, label, params, command, workdir, env, deps) VALUES ('r', ?1, 0, 's', 'l', '{}', 'c', '.', '{}', '[]')",
                    [key],
                )
                .unwrap();
        }
        store
    }

    /// An attempt that starts and ends in one batch is written whole, and reads back exactly as
    /// if its start and end had been committed apart.
    #[test]
    fn start_and_end_in_one_batch_store_what_two_batches_store() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut apart = store_with_tasks(a.path());
        let mut together = store_with_tasks(b.path());
        let changes = [
            started("aa", 1),
            started("bb", 1),
            finished("aa", 1, TaskState::Done),
            finished("bb", 1, TaskState::Pending),
            started("bb", 2),
            finished("bb", 2, TaskState::Done),
            // An end before its start (no runner sends this) is not merged: nothing is lost.
            finished("aa", 2, TaskState::Done),
            started("aa", 2),
        ];
        for c in &changes {
            apart.apply("r", std::slice::from_ref(c)).unwrap();
        }
        together.apply("r", &changes).unwrap();
        let (x, y) = (dump(&apart), dump(&together));
        assert!(x.contains("|success|"), "{x}");
        assert!(x.contains("attempt 2: success -> done"), "{x}");
        assert_eq!(x, y);
    }
}
