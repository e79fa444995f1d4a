//! Shared pieces of the subcommands: global options, opening the store, exit codes, tables.

use crate::report::QueryError;
use crate::spec::SpecError;
use crate::store::{Store, StoreError};
use std::io::IsTerminal;
use std::path::PathBuf;

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
            progress: !cli.no_progress && std::io::stderr().is_terminal(),
            quiet: cli.quiet,
        }
    }
}

impl Global {
    /// Opens the store given by `--store`, or the nearest one above the current folder.
    pub fn open_store(&self) -> Result<Store, StoreError> {
        let dir = match &self.store {
            Some(d) => d.clone(),
            None => Store::discover(
                &std::env::current_dir().map_err(|e| StoreError::io(&PathBuf::from("."), e))?,
            )?,
        };
        Store::open(&dir, false)
    }
}

/// A command-line mistake the parser could not catch.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Maps an error to the documented exit code.
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    if err.downcast_ref::<SpecError>().is_some() || err.downcast_ref::<UsageError>().is_some() {
        return 2;
    }
    if let Some(e) = err.downcast_ref::<StoreError>() {
        return store_exit_code(e);
    }
    match err.downcast_ref::<QueryError>() {
        Some(QueryError::Store(e)) => store_exit_code(e),
        // An unknown state, an ambiguous task, a missing attempt: the asker's mistake.
        Some(_) => 2,
        None => 1,
    }
}

/// The exit code of a store error: naming what is not there is bad input, not a store problem.
fn store_exit_code(err: &StoreError) -> i32 {
    match err {
        StoreError::Locked { .. } => 4,
        StoreError::RunNotFound { .. }
        | StoreError::TaskNotFound { .. }
        | StoreError::NoRuns { .. }
        | StoreError::NotFound { .. } => 2,
        _ => 3,
    }
}

/// Prints rows as aligned columns (the last column is not padded).
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let n = cells.len();
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n {
                    c.to_string()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(|s| s.as_str()).collect());
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
