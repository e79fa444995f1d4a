//! `labtrail tasks`: the tasks of a run, and the attempt history of one task.

use super::output::{print_json, table, Global, UsageError};
use crate::store::TaskState;

/// List a run's tasks, or show one task's attempt history.
///
/// TASK is a key (or a prefix of at least 4 characters), a label, or parameter filters like
/// `rep=stats,layers=all` (`stage/rep=stats` with stages).
///
/// Examples:
///   labtrail tasks                       # every task of the latest run
///   labtrail tasks --state failed        # only failed tasks
///   labtrail tasks rep=stats --attempts  # attempt history: pid, times, exit, outcome, logs
///   labtrail tasks --json | jq '.[] | select(.state == "done") | .result'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct TasksArgs {
    /// Only tasks matching this key, label or filter.
    pub task: Option<String>,
    /// Only tasks in this state: pending, running, done, failed, interrupted, blocked.
    #[arg(long)]
    pub state: Option<String>,
    /// Show each attempt of the selected tasks.
    #[arg(long)]
    pub attempts: bool,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, args: TasksArgs) -> anyhow::Result<i32> {
    let store = g.open_store()?;
    let run = store.resolve_run(args.run.as_deref())?;
    let state = match &args.state {
        Some(s) => Some(TaskState::parse(s).ok_or_else(|| UsageError(format!("unknown state `{s}`: use one of pending, running, done, failed, interrupted, blocked")))?),
        None => None,
    };
    let mut tasks = match &args.task {
        Some(q) => store.find_tasks(&run, q)?,
        None => store.tasks(&run, None)?,
    };
    tasks.retain(|t| state.is_none_or(|s| t.state == s));
    if args.attempts {
        let mut all = Vec::new();
        for t in &tasks {
            for a in store.attempts(&run, &t.key)? {
                all.push((t.label.clone(), a));
            }
        }
        if args.json {
            let v: Vec<serde_json::Value> = all
                .iter()
                .map(|(l, a)| serde_json::json!({"label": l, "attempt": a}))
                .collect();
            print_json(&v)?;
            return Ok(0);
        }
        let rows: Vec<Vec<String>> = all
            .iter()
            .map(|(label, a)| {
                let exit = match (a.exit_code, a.signal) {
                    (Some(c), _) => format!("exit {c}"),
                    (None, Some(s)) => format!("signal {s}"),
                    _ => "-".into(),
                };
                let outcome = a
                    .outcome
                    .map(|o| o.to_string())
                    .or_else(|| a.scheduler_state.as_ref().map(|s| s.to_lowercase()))
                    .unwrap_or_else(|| "running".into());
                let outcome = match &a.reason {
                    Some(r) => format!("{outcome} ({r})"),
                    None => outcome,
                };
                vec![
                    a.task_key.clone(),
                    a.number.to_string(),
                    match (&a.job_id, &a.node) {
                        (Some(job), Some(node)) => format!("job {job} on {node}"),
                        (Some(job), None) => format!("job {job}"),
                        _ => format!("{}:{}", a.host, a.pid.map_or("-".into(), |p| p.to_string())),
                    },
                    a.started_at.clone(),
                    a.ended_at.clone().unwrap_or_else(|| "-".into()),
                    exit,
                    a.max_rss_kb
                        .map_or("-".into(), |k| format!("{}M", k / 1024)),
                    outcome,
                    label.clone(),
                    a.stderr_path.clone(),
                ]
            })
            .collect();
        table(
            &[
                "KEY", "ATTEMPT", "WHERE", "STARTED", "ENDED", "EXIT", "MAXRSS", "OUTCOME",
                "LABEL", "STDERR",
            ],
            &rows,
        );
        return Ok(0);
    }
    if args.json {
        print_json(&tasks)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                t.key.clone(),
                t.state.as_str().to_string(),
                t.attempts.to_string(),
                t.label.clone(),
                t.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["KEY", "STATE", "ATTEMPTS", "LABEL", "REASON"], &rows);
    Ok(0)
}
