//! Shared pieces of the subcommands: global options, opening the store, exit codes, tables.

use super::terminal::escape;
use crate::app::read::ReadTarget;
use crate::engine::local::gpus::DeviceError;
use crate::engine::local::RunError;
use crate::report::QueryError;
use crate::spec::{Spec, SpecError};
use crate::store::{Access, Store, StoreError};
use std::path::{Path, PathBuf};

/// Options every subcommand sees.
pub struct Global {
    pub store: Option<PathBuf>,
    pub progress: bool,
    pub quiet: bool,
}

impl From<&super::Cli> for Global {
    fn from(cli: &super::Cli) -> Global {
        Global {
            store: cli.store.clone(),
            progress: !cli.no_progress && crate::progress::can_draw(),
            quiet: cli.quiet,
        }
    }
}

impl Global {
    /// Opens the store given by `--store`, or the nearest one above the current folder, to read
    /// only: reading commands never write (and so work where the store cannot be written).
    pub fn open_store(&self) -> Result<Store, StoreError> {
        self.open_store_as(Access::ReadOnly)
    }

    /// Opens the store as [`Global::open_store`] finds it, to read and write.
    pub fn open_store_for_writing(&self) -> Result<Store, StoreError> {
        self.open_store_as(Access::ReadWrite { create: false })
    }

    fn open_store_as(&self, access: Access) -> Result<Store, StoreError> {
        let dir = match &self.store {
            Some(d) => d.clone(),
            None => Store::discover(
                &std::env::current_dir().map_err(|e| StoreError::io(&PathBuf::from("."), e))?,
            )?,
        };
        Store::open_with(&dir, access)
    }
}

impl Global {
    /// The run a reading command reads: `--run`, else the latest run of `experiment` (in the
    /// store next to it, as `run` finds it), else the store's latest run. When that last pick may
    /// not be the one meant (runs of several experiments), says which on stderr.
    pub fn read_target(
        &self,
        experiment: Option<&Path>,
        run: Option<&str>,
    ) -> anyhow::Result<ReadTarget> {
        self.target(experiment, run, Access::ReadOnly)
    }

    /// As [`Global::read_target`], with the store open to write (`reset`).
    pub fn write_target(
        &self,
        experiment: Option<&Path>,
        run: Option<&str>,
    ) -> anyhow::Result<ReadTarget> {
        self.target(experiment, run, Access::ReadWrite { create: false })
    }

    fn target(
        &self,
        experiment: Option<&Path>,
        run: Option<&str>,
        access: Access,
    ) -> anyhow::Result<ReadTarget> {
        let spec = experiment.map(Spec::load).transpose()?;
        let target =
            crate::app::read::read_target(self.store.as_deref(), spec.as_ref(), run, access)?;
        if let (Some(note), false) = (&target.note, self.quiet) {
            tell!("{}", escape(note));
        }
        Ok(target)
    }
}

/// Whether a positional argument names an experiment file rather than a task: it ends in
/// `.toml` and has no `=` (a task's label or filter has one; a key is hex).
pub fn is_experiment_file(arg: &str) -> bool {
    arg.ends_with(".toml") && !arg.contains('=')
}

/// Splits positional arguments into task queries and at most one experiment file.
pub fn split_experiment(args: Vec<String>) -> Result<(Vec<String>, Option<PathBuf>), UsageError> {
    let (files, tasks): (Vec<String>, Vec<String>) =
        args.into_iter().partition(|a| is_experiment_file(a));
    match files.as_slice() {
        [] => Ok((tasks, None)),
        [one] => Ok((tasks, Some(PathBuf::from(one)))),
        [a, b, ..] => Err(UsageError(format!(
            "two experiment files given ({a}, {b}): name one"
        ))),
    }
}

pub use crate::app::UsageError;

/// Exit code of an error that is neither bad input nor a store problem: the system refused a
/// resource, or a bug. Never 1, which says that tasks failed.
pub const EXIT_INTERNAL: i32 = 5;

/// Maps an error to the documented exit code (the table in `labtrail --help` and the README).
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    // Devices that cannot be handed out are a setting to correct, like the file's.
    if err.downcast_ref::<SpecError>().is_some()
        || err.downcast_ref::<UsageError>().is_some()
        || err.downcast_ref::<DeviceError>().is_some()
    {
        return 2;
    }
    let store_error = err
        .downcast_ref::<StoreError>()
        .or_else(|| match err.downcast_ref::<RunError>() {
            Some(RunError::Store(e)) => Some(e),
            _ => None,
        })
        .or_else(|| match err.downcast_ref::<QueryError>() {
            Some(QueryError::Store(e)) => Some(e),
            _ => None,
        });
    if let Some(e) = store_error {
        return store_exit_code(e);
    }
    if err
        .downcast_ref::<crate::app::local::RunningElsewhere>()
        .is_some()
    {
        // Like a run locked by a live runner: another runner's work may still be going on.
        return 4;
    }
    match err.downcast_ref::<QueryError>() {
        // An unknown state, an ambiguous task, a missing attempt: the asker's mistake.
        Some(_) => 2,
        None => EXIT_INTERNAL,
    }
}

