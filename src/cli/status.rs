//! `labtrail status`: how far a run is, grouped; `--explain` says why each task runs or not.

use super::output::{print_json, Global, UsageError};
use super::terminal::escape;
use crate::app;
use crate::app::slice::Picked;
use crate::plan::Plan;
use crate::report;
use crate::report::explain::{ExplainRow, Explanation, Subject, Verb, NEVER_RUN};
use crate::report::status::{StatusModel, MAX_GROUP_VALUES};
use crate::report::status_end::Ending;
use crate::spec::Spec;
use crate::store::{Access, Store};
use std::io::Write;
use std::path::PathBuf;

/// Show a run's progress, grouped by stage and parameter.
///
/// Groups: by stage when the experiment has stages, and by the parameter with the fewest values
/// (more than one, at most 20: a seed sweep of 10^5 values is not 10^5 lines) unless --by names
/// others; at most 20 groups are listed, then how many more there are (--json has them all).
///
/// --watch refreshes until the run has come to an end: nothing is running, and either no task
/// is left to run or no runner holds the run (it stopped, or ran a slice that is done). Exit
/// code 0 when every task is done, 1 otherwise (tasks failed, blocked or left not done).
///
/// Examples:
///   labtrail status                      # the latest run
///   labtrail status exp.toml             # the latest run of this experiment
///   labtrail status --by rep --by layers # group by these parameters
///   labtrail status --json | jq .counts
///   labtrail status --watch              # refresh every 2 s until the run ends
///   labtrail status --explain            # why each task will be skipped or run
///   labtrail status --explain exp.toml   # ... against the experiment file as it is now
///   labtrail status --explain exp.toml --set lr=0.1  # ... as `run --set lr=0.1` would change it
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    /// The experiment file: show its latest run, in the store next to it (as `run` finds it).
    /// With --explain: compare that run with the file as it is now.
    pub experiment: Option<PathBuf>,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
    /// Group by this parameter (repeatable).
    #[arg(long, value_name = "PARAM")]
    pub by: Vec<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Refresh every N seconds (default 2) until the run has ended (exit 0: all done; 1: not).
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2", value_parser = watch_secs)]
    pub watch: Option<f64>,
    /// For each task: will it be skipped or run, and why.
    #[arg(long)]
    pub explain: bool,
    /// With --explain FILE: the file as `run --set PARAM=VALUES` would change it (repeatable).
    #[arg(long = "set", value_name = "PARAM=VALUES", requires_all = ["experiment", "explain"])]
    pub set: Vec<String>,
}

pub fn run(g: &Global, args: StatusArgs) -> anyhow::Result<i32> {
    if args.explain {
        return match &args.experiment {
            Some(path) => {
                let spec = super::run::spec_with_sets(path, &args.set)?;
                // The store next to the file, as `run` finds it; none yet: everything would run.
                let Some(store) =
                    app::read::store_to_read(g.store.as_deref(), Some(&spec), Access::ReadOnly)?
                else {
                    let exp = crate::app::Experiment::expand(spec, None)?;
                    return explain_fresh(&exp.spec, &exp.plan, None);
                };
                // Read-only: input digests are not remembered by a status command.
                let mut exp = crate::app::Experiment::expand(spec, Some(&store))?;
                print_buffered(&crate::app::explain::against_run(
                    &store,
                    &mut exp,
                    args.run.as_deref(),
                )?)
            }
            None => {
                let t = g.read_target(None, args.run.as_deref())?;
                // say! line by line, as before the model existed: a write error (a full
                // disk) panics here where the buffered form returns it; kept, so the exit code
                // of that case does not change.
                let e = report::explain::stored(&t.store, Some(&t.run))?;
                say!("{}", heading(&e.subject));
                for line in e.rows.iter().map(RowLine) {
                    say!("{line}");
                }
                Ok(0)
            }
        };
    }
    let t = g.read_target(args.experiment.as_deref(), args.run.as_deref())?;
    loop {
        // Before the counts are read: a runner that ends in between is seen on the next turn.
        let held = args.watch.is_some() && t.store.run_lock_is_held(&t.run);
        let m = StatusModel::load(&t.store, Some(&t.run), &args.by)?;
        if let Some(p) = m.unknown_by.first() {
            // A typo grouped nothing, without a word (issue 14, review).
            let known = match m.parameters.is_empty() {
                true => "none".to_string(),
                false => m.parameters.join(", "),
            };
            return Err(UsageError(format!(
                "--by {}: no task of run {} has the parameter `{}`\n  help: its parameters are: {}",
                escape(p),
                escape(&m.run),
                escape(p),
                escape(&known)
            ))
            .into());
        }
        if args.json {
            print_json(&m)?;
            return Ok(0);
        }
        // Clearing the screen is for a terminal: a log file or a pipe gets the refreshes one
        // after the other, without escape codes (issue 14, review).
        if args.watch.is_some() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            super::output::unless_closed(
                std::io::Write::write_all(&mut std::io::stdout(), b"\x1b[2J\x1b[H"),
                "stdout",
            );
        }
        let (run, all) = (escape(&m.run), &m.counts);
        say!("run {run}: {} ({:.1}%)", all.describe(), all.percent_done());
        if m.has_stages() {
            for (s, c) in &m.stages {
                say!("  stage {:<20} {}", escape(s), c.describe());
            }
        }
        print_groups(&m);
        let Some(secs) = args.watch else {
            return Ok(0);
        };
        if let Some(end) = Ending::of(&m.counts, held) {
            say!("{}", end.describe(&run));
            return Ok(end.exit_code());
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.2)));
    }
}

