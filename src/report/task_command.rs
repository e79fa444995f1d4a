//! `labtrail tasks TASK --command`: a shell snippet that runs a task's latest attempt again by
//! hand, as labtrail ran it: its working directory, every variable it was given (the declared
//! environment, the `LABTRAIL_*` protocol, its upstream folders), then its exact command. To
//! debug it (`python -m pdb …`), to time it, to run it on another node.
//!
//! The variables are worked out again from the run's recorded experiment and plan, the way the
//! engines work them out at each launch ([`crate::protocol::task_env`]), and the attempt's own
//! files from the attempt's stored log path, which both engines name alike (`…stdout.log`
//! beside `…result.json`): nothing is written, no folder is made. Where a local attempt ran (its
//! worker slot, its GPUs) comes from the note the engine wrote when it started it (see
//! `engine::local::placement`), as does `{slot}` in its command.

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
    let mut env = protocol::task_env(&plan.identity(index, spec, run, &store_dir));
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
    // As the engines set it, whatever the shell that asks for the snippet has.
    if protocol::unbuffered(&plan.env(index, spec), false)
        && !has(&env, protocol::PYTHON_UNBUFFERED)
    {
        env.insert(
            0,
            (protocol::PYTHON_UNBUFFERED.to_string(), "1".to_string()),
        );
    }
    let stage = &spec.stages[planned.stage];
    let place = if attempt.job_id.is_none() {
        Placed::find(store, run, &task.key, attempt.number)?
    } else {
        None
    };
    // A slot not recorded (an attempt of an older labtrail, or one whose start was never
    // recorded) is 1, as the snippet's LABTRAIL_SLOT says: never a `{slot}` left for sh.
    let command = match (&place, &attempt.job_id) {
        (Some(p), _) => {
            crate::spec::devices::command_in_slot(stage, &plan.value_list(index), p.slot)
        }
        (None, None) => crate::spec::devices::command_in_slot(stage, &plan.value_list(index), 1),
        (None, Some(_)) => None,
    };
    let command = command.as_deref().unwrap_or(&task.command);
    if let Some(p) = &place {
        p.add_env(&mut env);
    }
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
    if attempt.ended_at.is_none() {
        // Two copies would write the same result and metrics files at once.
        let which = match (&attempt.job_id, attempt.pid) {
            (Some(job), _) => format!("job {}", one_line(job)),
            (None, Some(pid)) => format!("pid {pid} on {}", one_line(&attempt.host)),
            (None, None) => format!("on {}", one_line(&attempt.host)),
        };
        let _ = writeln!(
            s,
            "# That attempt has not ended ({which}): wait for it, or stop it, first."
        );
    }
    match &place {
        Some(p) => p.explain(&mut s),
        None if attempt.job_id.is_none() => {
            let _ = writeln!(
                s,
                "# LABTRAIL_SLOT=1 here, the first worker's: the attempt's slot was not recorded (it\n\
                 # is when the run hands out GPUs, or when the command has {{slot}})."
            );
            env.push(protocol::slot_env(1));
        }
        None => {}
    }
    let _ = writeln!(s, "cd {} || exit 1", quote_path(&workdir));
    for (name, value) in &env {
        let _ = writeln!(s, "export {name}={}", shell_quote(value));
    }
    s.push_str(command);
    if !command.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

fn has(env: &[(String, String)], name: &str) -> bool {
    env.iter().any(|(k, _)| k == name)
}

/// Where a local attempt ran, from its task note (see `engine::local::placement`): its worker
/// slot, and the GPUs it had when the run handed some out (`Some("")`: none, for a CPU stage).
struct Placed {
    slot: usize,
    devices: Option<String>,
}

impl Placed {
    /// The note of attempt `number` of task `key`, if one was written.
    fn find(
        store: &Store,
        run: &str,
        key: &str,
        number: u32,
    ) -> Result<Option<Placed>, StoreError> {
        let head = format!("attempt {number}: ");
        let found = store.events(run)?.into_iter().rev().find_map(|e| {
            if e.task_key.as_deref() != Some(key) || !matches!(e.kind.as_str(), "devices" | "slot")
            {
                return None;
            }
            Placed::parse(e.detail?.strip_prefix(&head)?)
        });
        Ok(found)
    }

    /// `CUDA_VISIBLE_DEVICES=0,1 (worker slot 2)` or `worker slot 2`. Device ids hold no space
    /// nor parenthesis (see [`crate::spec::devices::valid_id`]).
    fn parse(detail: &str) -> Option<Placed> {
        let (devices, slot) = match detail.strip_prefix("CUDA_VISIBLE_DEVICES=") {
            Some(rest) => {
                let (devices, slot) = rest.rsplit_once(" (worker slot ")?;
                (Some(devices.to_string()), slot.strip_suffix(')')?)
            }
            None => (None, detail.strip_prefix("worker slot ")?),
        };
        Some(Placed {
            slot: slot.parse().ok()?,
            devices,
        })
    }

    /// After the declared variables, as the engine adds them: the devices handed out win over
    /// a declared `CUDA_VISIBLE_DEVICES`.
    fn add_env(&self, env: &mut Vec<(String, String)>) {
        env.push(protocol::slot_env(self.slot));
        if let Some(devices) = &self.devices {
            env.retain(|(k, _)| k != CUDA_VISIBLE_DEVICES);
            env.push((CUDA_VISIBLE_DEVICES.to_string(), devices.clone()));
        }
    }

    fn explain(&self, s: &mut String) {
        let _ = match &self.devices {
            Some(d) if d.is_empty() => writeln!(
                s,
                "# Worker slot {} and no GPU (CUDA_VISIBLE_DEVICES=\"\"), as the attempt had them.",
                self.slot
            ),
            Some(d) => writeln!(
                s,
                "# Worker slot {} and CUDA_VISIBLE_DEVICES={d:?}, as the attempt had them (`labtrail events`):\n\
                 # another task may hold those GPUs now; change the value to run elsewhere.",
                self.slot
            ),
            None => writeln!(s, "# Worker slot {}, as the attempt had it.", self.slot),
        };
    }
}

const CUDA_VISIBLE_DEVICES: &str = "CUDA_VISIBLE_DEVICES";

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