/// The exit code of a store error: naming what is not there is bad input, not a store problem.
fn store_exit_code(err: &StoreError) -> i32 {
    match err {
        StoreError::Locked { .. }
        | StoreError::LockedByUnknown { .. }
        | StoreError::LockedElsewhere { .. }
        | StoreError::RepairRefused { .. }
        | StoreError::RepairUnderway { .. } => 4,
        StoreError::RunNotFound { .. }
        | StoreError::TaskNotFound { .. }
        | StoreError::NoRuns { .. }
        | StoreError::NotFound { .. }
        | StoreError::NotAFolder { .. } => 2,
        // A record that is not JSON is labtrail's own mistake, not the store's.
        StoreError::InvalidRecord { .. } => EXIT_INTERNAL,
        _ => 3,
    }
}

/// Prints rows as aligned columns (the last column is not padded). Every cell is escaped
/// ([`super::terminal::escape`]): cells hold values.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths = Widths::of(header);
    rows.iter().for_each(|r| widths.fit(r));
    say!("{}", widths.line(header));
    for r in rows {
        say!("{}", widths.line(r));
    }
}

/// The column widths of a [`table`], fitted to rows one at a time: a table whose rows are
/// read twice (widths, then lines) holds one row, not all of them (issue 15).
#[derive(Debug, Clone)]
pub struct Widths(Vec<usize>);

impl Widths {
    /// The widths of the header alone.
    pub fn of(header: &[&str]) -> Widths {
        Widths(header.iter().map(|h| h.chars().count()).collect())
    }

    /// Widens the columns to fit `row`'s cells, escaped.
    pub fn fit<S: AsRef<str>>(&mut self, row: &[S]) {
        for (w, c) in self.0.iter_mut().zip(row) {
            *w = (*w).max(escape(c.as_ref()).chars().count());
        }
    }

    /// One line of the table: the cells escaped, padded to the widths but the last, joined by
    /// two spaces, without trailing blanks.
    pub fn line<S: AsRef<str>>(&self, cells: &[S]) -> String {
        let n = cells.len();
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = escape(c.as_ref());
                if i + 1 == n {
                    c.into_owned()
                } else {
                    format!("{c:<w$}", w = self.0[i])
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    }
}

/// What [`say!`] and [`tell!`] do with a write's outcome: a reader gone (EPIPE) is not an
/// error, the output has nowhere to go. Any other failure (a full disk or quota under a log
/// file the output is appended to) is remembered, not a panic: the command goes on (a runner
/// keeps recording its run), and the binary exits 3 at its end, saying so ([`output_failure`]).
pub fn unless_closed(written: std::io::Result<()>, stream: &str) {
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            let _ = OUTPUT_FAILURE.set(format!(
                "could not print to {stream}: {e}; what this command printed is incomplete"
            ));
        }
    }
}

/// The first failure to print (other than a closed reader), if one happened.
static OUTPUT_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Why some output could not be printed (a full disk under the log), if it could not: the
/// binary then ends with exit code 3 instead of success.
pub fn output_failure() -> Option<&'static str> {
    OUTPUT_FAILURE.get().map(String::as_str)
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    say!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn code(e: impl Into<anyhow::Error>) -> i32 {
        exit_code_for(&e.into())
    }

    /// Issue 8: an error that is not a task's failure never exits 1, whatever carries it.
    #[test]
    fn exit_codes_mean_what_the_table_says() {
        let io = || std::io::Error::other("x");
        assert_eq!(code(UsageError("bad".into())), 2);
        assert_eq!(code(StoreError::io(Path::new("/s"), io())), 3);
        let locked = StoreError::Locked {
            run: "r".into(),
            pid: 1,
            host: "h".into(),
            since: "t".into(),
        };
        assert_eq!(code(RunError::Store(locked)), 4);
        assert_eq!(code(RunError::file(Path::new("/s/runs/r"), io())), 3);
        assert_eq!(
            code(RunError::system("a worker thread", io())),
            EXIT_INTERNAL
        );
        assert_eq!(code(RunError::Panicked { thread: "worker" }), EXIT_INTERNAL);
        assert_eq!(code(anyhow::anyhow!("untyped")), EXIT_INTERNAL);
        let wrapped = anyhow::Error::from(StoreError::io(Path::new("/s"), io())).context("while x");
        assert_eq!(exit_code_for(&wrapped), 3, "context keeps the type");
    }

    /// `labtrail --help` and the README list the same exit codes.
    #[test]
    fn help_and_readme_list_the_same_exit_codes() {
        let readme = include_str!("../../README.md");
        let table = &readme[readme.find("## Exit codes").expect("section")..];
        let table = &table[..table.find("\n## ").unwrap_or(table.len())];
        let readme_codes: Vec<&str> = table
            .lines()
            .filter_map(|l| l.strip_prefix("| "))
            .filter_map(|l| l.split(" |").next())
            .filter(|c| c.starts_with(|ch: char| ch.is_ascii_digit()))
            .collect();
        let help_codes: Vec<&str> = super::super::EXIT_CODES
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(
            readme_codes,
            ["0", "1", "2", "3", "4", "5", "129 / 130 / 143"]
        );
        assert_eq!(help_codes, ["0", "1", "2", "3", "4", "5", "129"]);
        let signals = super::super::EXIT_CODES.lines().last().unwrap_or_default();
        assert!(
            signals.contains("130 by SIGINT") && signals.contains("143 by SIGTERM"),
            "{signals}"
        );
    }
}