/// The longest `--watch` interval: a day.
const MAX_WATCH_SECS: f64 = 86_400.0;

/// `--watch SECS`: a number of seconds up to a day. `inf` or `1e30` made the sleep panic, and
/// `nan` meant 0.2 without a word (issue 14, review).
fn watch_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if (0.0..=MAX_WATCH_SECS).contains(&secs) => Ok(secs),
        _ => Err(format!(
            "give the seconds between refreshes, from 0 to {MAX_WATCH_SECS} (below 0.2 counts as 0.2), e.g. --watch 5"
        )),
    }
}

/// Groups listed before `… and K more groups`.
const GROUPS_SHOWN: usize = 20;

/// The group lines: at most [`GROUPS_SHOWN`], aligned.
fn print_groups(m: &StatusModel) {
    let groups: Vec<_> = m
        .groups
        .iter()
        .take(GROUPS_SHOWN)
        .map(|(k, c)| (escape(k), c))
        .collect();
    let width = groups
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    for (k, c) in &groups {
        say!("  {k:<width$}  {}", c.describe());
    }
    if m.groups.len() > GROUPS_SHOWN {
        let more = m.groups.len() - GROUPS_SHOWN;
        say!("  … and {more} more groups (`--json` lists them all)");
    }
    if m.group_by.is_empty() && !m.too_many_values.is_empty() {
        let names = m.too_many_values.join(", ");
        say!(
            "  (not grouped by {}: more than {MAX_GROUP_VALUES} values; --by PARAM groups by one)",
            escape(&names)
        );
    }
}

/// The first line of an explanation: what it is about.
fn heading(subject: &Subject) -> String {
    match subject {
        Subject::Stored { run } => format!("run {}:", escape(run)),
        Subject::Fresh { experiment, tasks } => {
            let experiment = escape(experiment);
            format!("no run of experiment `{experiment}` yet: all {tasks} tasks would run")
        }
        Subject::Compared {
            run,
            spec_path,
            own_keys,
        } => {
            let path = spec_path.display().to_string();
            let note = match own_keys {
                true => "\n(made before labtrail 0.4: in this run a change upstream does not rerun the tasks downstream; `run --fresh` starts a run that tracks lineage)",
                false => "",
            };
            format!(
                "run {}, compared with {}:{note}",
                escape(run),
                escape(&path)
            )
        }
    }
}

/// One task's line: verb, key, label, why (values escaped: one task, one line). Written where
/// it goes, no `String` made: a dry run of a million tasks prints a million (issue 15).
struct RowLine<'a>(&'a ExplainRow);

impl std::fmt::Display for RowLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0;
        row_pieces(r.verb, &r.key, &r.label, &r.why, |s| f.write_str(s))
    }
}

/// Hands a task's line to `put` piece by piece (without its line break): `  run   KEY  LABEL
/// WHY`, the verb padded to 4 columns, the values escaped. No formatting machinery: a dry run
/// of a million tasks writes a million lines (issue 15).
fn row_pieces<E>(
    verb: Verb,
    key: &str,
    label: &str,
    why: &str,
    mut put: impl FnMut(&str) -> Result<(), E>,
) -> Result<(), E> {
    let verb = verb.as_str();
    put("  ")?;
    put(verb)?;
    put(&"    "[verb.len().min(4)..])?;
    put("  ")?;
    put(&escape(key))?;
    put("  ")?;
    put(&escape(label))?;
    put("  ")?;
    put(&escape(why))
}

