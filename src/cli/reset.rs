//! `labtrail reset`: mark tasks to be run again.

use super::output::{split_experiment, Global};
use super::terminal::escape;
use crate::app;
use crate::app::reset::{list, plural, ResetReport};
use crate::spec::shell_quote;
use crate::store::{Store, TaskDirFate};
use std::path::{Path, PathBuf};

/// Mark tasks to be run again from scratch by the next `labtrail run`.
///
/// Each task's own folder ($LABTRAIL_TASK_DIR, where it keeps its checkpoints) is moved aside,
/// kept as runs/RUN/tasks/KEY.reset-N, so the next attempt starts with an empty folder instead of
/// resuming from the old checkpoint; `labtrail events` names where each went. With
/// --keep-task-dir the folders of the tasks named stay and their next attempts continue from
/// them.
///
/// Tasks downstream of a reset task (later stages that wait for it) are reset too, since they
/// read what it wrote, and always from scratch (their folders are moved aside even with
/// --keep-task-dir: their upstream will write new output); --only resets just the tasks named.
/// Earlier attempts, logs and results stay in the attempt history. Refused while a runner holds
/// the run; a task left running by a runner that is gone is stopped and recorded as interrupted
/// first.
///
/// TASK is a label, a stage name (every task of the stage), a key (or a prefix of at least 4
/// characters), or filters like `rep=stats` or `stage=train,rep=stats`; tried in that order.
///
/// Examples:
///   labtrail reset rep=spectral,layers=all_layers
///   labtrail reset rep=spectral exp.toml   # in the latest run of this experiment
///   labtrail reset 3f2a9c01
///   labtrail reset prepare           # and every train/eval task downstream of it
///   labtrail reset prepare --only    # just prepare
///   labtrail reset train             # every task of stage train
///   labtrail reset --failed          # failed and blocked tasks
///   labtrail reset train/rep=stats --keep-task-dir   # continue from its checkpoint
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ResetArgs {
    /// Tasks: labels, stage names, keys or prefixes, or filters like `rep=stats`; and optionally
    /// the experiment file (`….toml`), whose latest run is reset.
    pub tasks: Vec<String>,
    /// Every failed or blocked task.
    #[arg(long)]
    pub failed: bool,
    /// Every task of the run.
    #[arg(long, conflicts_with = "failed")]
    pub all: bool,
    /// Only the tasks named, not the tasks downstream of them.
    #[arg(long)]
    pub only: bool,
    /// Keep the own folder of each task named: its next attempt continues from what it holds.
    /// Downstream tasks still start from scratch.
    #[arg(long)]
    pub keep_task_dir: bool,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
}

pub fn run(g: &Global, args: ResetArgs) -> anyhow::Result<i32> {
    let (tasks, experiment) = split_experiment(args.tasks)?;
    let target = g.write_target(experiment.as_deref(), args.run.as_deref())?;
    let (mut store, run) = (target.store, target.run);
    let request = app::reset::ResetRequest {
        tasks,
        failed: args.failed,
        all: args.all,
        only: args.only,
        keep_task_dir: args.keep_task_dir,
    };
    let report = app::reset::reset(&mut store, &run, &request)?;
    if !g.quiet {
        let file = experiment_file(&store, &run, experiment.as_deref()) + &overrides(&store, &run);
        for line in describe(&report, &run, &file) {
            say!("{}", escape(&line));
        }
    }
    Ok(0)
}

/// The run's `--set` overrides, as ` --set ARG` each (shell-quoted): without them, the hint would
/// run the file's values, not the run's (issue 14, review).
fn overrides(store: &Store, run: &str) -> String {
    store
        .run_spec(run)
        .map(|(_, text)| {
            crate::spec::set::recorded(&text)
                .iter()
                .map(|a| format!(" --set {}", shell_quote(a)))
                .collect()
        })
        .unwrap_or_default()
}

/// The experiment file to name in "`labtrail run FILE` will run them again": the one given, else
/// the one the run was last started with (recorded absolute, shown from the current folder when
/// it is below it; a relative one recorded before issue 11 as typed then, or if not found from
/// here, the file of that name next to the store, where `run` keeps it), else a placeholder.
fn experiment_file(store: &Store, run: &str, given: Option<&Path>) -> String {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => match store.run_spec(run) {
            Ok((recorded, _)) if !recorded.is_empty() => {
                let recorded = PathBuf::from(recorded);
                let beside_store = store
                    .dir()
                    .parent()
                    .zip(recorded.file_name())
                    .map(|(dir, name)| dir.join(name));
                let below_here = std::env::current_dir()
                    .ok()
                    .and_then(|here| recorded.strip_prefix(here).ok().map(Path::to_path_buf));
                match beside_store {
                    Some(p) if recorded.is_relative() && !recorded.is_file() && p.is_file() => p,
                    _ => below_here.unwrap_or(recorded),
                }
            }
            _ => return "EXPERIMENT.toml".into(),
        },
    };
    shell_quote(&path.to_string_lossy()).into_owned()
}

/// What `reset` prints: which tasks, which downstream, what happened to their folders, and the
/// command (with the experiment `file`) that runs them again.
fn describe(r: &ResetReport, run: &str, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    if r.settled > 0 {
        out.push(format!(
            "finished moving {} aside, left by a reset that was interrupted",
            plural(r.settled, "task folder")
        ));
    }
    if r.recovered > 0 {
        out.push(format!(
            "{} left running by a runner that is gone: stopped, recorded as interrupted",
            plural(r.recovered, "attempt")
        ));
    }
    let (named, down) = (labels(&r.named), labels(&r.downstream));
    let mut head = format!("reset {} of run {run}", plural(named.len(), "task"));
    if !down.is_empty() {
        head = format!(
            "reset {} and {} downstream of run {run}",
            plural(named.len(), "task"),
            down.len()
        );
    }
    if !named.is_empty() {
        head.push_str(&format!(": {}", list(&named, 10)));
    }
    out.push(head);
    if !down.is_empty() {
        out.push(format!("  downstream: {}", list(&down, 10)));
    }
    let all: Vec<_> = r.named.iter().chain(&r.downstream).collect();
    let moved = all
        .iter()
        .filter(|t| matches!(t.dir, TaskDirFate::MovedTo(_)))
        .count();
    let kept = all.iter().filter(|t| t.dir == TaskDirFate::Kept).count();
    if kept > 0 {
        out.push(format!(
            "{} kept (--keep-task-dir): their next attempts continue from them",
            plural(kept, "task folder")
        ));
    }
    if moved > 0 {
        out.push(format!(
            "{} moved aside (kept as tasks/KEY.reset-N; `labtrail events` names each): {} start from scratch",
            plural(moved, "task folder"),
            if kept > 0 { "the downstream tasks" } else { "the next attempts" }
        ));
    }
    if !all.is_empty() {
        out.push(format!("`labtrail run {file}` will run them again"));
    }
    out
}

fn labels(tasks: &[app::reset::ResetTask]) -> Vec<&str> {
    tasks.iter().map(|t| t.label.as_str()).collect()
}
