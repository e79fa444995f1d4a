//! What `labtrail metrics` shows: one attempt's metric stream as rows of a step and chosen keys,
//! or its summaries. Read from the store line by line (two passes for the rows: the columns
//! first), never held whole.

use super::direction::STEP_KEYS;
use super::Summarizer;
use crate::report::archive::model::MetricSummary;
use crate::report::logs::LogSelection;
use crate::report::QueryError;
use crate::spec::Spec;
use crate::store::{Store, StoreError};
use serde_json::{Map, Value};
use std::path::Path;

/// The step keys shown in the `step` column rather than as a column of their own (`epoch` stays a
/// column: it is worth seeing next to the step).
const STEP_COLUMN_KEYS: &[&str] = &["step", "global_step", "_step", "iter", "iteration"];

/// One attempt's metric stream, chosen like `labtrail logs` chooses its files.
#[derive(Debug, Clone)]
pub struct MetricsView {
    /// The run, task and attempt.
    pub chosen: LogSelection,
    /// `[archive] minimize` / `maximize` of the run's recorded experiment file (empty when it
    /// no longer parses).
    pub minimize: Vec<String>,
    pub maximize: Vec<String>,
}

/// One record as a row: its step and a cell per column (`None`: the record has no such key).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The step (`step`, `global_step`, `_step`, `iter`, `iteration` or `epoch`) as written.
    pub step: Option<String>,
    /// Numbers as JSON writes them, text as it is, other values as JSON.
    pub cells: Vec<Option<String>>,
}

impl MetricsView {
    /// Chooses the task `query` names in `run` (default the latest) and its attempt `number`
    /// (default the latest).
    pub fn load(
        store: &Store,
        run: Option<&str>,
        query: &str,
        number: Option<u32>,
    ) -> Result<MetricsView, QueryError> {
        let chosen = LogSelection::load(store, run, query, number)?;
        let (path, text) = store.run_spec(&chosen.run)?;
        let (minimize, maximize) = Spec::parse(Path::new(&path), text)
            .map(|s| (s.archive.minimize, s.archive.maximize))
            .unwrap_or_default();
        Ok(MetricsView {
            chosen,
            minimize,
            maximize,
        })
    }

    /// Calls `line` with each stored record, in order.
    pub fn each_line<E: From<StoreError>>(
        &self,
        store: &Store,
        line: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let c = &self.chosen;
        store.each_metric(&c.run, &c.task.key, c.attempt.number, line)
    }

    /// The summary of each key.
    pub fn summaries(&self, store: &Store) -> Result<Vec<MetricSummary>, StoreError> {
        let mut s = Summarizer::new(&self.minimize, &self.maximize);
        self.each_line(store, |line| {
            s.push(line);
            Ok::<_, StoreError>(())
        })?;
        Ok(s.finish())
    }

    /// The columns besides the step: `wanted` if given (each must occur in the stream), else
    /// every key in the order it first appears.
    pub fn columns(&self, store: &Store, wanted: &[String]) -> Result<Vec<String>, QueryError> {
        let mut keys: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        self.each_line(store, |line| {
            // Keys only: values are skipped unparsed into a tree.
            let _ = super::record::for_each_field(line, |k, _| {
                if !STEP_COLUMN_KEYS.contains(&k) && !seen.contains(k) {
                    seen.insert(k.to_string());
                    keys.push(k.to_string());
                }
            });
            Ok::<_, StoreError>(())
        })?;
        if wanted.is_empty() {
            return Ok(keys);
        }
        if let Some(missing) = wanted.iter().find(|w| !seen.contains(w.as_str())) {
            return Err(QueryError::NoSuchMetric {
                label: self.chosen.task.label.clone(),
                attempt: self.chosen.attempt.number,
                key: missing.clone(),
                known: keys,
            });
        }
        Ok(wanted.to_vec())
    }

    /// Calls `row` with each record as a row of `columns`; `E` lets the caller stop on a
    /// write error.
    pub fn rows<E: From<StoreError>>(
        &self,
        store: &Store,
        columns: &[String],
        mut row: impl FnMut(&Row) -> Result<(), E>,
    ) -> Result<(), E> {
        self.each_line(store, |line| {
            let Ok(record) = serde_json::from_str::<Map<String, Value>>(line) else {
                return Ok(());
            };
            let step = STEP_KEYS.iter().find_map(|k| record.get(*k)).map(cell);
            let cells = columns.iter().map(|c| record.get(c).map(cell)).collect();
            row(&Row { step, cells })
        })
    }

    /// Calls `record` with each record as JSON text: as stored, or with only the step keys and
    /// `columns` when columns were chosen.
    pub fn records<E: From<StoreError>>(
        &self,
        store: &Store,
        chosen: &[String],
        mut record: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        if chosen.is_empty() {
            return self.each_line(store, record);
        }
        self.each_line(store, |line| {
            let Ok(all) = serde_json::from_str::<Map<String, Value>>(line) else {
                return Ok(());
            };
            let kept: Map<String, Value> = all
                .into_iter()
                .filter(|(k, _)| STEP_KEYS.contains(&k.as_str()) || chosen.contains(k))
                .collect();
            record(&Value::Object(kept).to_string())
        })
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
