//! The merged results of a run: one record per done task, grouped or not ([`aggregate`]), and
//! one writer per output format ([`text`], [`markdown`], [`csv`], [`json`], [`jsonl`]), each
//! writing to any [`std::io::Write`]; [`view`] picks what to write.

pub mod aggregate;
pub mod cell;
pub mod csv;
pub mod csv_columns;
pub mod json;
pub mod jsonl;
pub mod markdown;
pub mod record_table;
pub mod sort;
pub mod sort_key;
pub mod spill;
pub mod stats;
pub mod table;
pub mod text;
pub mod view;

use crate::store::{DoneRow, Store, StoreError, TaskRow};
use serde_json::Value;

/// One done task: what it was run with and what it wrote to `$LABTRAIL_RESULT`. Serialises as
/// `labtrail results` prints a record, fields in this order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResultRecord {
    /// The task key.
    pub key: String,
    /// The task's stage (`main` without stages).
    pub stage: String,
    /// The task label.
    pub label: String,
    /// The task's parameters, a JSON object in grid order.
    pub params: Value,
    /// The JSON the task wrote, if any; any JSON value, usually an object.
    pub result: Option<Value>,
    /// How many attempts it took.
    pub attempts: u32,
    /// When the successful attempt ended.
    pub finished_at: Option<String>,
}

/// The results of a run's done tasks, in plan order. Tasks that left the plan are not included.
#[derive(Debug, Clone)]
pub struct Results {
    /// The run id.
    pub run: String,
    /// One record per done task.
    pub records: Vec<ResultRecord>,
}

impl ResultRecord {
    /// The record of a done task.
    pub fn of(t: TaskRow) -> ResultRecord {
        ResultRecord {
            key: t.key,
            stage: t.stage,
            label: t.label,
            params: t.params,
            result: t.result,
            attempts: t.attempts,
            finished_at: t.finished_at,
        }
    }
}

impl ResultRecord {
    /// The record of a done task read as stored, decoded as [`Store::each_task`] decodes a
    /// task: parameters that are not JSON are `null`, a result that is not JSON is none.
    pub fn stored(t: &DoneRow) -> ResultRecord {
        ResultRecord {
            key: t.key.to_string(),
            stage: t.stage.to_string(),
            label: t.label.to_string(),
            params: serde_json::from_str(t.params).unwrap_or(Value::Null),
            result: t.result.and_then(|r| serde_json::from_str(r).ok()),
            attempts: t.attempts,
            finished_at: t.finished_at.map(str::to_string),
        }
    }
}

impl Results {
    /// Loads the results of `run` (`None`: the latest run).
    pub fn load(store: &Store, run: Option<&str>) -> Result<Results, StoreError> {
        let source = ResultSource::open(store, run)?;
        let mut records = Vec::new();
        source.each(|r| {
            records.push(r);
            Ok::<_, StoreError>(())
        })?;
        Ok(Results {
            run: source.run,
            records,
        })
    }

    /// Keeps only the records of stage `stage`. When none is left, checks that the run has such
    /// a stage at all: an unknown one is an error listing the run's stages (in plan order).
    pub fn only_stage(&mut self, store: &Store, stage: &str) -> Result<(), UnknownStage> {
        self.records.retain(|r| r.stage == stage);
        if !self.records.is_empty() {
            return Ok(());
        }
        check_stage(store, &self.run, stage)
    }
}

/// The results of a run's done tasks, read from the store one record at a time (issue 15): a
/// writer that needs each record once holds one, not the run. Read twice when a writer needs
/// the columns first (CSV).
pub struct ResultSource<'a> {
    store: &'a Store,
    /// The run id.
    pub run: String,
    /// Only the records of this stage (`--stage`).
    stage: Option<String>,
    /// The keys of the records in the order to read them (`--sort`), when not plan order.
    order: Option<&'a sort::Order>,
}