/// Writes a task's line and its line break to `out` (see [`row_pieces`]).
fn write_row(
    out: &mut impl Write,
    verb: Verb,
    key: &str,
    label: &str,
    why: &str,
) -> std::io::Result<()> {
    row_pieces(verb, key, label, why, |s| out.write_all(s.as_bytes()))?;
    out.write_all(b"\n")
}

/// Prints an explanation through one buffer. A write error is returned rather than a panic:
/// `run --dry-run` keeps SIGPIPE ignored, so a closed pipe ends it with an error message.
fn print_buffered(e: &Explanation) -> anyhow::Result<i32> {
    print_rows(&heading(&e.subject), e.rows.iter())
}

/// Prints the rows of `rows` (one per task of `plan`, in plan order) that are in the slice
/// `picked` makes of it: a task the explanation skips is done.
fn print_sliced(
    heading: &str,
    plan: &Plan,
    rows: Vec<ExplainRow>,
    picked: &Picked,
) -> anyhow::Result<i32> {
    let slice = picked.slice(plan, |i| rows[i].verb == report::explain::Verb::Skip);
    let heading = format!(
        "{heading}
{}",
        slice.describe()
    );
    let inside = rows
        .into_iter()
        .zip(&slice.within)
        .filter_map(|(r, &inside)| inside.then_some(r));
    print_rows(&heading, inside)
}

fn print_rows<R: std::borrow::Borrow<ExplainRow>>(
    heading: &str,
    rows: impl Iterator<Item = R>,
) -> anyhow::Result<i32> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    writeln!(out, "{heading}")?;
    for r in rows {
        let r = r.borrow();
        write_row(&mut out, r.verb, &r.key, &r.label, &r.why)?;
    }
    out.flush()?;
    Ok(0)
}

/// Prints [`report::explain::fresh_rows`] of `plan` without making them: every task would run,
/// never run. Each label is written into one reused `String` (issue 15: a dry run of a million
/// tasks made three `String`s per line).
fn print_fresh(heading: &str, spec: &Spec, plan: &Plan) -> anyhow::Result<i32> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    writeln!(out, "{heading}")?;
    let mut label = String::new();
    for (i, t) in plan.tasks.iter().enumerate() {
        plan.label_into(i, spec, &mut label);
        write_row(&mut out, Verb::Run, &t.key, &label, NEVER_RUN)?;
    }
    out.flush()?;
    Ok(0)
}

/// Explains a plan that has no run yet: every task would run, or every task of the slice
/// `picked` makes of it. (`run --dry-run` calls this.)
pub fn explain_fresh(spec: &Spec, plan: &Plan, picked: Option<&Picked>) -> anyhow::Result<i32> {
    use report::explain::{fresh_rows, fresh_subject};
    let heading = heading(&fresh_subject(spec, plan));
    match picked {
        Some(p) => print_sliced(&heading, plan, fresh_rows(spec, plan).collect(), p),
        None => print_fresh(&heading, spec, plan),
    }
}

/// Explains a plan that `run --fresh` or `run --id NEW` would start a new run with, `id` if it
/// is named: every task would run, whatever runs the store has. (`run --dry-run` calls this.)
pub fn explain_new_run(
    spec: &Spec,
    plan: &Plan,
    id: Option<&str>,
    picked: Option<&Picked>,
) -> anyhow::Result<i32> {
    let named = id.map(|id| format!(" {}", escape(id))).unwrap_or_default();
    let tasks = plan.tasks.len();
    let heading = format!(
        "a new run{named} of experiment `{}`: all {tasks} tasks would run",
        escape(&spec.name)
    );
    match picked {
        Some(p) => print_sliced(
            &heading,
            plan,
            report::explain::fresh_rows(spec, plan).collect(),
            p,
        ),
        None => print_fresh(&heading, spec, plan),
    }
}

/// Explains, for each task of `plan`, what `labtrail run` would do with it and why.
/// (`run --dry-run` calls this.)
pub fn explain(
    store: &Store,
    exp: &mut crate::app::Experiment,
    run: Option<&str>,
    picked: Option<&Picked>,
) -> anyhow::Result<i32> {
    let e = crate::app::explain::against_run(store, exp, run)?;
    match picked {
        Some(p) => print_sliced(&heading(&e.subject), &exp.plan, e.rows, p),
        None => print_buffered(&e),
    }
}
