//! `labtrail tasks TASK --command`: a shell snippet that runs a task's latest attempt again by
//! hand, as labtrail ran it: its working directory, every variable it was given (the declared
//! environment, the `LABTRAIL_*` protocol, its upstream folders), then its exact command. To
//! debug it (`python -m pdb …`), to time it, to run it on another node.
//!
//! The variables are worked out again from the run's recorded experiment and plan, the way the
//! engines work them out at each launch ([`crate::protocol::task_env`]), and the attempt's own
//! files from the attempt's stored log path, which both engines name alike (`…stdout.log`
//! beside `…result.json`): nothing is written, no folder is made.

use crate::plan::Plan;
use crate::protocol::{self, AttemptFiles};
use crate::spec::{shell_quote, Spec};
use crate::store::{AttemptRow, Store, StoreError, TaskRow};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Why a task cannot be reproduced.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The store could not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The task never started: there is no attempt to reproduce.
    #[error("task {label} has not run yet in run {run}: no attempt to reproduce (`labtrail run` starts it)")]
    NoAttempt {
        /// The task's label.
        label: String,
        /// The run.
        run: String,
    },
    /// The recorded experiment no longer yields this task (a run made by another labtrail).
    #[error("task {key} is not in the plan rebuilt from run {run}'s recorded experiment: its environment cannot be worked out")]
    NotInPlan {
        /// The task's key.
        key: String,
        /// The run.
        run: String,
    },
}

/// The snippet for `task` of `run`, whose recorded experiment is `spec` and plan `plan`
/// (see [`crate::app::select::stored_plan`]).
pub fn snippet(
    store: &Store,
    run: &str,
    spec: &Spec,
    plan: &Plan,
    task: &TaskRow,
) -> Result<String, CommandError> {
    let attempt = store
        .attempts(run, &task.key)?
        .pop()
        .ok_or_else(|| CommandError::NoAttempt {
            label: task.label.clone(),
            run: run.to_string(),
        })?;
    let index = plan
        .tasks
        .iter()
        .position(|t| t.key == task.key)
        .ok_or_else(|| CommandError::NotInPlan {
            key: task.key.clone(),
            run: run.to_string(),
        })?;
    let planned = &plan.tasks[index];
    let folders = store.folders(run)?;
    let store_dir = std::path::absolute(store.dir()).unwrap_or_else(|_| store.dir().to_path_buf());
    let mut env = protocol::task_env(&planned.identity(spec, run, &store_dir));
    for up in plan.upstream(spec, index, &folders) {
        env.push(match up {
            crate::plan::upstream::UpstreamDir::Task { var, dir }
            | crate::plan::upstream::UpstreamDir::Links { var, dir, .. } => {
                (var, dir.display().to_string())
            }
        });
    }
    let files = attempt_files(&attempt, &folders.attempt_prefix(&task.key));
    env.extend(protocol::attempt_env(
        attempt.number,
        &folders.task_dir(&task.key),
        &files.result,
        &files.metrics,
    ));
    if let Some(job) = &attempt.job_id {
        env.push((protocol::JOB_ID.to_string(), job.clone()));
    }
    let stage = &spec.stages[planned.stage];
    let base = std::path::absolute(spec.base_dir()).unwrap_or_else(|_| spec.base_dir());
    // `dir/.` as `dir`: the same folder, as a person would write it.
    let workdir: PathBuf = protocol::workdir(&base, &stage.workdir)
        .components()
        .collect();

    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {} (key {}), attempt {} of run {}, as labtrail ran it.",
        one_line(&task.label),
        task.key,
        attempt.number,
        one_line(run)
    );
    let _ = writeln!(
        s,
        "# Run it with sh: its output comes here, not to the attempt's logs; it writes that\n\
         # attempt's result and metrics files again (the store keeps what the attempt wrote)."
    );
    let _ = writeln!(s, "cd {} || exit 1", quote_path(&workdir));
    for (name, value) in &env {
        let _ = writeln!(s, "export {name}={}", shell_quote(value));
    }
    s.push_str(&task.command);
    if !task.command.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

/// The attempt's result and metrics files: beside its stdout log, named alike by both engines
/// (`attempts/KEY-N.stdout.log` locally, `…/stdout.log` in a SLURM attempt folder); from the
/// local naming when the stored path does not end so.
fn attempt_files(attempt: &AttemptRow, prefix: &Path) -> AttemptFiles {
    let stdout = &attempt.stdout_path;
    match stdout.strip_suffix(protocol::STDOUT_FILE) {
        Some(stem) => AttemptFiles {
            stdout: PathBuf::from(stdout),
            stderr: PathBuf::from(&attempt.stderr_path),
            result: PathBuf::from(format!("{stem}{}", protocol::RESULT_FILE)),
            metrics: PathBuf::from(format!("{stem}{}", protocol::METRICS_FILE)),
        },
        None => AttemptFiles::new(prefix, attempt.number),
    }
}

fn quote_path(p: &Path) -> String {
    shell_quote(&p.display().to_string()).into_owned()
}

/// A value inside a `#` comment: a line break would end the comment and run the rest.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}
