//! `labtrail events`: the append-only log of every state change of a run.

use super::output::Global;
use super::terminal::escape;
use crate::report::events::EventLog;
use crate::store::{EventRow, StoreError};
use std::path::PathBuf;

/// Show a run's event log: every start, end, retry, block, reset and stop, in order.
///
/// Examples:
///   labtrail events
///   labtrail events exp.toml      # the latest run of this experiment
///   labtrail events --json | jq -c 'select(.kind == "finished")'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct EventsArgs {
    /// The experiment file: read its latest run, in the store next to it.
    pub experiment: Option<PathBuf>,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, args: EventsArgs) -> anyhow::Result<i32> {
    let t = g.read_target(args.experiment.as_deref(), args.run.as_deref())?;
    let log = EventLog::load(&t.store, Some(&t.run))?;
    if args.json {
        print_json_stream(&log)?;
    } else {
        print_table(&log)?;
    }
    Ok(0)
}

/// The cells of one event's line, escaped as [`super::output::table`] escapes them.
fn cells(e: &EventRow) -> [String; 4] {
    [
        escape(&e.at).into_owned(),
        escape(&e.kind).into_owned(),
        escape(e.task_key.as_deref().unwrap_or("-")).into_owned(),
        escape(e.detail.as_deref().unwrap_or_default()).into_owned(),
    ]
}

/// The same aligned table [`super::output::table`] prints, in two passes over the log (the
/// column widths, then the lines) instead of holding every row.
fn print_table(log: &EventLog) -> anyhow::Result<()> {
    const HEADER: [&str; 4] = ["AT", "EVENT", "TASK", "DETAIL"];
    let mut widths = HEADER.map(|h| h.chars().count());
    log.each::<StoreError>(|e| {
        for (w, c) in widths.iter_mut().zip(cells(&e)) {
            *w = (*w).max(c.chars().count());
        }
        Ok(())
    })?;
    let line = |cells: [&str; 4]| {
        let [at, kind, task, detail] = cells;
        let text = format!(
            "{at:<a$}  {kind:<b$}  {task:<c$}  {detail}",
            a = widths[0],
            b = widths[1],
            c = widths[2]
        );
        say!("{}", text.trim_end());
    };
    line(HEADER);
    log.each::<StoreError>(|e| {
        let [at, kind, task, detail] = cells(&e);
        line([&at, &kind, &task, &detail]);
        Ok(())
    })?;
    Ok(())
}

/// The JSON array [`super::output::print_json`] prints (pretty, two-space indent), an element at
/// a time: each is printed when the next one shows whether it takes a comma.
fn print_json_stream(log: &EventLog) -> anyhow::Result<()> {
    let mut pending: Option<String> = None;
    log.each::<anyhow::Error>(|e| {
        let element = serde_json::to_string_pretty(&e)?.replace('\n', "\n  ");
        match pending.replace(element) {
            None => say!("["),
            Some(before) => say!("  {before},"),
        }
        Ok(())
    })?;
    match pending {
        None => say!("[]"),
        Some(last) => {
            say!("  {last}");
            say!("]");
        }
    }
    Ok(())
}
