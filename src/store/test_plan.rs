//! Test support for the store's unit tests: a plan of trivial tasks of one stage, and the query
//! plan SQLite chooses for a statement.

use super::{NewTask, PlanRows};

/// A plan of one task per key (stage `main`, label `k=KEY`, `true`, no parameters or links).
pub(super) fn plan_of<'a>(keys: &'a [&'a str]) -> PlanRows<'a> {
    PlanRows {
        spec_path: "exp.toml".into(),
        spec_text: "".into(),
        tasks: Box::new(keys.iter().map(|&key| NewTask {
            key,
            stage: "main",
            label: format!("k={key}"),
            params: serde_json::Map::new(),
            command: "true".into(),
            workdir: ".",
            env: Vec::new(),
            deps: Vec::new(),
        })),
        inputs: None,
    }
}

/// The details of `EXPLAIN QUERY PLAN sql` with `params` bound, one line per step: which table
/// or index each step reads (issue 15: without statistics SQLite may skip a partial index).
pub(super) fn query_plan(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Vec<String> {
    conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(params, |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}
