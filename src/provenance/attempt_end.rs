//! What an ended attempt leaves for the archive besides its result: its metric summaries
//! (`metric_summary` record), the error of a failed one (`attempt_error` record), the artifacts
//! of a done one (`artifacts` record). Read by the
//! engine where it reads the attempt's other files, written in the batch that records the
//! attempt's end.

use super::artifacts;
use super::model::{Artifact, AttemptError, ARTIFACTS_RECORD, ATTEMPT_ERROR_RECORD};
use super::stderr::read_attempt_error;
use crate::outcome::Outcome;
use crate::report::archive::model::{AttemptMetrics, METRIC_SUMMARY_RECORD};
use crate::report::metrics::summarize;
use crate::spec::archive::ArchiveSettings;
use crate::spec::Stage;
use crate::store::Change;
use std::path::Path;

/// The facts read at an attempt's end, before the policy decides on its outcome.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttemptFacts {
    /// Read when it did not succeed.
    pub error: Option<AttemptError>,
    /// Read when it succeeded and its stage names artifacts; with whether some were left out.
    pub artifacts: Option<(Vec<Artifact>, bool)>,
    /// Its metric summaries, worked out once here so that an archive reads one record per
    /// attempt, not every line (`None` when it wrote no metric line).
    pub metrics: Option<AttemptMetrics>,
}

/// Where an attempt's files are and how it went, for [`AttemptFacts::read`].
pub struct Ended<'a> {
    pub stage: &'a Stage,
    pub archive: &'a ArchiveSettings,
    pub task_dir: &'a Path,
    pub stderr: &'a Path,
    pub attempt: u32,
    /// It exited 0 with a readable result (the outcome may still become interrupted).
    pub succeeded: bool,
    /// Its metric records as stored.
    pub metrics: &'a [String],
    /// Its result as stored.
    pub result: Option<&'a str>,
}

impl AttemptFacts {
    /// Reads the error (from the end of stderr) or the artifacts: bounded work either way.
    pub fn read(e: &Ended) -> AttemptFacts {
        let (min, max) = (&e.archive.minimize, &e.archive.maximize);
        let metrics = AttemptMetrics {
            attempt: e.attempt,
            lines: e.metrics.len() as u64,
            metrics: summarize(e.metrics.iter().map(String::as_str), min, max),
        };
        let mut facts = AttemptFacts {
            error: None,
            artifacts: None,
            metrics: None,
        };
        if !e.succeeded {
            facts.error = Some(read_attempt_error(e.stderr, e.attempt));
        } else if !e.stage.artifacts.is_empty() {
            let found = artifacts::collect(
                e.task_dir,
                &e.stage.artifacts,
                artifacts::best_step(&metrics.metrics, min, max),
                artifacts::best_checkpoint(e.result).as_deref(),
            );
            facts.artifacts = Some((found.artifacts, found.over_cap));
        }
        // An attempt that wrote no metric line has nothing to summarise: no record.
        facts.metrics = (metrics.lines > 0).then_some(metrics);
        facts
    }

    /// The records to write with the attempt's end, given the outcome it was recorded with:
    /// the error of a failed attempt (not of one interrupted by labtrail, withdrawn, superseded
    /// or requeued: those say nothing about the task), the artifacts of a successful one.
    pub fn changes(self, key: &str, outcome: Outcome) -> Vec<Change> {
        let record = |kind: &str, json: String| Change::Record {
            task: Some(key.to_string()),
            kind: kind.to_string(),
            json,
        };
        let mut out = Vec::new();
        if let Some(metrics) = &self.metrics {
            out.push(record(METRIC_SUMMARY_RECORD, json(metrics)));
        }
        let failed = !matches!(
            outcome,
            Outcome::Success
                | Outcome::Interrupted
                | Outcome::Withdrawn
                | Outcome::Superseded
                | Outcome::Requeued
        );
        match (self.error, self.artifacts) {
            (Some(error), _) if failed => {
                out.push(record(ATTEMPT_ERROR_RECORD, json(&error)));
            }
            (_, Some((list, over_cap))) if outcome == Outcome::Success => {
                out.push(record(ARTIFACTS_RECORD, json(&list)));
                if over_cap {
                    out.push(Change::TaskNote {
                        key: key.to_string(),
                        kind: "artifacts_capped".into(),
                        detail: format!(
                            "more than {} files matched the stage's artifacts patterns, or their search was cut short (over {} entries or {} s): the files found first (by path) are recorded",
                            artifacts::MAX_ARTIFACTS,
                            crate::plan::glob_walk::MAX_ENTRIES,
                            artifacts::SEARCH_TIME.as_secs()
                        ),
                    });
                }
            }
            _ => {}
        }
        out
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}
