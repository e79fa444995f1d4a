//! A per-run summary of the plan's parameters (issue 15): for each parameter, where it first
//! appears in the plan and how many distinct values it has, counted up to [`VALUES_CAP`]. The
//! plan sync writes it (it is the only writer of `in_plan`, and a task's parameters never
//! change), so that plain `status` can tell which parameters it would group by without reading
//! every task's parameters. A run without one (a repaired store, a row that does not parse)
//! falls back to that pass.

use super::{Store, StoreError};
use indexmap::IndexMap;
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;

/// Values are counted up to this many: enough to tell "at most `status`'s 20" from "more".
pub const VALUES_CAP: usize = 21;

/// One parameter of a run's plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParamFacts {
    /// The parameter's name.
    pub name: String,
    /// Where it first appears: the plan position of its first task, then its place among that
    /// task's parameters (the order `status` lists parameters in).
    pub first: (i64, usize),
    /// How many distinct values (as group names write them) its tasks have, at most
    /// [`VALUES_CAP`].
    pub values: usize,
}

/// Builds a plan's summary as its tasks go by, in memory of the parameters times
/// [`VALUES_CAP`] values, never the tasks.
#[derive(Debug, Default)]
pub struct ParamSummary {
    params: IndexMap<String, ((i64, usize), HashSet<String>)>,
}

impl ParamSummary {
    /// Counts the task at plan position `seq` with parameters `params`.
    pub fn add(&mut self, seq: i64, params: &Map<String, Value>) {
        for (i, (name, value)) in params.iter().enumerate() {
            let (first, values) = match self.params.get_mut(name) {
                Some(p) => p,
                None => self
                    .params
                    .entry(name.clone())
                    .or_insert(((seq, i), HashSet::new())),
            };
            *first = (*first).min((seq, i));
            if values.len() >= VALUES_CAP {
                continue;
            }
            // Strings, the common case, are looked up without a copy.
            let text = match value {
                Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(crate::plan::filter::value_text(other)),
            };
            if !values.contains(text.as_ref()) {
                values.insert(text.into_owned());
            }
        }
    }

    /// The parameters in plan order.
    pub fn finish(mut self) -> Vec<ParamFacts> {
        self.params.sort_by(|_, a, _, b| a.0.cmp(&b.0));
        self.params
            .into_iter()
            .map(|(name, (first, values))| ParamFacts {
                name,
                first,
                values: values.len(),
            })
            .collect()
    }

    /// Replaces run `run`'s summary with this one, within the plan sync's transaction (so it
    /// is exactly as durable as the plan it summarises).
    pub(super) fn write(self, tx: &Transaction, run: &str) -> rusqlite::Result<()> {
        let json = serde_json::to_string(&self.finish()).expect("plain values serialize");
        tx.execute(
            "INSERT OR REPLACE INTO param_summaries (run_id, params) VALUES (?1, ?2)",
            params![run, json],
        )?;
        Ok(())
    }
}

/// Writes the summary of every run from its tasks: what the upgrade to schema 10 does for runs
/// synced before it, in the migration's transaction.
pub(super) fn fill_all(tx: &Transaction) -> rusqlite::Result<()> {
    let runs: Vec<String> = tx
        .prepare("SELECT id FROM runs")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for run in runs {
        let json = serde_json::to_string(&counted(tx, &run)?).expect("plain values serialize");
        tx.execute(
            "INSERT OR REPLACE INTO param_summaries (run_id, params) VALUES (?1, ?2)",
            params![run, json],
        )?;
    }
    Ok(())
}

/// The summary of run `run` made from its tasks: what the plan sync wrote, if it is exact.
fn counted(conn: &rusqlite::Connection, run: &str) -> rusqlite::Result<Vec<ParamFacts>> {
    let mut st =
        conn.prepare_cached("SELECT seq, params FROM tasks WHERE run_id = ?1 AND in_plan = 1")?;
    let mut summary = ParamSummary::default();
    let mut rows = st.query([run])?;
    while let Some(row) = rows.next()? {
        let params: Map<String, Value> =
            serde_json::from_str(row.get_ref(1)?.as_str().unwrap_or("")).unwrap_or_default();
        summary.add(row.get(0)?, &params);
    }
    Ok(summary.finish())
}

impl Store {
    /// Where a run's kept parameter summary differs from its tasks': plain `status` would
    /// group (or not) otherwise than the tasks say. What `labtrail check` reports.
    pub(super) fn param_summary_drift(&self) -> Result<Vec<String>, StoreError> {
        let kept: Vec<(String, String)> = self
            .conn
            .prepare("SELECT run_id, params FROM param_summaries ORDER BY run_id")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for (run, json) in kept {
            let counted = counted(&self.conn, &run).map_err(|e| self.err(e))?;
            let counted_json = serde_json::to_string(&counted).expect("plain values serialize");
            if json != counted_json {
                out.push(format!(
                    "parameter summary of run {run}: kept {json}, counted {counted_json}"
                ));
            }
        }
        Ok(out)
    }

    /// Run `run`'s parameter summary, in plan order; `None` when it has none (then only a pass
    /// over its tasks says what its parameters are).
    pub fn param_summary(&self, run: &str) -> Result<Option<Vec<ParamFacts>>, StoreError> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT params FROM param_summaries WHERE run_id = ?1")
            .and_then(|mut st| st.query_row([run], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }
}
