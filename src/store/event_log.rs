//! A run's event log as users read it (`labtrail events`): the rows of `events` and, merged in
//! by id, the lines that are not stored as rows (issue 15, schema 9). Every attempt's `started`
//! line and the `finished` line of an ordinary end (success, the task done) are said entirely by
//! the attempt's row; writing them as rows cost 290 bytes per task, more than the task and its
//! attempt together. Their event ids are still taken from the log's own sequence when they
//! happen and kept on the attempt, so the merged log has the same ids in the same order as a log
//! that stored every line.

use super::{EventRow, Store, StoreError};
use rusqlite::{params, Connection};

/// The `finished` line of an attempt whose id `attempts.finished_event` keeps.
const ORDINARY_END: &str = "success -> done";

/// The whole log of a run in id order, one query the database sorts (in bounded memory, spilling
/// to a temporary file past its cache): rows, synthesized starts, synthesized ends.
const MERGED: &str = "
    SELECT id, task_key, at, kind, detail FROM events WHERE run_id = ?1
    UNION ALL
    SELECT started_event, task_key, started_at, 'started',
           'attempt ' || number || ', pid ' || COALESCE(pid, 0)
      FROM attempts WHERE run_id = ?1 AND started_event IS NOT NULL
    UNION ALL
    SELECT COALESCE(started_event, 0) + finished_event, task_key, ended_at, 'finished',
           'attempt ' || number || ': ' || ?2
      FROM attempts WHERE run_id = ?1 AND finished_event IS NOT NULL
    ORDER BY 1";

/// Takes the next id of the event log without writing an event: the id a row written now would
/// get (`events` is AUTOINCREMENT: the next id is one past `sqlite_sequence`'s, which only grows).
pub(super) fn reserve_event_id(conn: &Connection) -> rusqlite::Result<i64> {
    let bumped = conn
        .prepare_cached(
            "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'events' RETURNING seq",
        )?
        .query_row([], |r| r.get(0));
    match bumped {
        Ok(id) => Ok(id),
        // No event was ever written in this store (every run writes one when it is created, so
        // only a store made by hand): the sequence starts here.
        Err(rusqlite::Error::QueryReturnedNoRows) => {
            let first: i64 =
                conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM events", [], |r| {
                    r.get(0)
                })?;
            conn.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?1)",
                [first],
            )?;
            Ok(first)
        }
        Err(e) => Err(e),
    }
}

/// Whether an attempt's end is ordinary: its `finished` line is then not written but said by
/// the attempt's row (see [`ORDINARY_END`]).
pub(super) fn is_ordinary_end(
    outcome: crate::outcome::Outcome,
    reason: Option<&str>,
    state: super::TaskState,
) -> bool {
    let line = format!("{outcome} -> {}", state.as_str());
    reason.is_none() && line == ORDINARY_END
}

impl Store {
    /// Calls `each` with every event of the run's log, oldest (smallest id) first, without
    /// collecting them: a log of millions of lines costs one row's memory. Stops at the first
    /// error `each` returns, and returns it.
    pub fn each_event<E: From<StoreError>>(
        &self,
        run: &str,
        mut each: impl FnMut(EventRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut st = self.conn.prepare_cached(MERGED).map_err(|e| self.err(e))?;
        let mut rows = st
            .query(params![run, ORDINARY_END])
            .map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let row = (|| {
                Ok(EventRow {
                    id: r.get(0)?,
                    task_key: r.get(1)?,
                    at: r.get(2)?,
                    kind: r.get(3)?,
                    detail: r.get(4)?,
                })
            })()
            .map_err(|e: rusqlite::Error| self.err(e))?;
            each(row)?;
        }
        Ok(())
    }

    /// The run's event log, oldest first, collected (see [`Store::each_event`] to stream it).
    pub fn events(&self, run: &str) -> Result<Vec<EventRow>, StoreError> {
        let mut out = Vec::new();
        self.each_event::<StoreError>(run, |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }
}
