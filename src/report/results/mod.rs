//! The merged results of a run: one record per done task, grouped or not ([`aggregate`]), and
//! one writer per output format ([`text`], [`markdown`], [`csv`], [`json`], [`jsonl`]), each
//! writing to any [`std::io::Write`]; [`view`] picks what to write.

pub mod aggregate;
pub mod cell;
pub mod csv;
pub mod json;
pub mod jsonl;
pub mod markdown;
pub mod stats;
pub mod table;
pub mod text;
pub mod view;

use crate::store::{Store, StoreError, TaskState};
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

impl Results {
    /// Loads the results of `run` (`None`: the latest run).
    pub fn load(store: &Store, run: Option<&str>) -> Result<Results, StoreError> {
        let run = store.resolve_run(run)?;
        let records = store
            .tasks(&run, Some(TaskState::Done))?
            .into_iter()
            .map(|t| ResultRecord {
                key: t.key,
                stage: t.stage,
                label: t.label,
                params: t.params,
                result: t.result,
                attempts: t.attempts,
                finished_at: t.finished_at,
            })
            .collect();
        Ok(Results { run, records })
    }

    /// Keeps only the records of stage `stage`. When none is left, checks that the run has such
    /// a stage at all: an unknown one is an error listing the run's stages (in plan order).
    pub fn only_stage(&mut self, store: &Store, stage: &str) -> Result<(), UnknownStage> {
        self.records.retain(|r| r.stage == stage);
        if !self.records.is_empty() {
            return Ok(());
        }
        let mut stages: Vec<String> = Vec::new();
        for task in store.tasks(&self.run, None)? {
            if !stages.contains(&task.stage) {
                stages.push(task.stage);
            }
        }
        if stages.iter().any(|s| s == stage) {
            return Ok(());
        }
        Err(UnknownStage::NoSuchStage {
            run: self.run.clone(),
            stage: stage.to_string(),
            stages,
        })
    }
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
