//! Command-line interface: one file per subcommand, each thin over the library.

// What the CLI prints goes through these two, never `println!`/`eprintln!`, which panic (exit
// 101) when the reader went away: `labtrail run exp.toml 2>&1 | head -1` must leave the run
// running, recording, and exiting with its own code (issue 9). Listings end quietly before that,
// on SIGPIPE (see main.rs). Any other write error (a full disk) is remembered and ends the
// binary with exit code 3 once the command is done (`output_failure`).

/// `println!` that ignores a closed stdout (EPIPE).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::unless_closed(
            std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!("{}\n", format_args!($($arg)*))),
            "stdout",
        )
    };
}

/// `eprintln!` that ignores a closed stderr (EPIPE).
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::cli::output::unless_closed(
            std::io::Write::write_fmt(&mut std::io::stderr().lock(), format_args!("{}\n", format_args!($($arg)*))),
            "stderr",
        )
    };
}

mod archive;
mod check;
mod diff;
mod events;
mod list;
mod logs;
mod metrics;
mod monitor;
mod output;
mod reset;
mod results;
mod run;
mod run_dry;
mod run_slice;
mod snapshot;
mod snapshots;
mod snapshots_print;
mod snapshots_prune;
mod status;
mod tasks;
pub mod terminal;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use output::{exit_code_for, output_failure, UsageError};

pub(crate) const EXIT_CODES: &str = "Exit codes:
  0    success (for `run`: every task is done)
  1    some tasks failed or are blocked (rerun the same command to retry them)
  2    bad input: a command-line error or an invalid experiment file
  3    store problem: damaged database, newer schema, full disk, failed `check`
  4    the run is locked by another live runner, or another host's runner left it running there
  5    internal or system error (no thread, pipe or /dev/null; a bug); the same command resumes
  129  stopped by SIGHUP, 130 by SIGINT (Ctrl+C), 143 by SIGTERM; running tasks are recorded as interrupted";

/// `0.11.0 (commit 0123456789ab)`: the version and the commit built from (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BUILT_FROM_COMMIT"),
    ")"
);

/// Crash-proof, resumable experiment grids.
///
/// labtrail runs a grid of commands described in a TOML experiment file, checkpoints every
/// finished task in a SQLite store (`.labtrail/` next to the file), and resumes exactly where it
/// stopped when you run the same command again.
#[derive(Debug, Parser)]
#[command(name = "labtrail", version = VERSION, after_help = EXIT_CODES, after_long_help = EXIT_CODES)]
pub struct Cli {
    /// The store folder (default: `.labtrail` next to the experiment file for `run`; otherwise
    /// the nearest `.labtrail` in this folder or above, like git finds `.git`).
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,

    /// Print one line per event instead of a progress bar (the default when not on a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// Print only warnings and the final summary.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Run(run::RunArgs),
    Status(status::StatusArgs),
    List(list::ListArgs),
    Tasks(tasks::TasksArgs),
    Logs(logs::LogsArgs),
    Results(results::ResultsArgs),
    Reset(reset::ResetArgs),
    Check(check::CheckArgs),
    Events(events::EventsArgs),
    Monitor(monitor::MonitorArgs),
    Metrics(metrics::MetricsArgs),
    Diff(diff::DiffArgs),
    Archive(archive::ArchiveArgs),
    Snapshot(snapshot::SnapshotArgs),
    Snapshots(snapshots::SnapshotsArgs),
    /// Print a shell completion script.
    ///
    /// Example: `labtrail completions bash > ~/.local/share/bash-completion/completions/labtrail`
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

impl Command {
    /// Whether the command only prints (and may end quietly on a closed pipe).
    pub fn is_listing(&self) -> bool {
        !matches!(
            self,
            Command::Run(_)
                | Command::Monitor(_)
                | Command::Reset(_)
                | Command::Check(_)
                | Command::Snapshot(_)
        )
    }
}

/// Runs the parsed command line; returns the process exit code.
pub fn main(cli: Cli) -> anyhow::Result<i32> {
    let g = output::Global::from(&cli);
    if let Err(value) = crate::store::filesystem::check_env() {
        let name = crate::store::filesystem::STORE_FS_ENV;
        return Err(UsageError(format!(
            "{name} is set to `{}`, which is not a value labtrail knows\n  help: set {name}=network (the store is on a filesystem other hosts share: rollback journal) or {name}=local (a disk of this host only: WAL), or unset it to detect the filesystem",
            terminal::escape(&value)
        ))
        .into());
    }
    match cli.command {
        Command::Run(a) => run::run(&g, a),
        Command::Status(a) => status::run(&g, a),
        Command::List(a) => list::run(&g, a),
        Command::Tasks(a) => tasks::run(&g, a),
        Command::Logs(a) => logs::run(&g, a),
        Command::Results(a) => results::run(&g, a),
        Command::Reset(a) => reset::run(&g, a),
        Command::Check(a) => check::run(&g, a),
        Command::Events(a) => events::run(&g, a),
        Command::Monitor(a) => monitor::run(&g, a),
        Command::Metrics(a) => metrics::run(&g, a),
        Command::Diff(a) => diff::run(&g, a),
        Command::Archive(a) => archive::run(&g, a),
        Command::Snapshot(a) => snapshot::run(&g, a),
        Command::Snapshots(a) => snapshots::run(&g, a),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "labtrail",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    }
}
