//! Making the recovered rows consistent again. Rows lost with a damaged page break the store's
//! invariants (see `Store::invariant_violations`) or the next run's writes (a task re-planned
//! with no attempts beside attempts it already had); each fix here keeps what it can and says
//! what it did.

use rusqlite::Connection;

/// Moves the rows `orphaned` (a WHERE clause over `table`) into `records`, as JSON documents of
/// kind `kind`, so that nothing recovered is thrown away; returns how many.
fn set_aside(
    conn: &Connection,
    table: &str,
    orphaned: &str,
    kind: &str,
    at: &str,
) -> rusqlite::Result<usize> {
    let mut st = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let cols: Vec<String> = st.query_map([], |r| r.get(1))?.collect::<Result<_, _>>()?;
    let object = cols
        .iter()
        .map(|c| format!("'{c}', {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    conn.execute(
        &format!("INSERT INTO records (run_id, task_key, at, kind, json) SELECT run_id, task_key, ?1, ?2, json_object({object}) FROM {table} WHERE {orphaned}"),
        rusqlite::params![at, kind],
    )?;
    conn.execute(&format!("DELETE FROM {table} WHERE {orphaned}"), [])
}

/// Repairs what the lost rows broke; returns one line per kind of fix made.
pub fn fix(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let at = super::super::now();
    let mut notes = Vec::new();
    let mut note = |n: usize, what: &str| {
        if n > 0 {
            notes.push(format!("{n} {what}"));
        }
    };
    // Attempts (and metric lines) of a task whose row was lost: the next run plans the task
    // anew with no attempts, and would number its first attempt 1 again.
    let n = set_aside(conn, "attempts", "NOT EXISTS (SELECT 1 FROM tasks t WHERE t.run_id = attempts.run_id AND t.key = attempts.task_key)", "repair_attempt_of_lost_task", &at)?;
    note(
        n,
        "attempt(s) of tasks whose record was lost, kept as `repair_attempt_of_lost_task` records",
    );
    let n = set_aside(conn, "metrics", "NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = metrics.run_id AND a.task_key = metrics.task_key AND a.number = metrics.attempt)", "repair_metric_of_lost_attempt", &at)?;
    note(
        n,
        "metric line(s) of lost attempts, kept as `repair_metric_of_lost_attempt` records",
    );
    // Attempt numbers are dense (a task's next attempt is its count plus one): close the gaps
    // lost attempts left, carrying their metric lines along. Ascending order never collides.
    let gaps: Vec<(String, String)> = conn
        .prepare("SELECT run_id, task_key FROM attempts GROUP BY run_id, task_key HAVING MAX(number) != COUNT(*)")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (run, key) in &gaps {
        let numbers: Vec<i64> = conn
            .prepare(
                "SELECT number FROM attempts WHERE run_id = ?1 AND task_key = ?2 ORDER BY number",
            )?
            .query_map([run, key], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for (i, old) in numbers.into_iter().enumerate() {
            let new = i as i64 + 1;
            conn.execute("UPDATE attempts SET number = ?4 WHERE run_id = ?1 AND task_key = ?2 AND number = ?3", rusqlite::params![run, key, old, new])?;
            conn.execute("UPDATE metrics SET attempt = ?4 WHERE run_id = ?1 AND task_key = ?2 AND attempt = ?3", rusqlite::params![run, key, old, new])?;
        }
    }
    note(
        gaps.len(),
        "task(s) whose lost attempts left gaps had their attempts numbered again",
    );
    let n = conn.execute("UPDATE attempts SET outcome = 'interrupted', ended_at = COALESCE(ended_at, started_at), reason = 'left open; a later attempt started (found in a repair)' WHERE outcome IS NULL AND number < (SELECT MAX(number) FROM attempts b WHERE b.run_id = attempts.run_id AND b.task_key = attempts.task_key)", [])?;
    note(
        n,
        "attempt(s) left open before a later one were marked interrupted",
    );
    let outcomes = crate::outcome::Outcome::ALL
        .map(|o| format!("'{}'", o.as_str()))
        .join(",");
    let n = conn.execute(&format!("UPDATE attempts SET outcome = 'lost' WHERE outcome IS NOT NULL AND outcome NOT IN ({outcomes})"), [])?;
    note(n, "attempt(s) with an unreadable outcome were marked lost");
    let n = conn.execute("UPDATE tasks SET attempts = (SELECT COUNT(*) FROM attempts a WHERE a.run_id = tasks.run_id AND a.task_key = tasks.key) WHERE attempts != (SELECT COUNT(*) FROM attempts a WHERE a.run_id = tasks.run_id AND a.task_key = tasks.key)", [])?;
    note(
        n,
        "task(s) had their attempt count set to the attempts recovered",
    );
    let n = conn.execute("UPDATE tasks SET state = 'pending', finished_at = NULL, reason = 'its successful attempt was lost in a repair' WHERE (state = 'done' AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = tasks.run_id AND a.task_key = tasks.key AND a.outcome = 'success')) OR state NOT IN ('pending','running','done','failed','interrupted','blocked')", [])?;
    note(n, "task(s) done without a recovered successful attempt (or in an unreadable state) are pending again and will run again");
    // A run whose task rows were lost would skip the next plan sync (its plan is unchanged)
    // and never get them back: every run compares its plan with its tasks again at its next run.
    conn.execute("UPDATE runs SET plan_hash = NULL", [])?;
    Ok(notes)
}