impl<'a> ResultSource<'a> {
    /// The results of `run` (`None`: the latest run), every stage.
    pub fn open(store: &'a Store, run: Option<&str>) -> Result<ResultSource<'a>, StoreError> {
        Ok(ResultSource {
            store,
            run: store.resolve_run(run)?,
            stage: None,
            order: None,
        })
    }

    /// Only the records of stage `stage` from now on; a stage the run does not have is an error
    /// listing the run's stages (in plan order).
    pub fn only_stage(&mut self, stage: &str) -> Result<(), UnknownStage> {
        check_stage(self.store, &self.run, stage)?;
        self.stage = Some(stage.to_string());
        Ok(())
    }

    /// The same records read in the order of `keys` (which [`sort::sorted`] gives): one
    /// lookup each, so that a writer streams sorted rows as it streams them in plan order.
    pub fn in_order<'b>(&self, keys: &'b sort::Order) -> ResultSource<'b>
    where
        'a: 'b,
    {
        ResultSource {
            store: self.store,
            run: self.run.clone(),
            stage: self.stage.clone(),
            order: Some(keys),
        }
    }

    /// Whether the records come in an order of their own ([`ResultSource::in_order`]).
    pub fn is_reordered(&self) -> bool {
        self.order.is_some()
    }

    /// Calls `each` with every record, in plan order (or the order given to
    /// [`ResultSource::in_order`]).
    pub fn each<E: From<StoreError>>(
        &self,
        mut each: impl FnMut(ResultRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(order) = self.order {
            return order.each_key(|key| {
                match self
                    .store
                    .done_by_key(&self.run, key, |t| ResultRecord::stored(&t))?
                {
                    Some(r) => each(r),
                    None => Ok(()),
                }
            });
        }
        self.store.each_done(&self.run, |t| match &self.stage {
            Some(s) if s != t.stage => Ok(()),
            _ => each(ResultRecord::stored(&t)),
        })
    }

    /// Calls `each` with the plan position, parameters and result (as stored: JSON text) of
    /// every record, in no particular order: for a first pass that only needs the columns.
    pub fn each_shape<E: From<StoreError>>(
        &self,
        mut each: impl FnMut(i64, &str, Option<&str>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.store
            .each_done_unordered(&self.run, |seq, stage, params, result| match &self.stage {
                Some(s) if s != stage => Ok(()),
                _ => each(seq, params, result),
            })
    }

    /// Every record, in plan order, held at once: for the writers that cannot stream (the
    /// aligned table and Markdown, which size columns to every row, and `--sort`).
    pub fn collect(&self) -> Result<Results, StoreError> {
        let mut records = Vec::new();
        self.each(|r| {
            records.push(r);
            Ok::<_, StoreError>(())
        })?;
        Ok(Results {
            run: self.run.clone(),
            records,
        })
    }
}

/// Checks that `run` has a task (in its plan) of stage `stage`, counted in SQL.
fn check_stage(store: &Store, run: &str, stage: &str) -> Result<(), UnknownStage> {
    let mut stages: Vec<String> = Vec::new();
    // Ordered by each (stage, state)'s first task: a stage first appears at its first task.
    for c in store.stage_state_counts(run)? {
        if !stages.contains(&c.stage) {
            stages.push(c.stage);
        }
    }
    if stages.iter().any(|s| s == stage) {
        return Ok(());
    }
    Err(UnknownStage::NoSuchStage {
        run: run.to_string(),
        stage: stage.to_string(),
        stages,
    })
}

/// `--stage` names no stage of the run.
#[derive(Debug, thiserror::Error)]
pub enum UnknownStage {
    /// The store could not list the run's tasks.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No task of the run is of this stage.
    #[error("--stage {stage}: run {run} has no such stage; its stages: {}", stages.join(", "))]
    NoSuchStage {
        /// The run.
        run: String,
        /// What was asked.
        stage: String,
        /// The run's stages.
        stages: Vec<String>,
    },
}
