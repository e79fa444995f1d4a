//! `labtrail tasks`: the tasks of a run, and the attempt history of one task.

use super::output::{is_experiment_file, print_json, table, Global, UsageError, Widths};
use super::terminal::escape_lines;
use crate::report;
use crate::report::results::json::PrettyArray;
use crate::report::tasks::TaskSelection;
use crate::report::QueryError;
use crate::store::{Store, StoreError, TaskRow, TaskSet, TaskState};
use std::io::IsTerminal;
use std::io::Write;
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
    if args.task.is_none() && !args.attempts {
        return print_all(&store, &t.run, args.state.as_deref(), args.json);
    }
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
/// Why a streamed listing stopped.
enum Stop {
    Store(StoreError),
    Write(std::io::Error),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

/// `labtrail tasks [--state S] [--json]`: every task of the run, written as it is read (issue
/// 15): JSON in one pass, the aligned table in two over one snapshot (the widths, then the
/// lines), so that 10^6 tasks hold one row in memory. Prints what the selection printed.
fn print_all(store: &Store, run: &str, state: Option<&str>, json: bool) -> anyhow::Result<i32> {
    let state = match state {
        Some(s) => Some(TaskState::parse(s).ok_or_else(|| QueryError::UnknownState(s.into()))?),
        None => None,
    };
    // A running task of a gone runner is shown interrupted: `--state interrupted` reads them too.
    let stored = TaskSet::InPlan(state.filter(|s| *s != TaskState::Interrupted));
    let read = |gone: bool| {
        let each = |each: &mut dyn FnMut(TaskRow) -> Result<(), Stop>| {
            store.each_task(run, stored, |mut t| {
                report::runner::task_as_seen(&mut t, gone);
                match state.is_none_or(|s| t.state == s) {
                    true => each(t),
                    false => Ok(()),
                }
            })
        };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        if json {
            let mut array = PrettyArray::new(&mut out);
            each(&mut |t| array.item(&t).map_err(Stop::Write))?;
            array.end().map_err(Stop::Write)?;
            return out.flush().map_err(Stop::Write);
        }
        let errors = TaskSelection::all_error_lines(store, run)?;
        let cells = |t: &TaskRow| {
            let reason = t.reason.clone().unwrap_or_default();
            let reason = match errors.get(&t.key).filter(|_| t.state == TaskState::Failed) {
                Some(line) => format!("{reason}: {line}"),
                None => reason,
            };
            [
                t.key.clone(),
                t.state.as_str().to_string(),
                t.attempts.to_string(),
                t.label.clone(),
                reason,
            ]
        };
        let header = ["KEY", "STATE", "ATTEMPTS", "LABEL", "REASON"];
        let mut widths = Widths::of(&header);
        each(&mut |t| {
            widths.fit(&cells(&t));
            Ok(())
        })?;
        let mut line = |text: String| writeln!(out, "{text}").map_err(Stop::Write);
        line(widths.line(&header))?;
        each(&mut |t| line(widths.line(&cells(&t))))?;
        out.flush().map_err(Stop::Write)
    };
    match report::runner::read_snapshot_with_runner(store, run, read) {
        Ok(()) => Ok(0),
        Err(Stop::Store(e)) => Err(e.into()),
        // As `say!` has it: a reader gone is no error, another failure the exit code says.
        Err(Stop::Write(e)) => {
            super::output::unless_closed(Err(e), "stdout");
            Ok(0)
        }
    }
}

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
