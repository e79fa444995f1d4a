//! `labtrail check`: verify the store; `--repair` rebuilds a damaged one.

use super::output::Global;
use crate::store::{Store, StoreError};

/// Check the store's integrity: SQLite's full check plus labtrail's own invariants, and that
/// the folders of its runs and done tasks are there.
///
/// With --repair (after labtrail reported a damaged database): moves the damaged database
/// aside and builds a new one from every record that can still be read.
///
/// Examples:
///   labtrail check
///   labtrail check --repair
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    /// Rebuild a damaged database from what can still be read.
    #[arg(long)]
    pub repair: bool,
}

pub fn run(g: &Global, args: CheckArgs) -> anyhow::Result<i32> {
    if args.repair {
        let dir = match &g.store {
            Some(d) => d.clone(),
            None => Store::discover(&std::env::current_dir()?)?,
        };
        let report = Store::repair(&dir)?;
        say!("{}", super::terminal::escape_lines(&report.to_string()));
        return Ok(0);
    }
    let store = g.open_store()?;
    let problems = store.check()?;
    let missing = store.missing_folders()?;
    let runs = store.list_runs()?;
    let tasks: u64 = runs.iter().map(|r| r.total).sum();
    if problems.is_empty() && !missing.is_empty() {
        // The database is sound; what a task deleted is not damage `--repair` could undo.
        for m in &missing {
            say!("problem: {}", super::terminal::escape(&m.to_string()));
        }
        tell!(
            "labtrail: {} folder(s) of the store {} are missing; the database itself is sound",
            missing.len(),
            super::terminal::escape(&store.dir().display().to_string())
        );
        return Ok(3);
    }
    if problems.is_empty() {
        say!(
            "ok: {} — {} run(s), {tasks} task(s) in current plans; integrity and invariants hold",
            super::terminal::escape(&store.db_path().display().to_string()),
            runs.len()
        );
        return Ok(0);
    }
    for p in problems.iter().chain(&missing) {
        say!("problem: {}", super::terminal::escape(&p.to_string()));
    }
    Err(StoreError::Corrupt {
        path: store.db_path().to_path_buf(),
        backup: store.db_path().to_path_buf(),
        detail: format!("{} problem(s) found by `check`", problems.len()),
    }
    .into())
}
