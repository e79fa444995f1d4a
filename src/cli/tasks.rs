//! `labtrail tasks`: the tasks of a run, and the attempt history of one task.

use super::output::{is_experiment_file, print_json, table, Global, UsageError};
use super::terminal::escape_lines;
use crate::report::tasks::TaskSelection;
use std::io::IsTerminal;
use std::path::PathBuf;

/// List a run's tasks, or show one task's attempt history.
///
/// TASK is a label, a stage name (every task of the stage), a key (or a prefix of at least 4
/// characters), or filters like `rep=stats,layers=all` (`stage/rep=stats` or
/// `stage=train,rep=stats` with stages); tried in that order, the first that matches wins.
///
/// Examples:
///   labtrail tasks                       # every task of the latest run
///   labtrail tasks --state failed        # only failed tasks
///   labtrail tasks exp.toml              # the latest run of this experiment
///   labtrail tasks rep=stats --attempts  # attempt history: pid, times, exit, outcome, logs
///   labtrail tasks rep=stats,seed=0 --command > t.sh  # edit (python -m pdb …), then: sh t.sh
///   labtrail tasks --json | jq '.[] | select(.state == "done") | .result'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct TasksArgs {
    /// Only tasks matching this label, stage, key or filter.
    pub task: Option<String>,
    /// The experiment file: read its latest run, in the store next to it.
    pub experiment: Option<PathBuf>,
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
    /// Print a shell snippet that runs TASK's latest attempt again by hand: `cd` to its
    /// working directory, `export` of every variable it was given (its worker slot and GPUs
    /// included), then its exact command.
    #[arg(long, conflicts_with_all = ["attempts", "json"])]
    pub command: bool,
}

pub fn run(g: &Global, mut args: TasksArgs) -> anyhow::Result<i32> {
    // `labtrail tasks exp.toml [TASK]`: the experiment file first.
    if args.task.as_deref().is_some_and(is_experiment_file) {
        let file = args.task.take().map(PathBuf::from);
        args.task = args.experiment.take().map(|t| t.display().to_string());
        args.experiment = file;
    }
    let t = g.read_target(args.experiment.as_deref(), args.run.as_deref())?;
    if args.command {
        return print_command(&t, args.task.as_deref(), args.state.as_deref());
    }
    let store = t.store;
    let selection = TaskSelection::load(
        &store,
        Some(&t.run),
        args.task.as_deref(),
        args.state.as_deref(),
    )?;
    if args.attempts {
        let all = selection.attempts(&store)?;
        if args.json {
            print_json(&all)?;
            return Ok(0);
        }
        let rows: Vec<Vec<String>> = all
            .iter()
            .map(|v| {
                let a = &v.attempt;
                vec![
                    a.task_key.clone(),
                    a.number.to_string(),
                    v.place(),
                    a.started_at.clone(),
                    a.ended_at.clone().unwrap_or_else(|| "-".into()),
                    v.exit(),
                    v.max_rss(),
                    v.outcome(),
                    v.label.clone(),
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
        print_json(&selection.tasks)?;
        return Ok(0);
    }
    let errors = selection.error_lines(&store)?;
    let rows: Vec<Vec<String>> = selection
        .tasks
        .iter()
        .map(|t| {
            let reason = t.reason.clone().unwrap_or_default();
            let reason = match errors.get(&t.key) {
                Some(line) => format!("{reason}: {line}"),
                None => reason,
            };
            vec![
                t.key.clone(),
                t.state.as_str().to_string(),
                t.attempts.to_string(),
                t.label.clone(),
                reason,
            ]
        })
        .collect();
    table(&["KEY", "STATE", "ATTEMPTS", "LABEL", "REASON"], &rows);
    Ok(0)
}

/// `--command`: the snippet of the one task `query` names; several matches are refused with
/// their list, as `logs` does.
fn print_command(
    t: &crate::app::read::ReadTarget,
    query: Option<&str>,
    state: Option<&str>,
) -> anyhow::Result<i32> {
    use crate::report::task_command::{snippet, CommandError};
    let Some(query) = query else {
        return Err(UsageError("--command needs TASK: the task to reproduce".into()).into());
    };
    let store = &t.store;
    let selection = TaskSelection::load(store, Some(&t.run), Some(query), state)?;
    let task = match selection.tasks.as_slice() {
        [one] => one,
        [] => return Err(UsageError(format!("no task `{query}` in that state")).into()),
        many => {
            let matches: Vec<(String, String)> = many
                .iter()
                .map(|t| (t.key.clone(), t.label.clone()))
                .collect();
            return Ok(super::logs::ask_for_one(query, &matches));
        }
    };
    let spec = crate::app::slurm::stored_spec(store, &t.run)?;
    let plan = crate::app::select::stored_plan(store, &t.run, &spec)?;
    let text = match snippet(store, &t.run, &spec, &plan, task) {
        Ok(text) => text,
        Err(CommandError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(UsageError(e.to_string()).into()),
    };
    // Exact when piped or redirected (to run it); on a terminal, a value's control characters
    // are shown escaped, never sent raw.
    let shown = escape_lines(&text);
    if shown != text && std::io::stdout().is_terminal() {
        tell!("the snippet holds control characters, shown escaped here: redirect it to a file (> task.sh) to get it exact");
        say!("{}", shown.trim_end_matches('\n'));
    } else {
        say!("{}", text.trim_end_matches('\n'));
    }
    Ok(0)
}
