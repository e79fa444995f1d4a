//! `labtrail logs`: a task's output, per attempt, optionally followed live.

use super::output::{is_experiment_file, Global};
use super::terminal::escape;
use crate::report::logs::{Body, LogSelection, Tail};
use crate::report::QueryError;
use std::io::Write;
use std::path::PathBuf;

/// Print a task's stdout and stderr (the latest attempt unless --attempt).
///
/// For an attempt that failed (or timed out, was killed, ...), the end of its stderr comes
/// first, where the error is: its last 20 lines under a header saying how the attempt ended,
/// then stdout, then the whole stderr (a stderr of 20 lines or fewer comes whole, before
/// stdout). Otherwise stdout, then stderr. Each part under a `==> FILE <==` line; a part the
/// attempt wrote nothing to reads `(no output)`: labtrail keeps no empty log.
///
/// TASK must name one task: a filter that matches several is refused with the list of them
/// (exit 2). (The examples name tasks of the demo, examples/demo/experiment.toml.)
///
/// Examples:
///   labtrail logs prepare/layers=all_layers
///   labtrail logs rep=spectral,layers=visual_only,seed=2 --attempt 1 --stdout
///   labtrail logs train/layers=all_layers,rep=spectral,seed=1 --follow  # like tail -f
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct LogsArgs {
    /// The task: label, key or prefix, or a filter like `rep=stats` (a stage name or
    /// `stage=NAME` names one task only when the stage has one).
    pub task: String,
    /// The experiment file: read its latest run, in the store next to it.
    pub experiment: Option<PathBuf>,
    /// Which attempt (default: the latest).
    #[arg(long)]
    pub attempt: Option<u32>,
    /// Only stdout.
    #[arg(long, conflicts_with = "stderr")]
    pub stdout: bool,
    /// Only stderr.
    #[arg(long)]
    pub stderr: bool,
    /// Keep printing new output until the attempt ends (stdout and stderr as they grow; an
    /// attempt that has ended is shown as without --follow).
    #[arg(long, short)]
    pub follow: bool,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
}

pub fn run(g: &Global, args: LogsArgs) -> anyhow::Result<i32> {
    let (task, experiment) = match args.experiment {
        // `labtrail logs exp.toml TASK`: the file first.
        Some(e) if is_experiment_file(&args.task) => {
            (e.display().to_string(), Some(PathBuf::from(&args.task)))
        }
        e => (args.task.clone(), e),
    };
    let t = g.read_target(experiment.as_deref(), args.run.as_deref())?;
    let store = t.store;
    let chosen = match LogSelection::load(&store, Some(&t.run), &task, args.attempt) {
        Err(QueryError::Ambiguous { query, matches }) => return Ok(ask_for_one(&query, &matches)),
        chosen => chosen?,
    };
    let mut out = std::io::stdout().lock();
    // An attempt that has ended writes nothing more: following it is showing it.
    if !args.follow || chosen.has_ended(&store)? {
        let sections = chosen.sections(args.stdout, args.stderr);
        let mut open_line = false;
        for s in &sections {
            if sections.len() > 1 {
                // A part whose last line has no newline does not swallow the next header.
                if open_line {
                    writeln!(out)?;
                }
                writeln!(out, "==> {} <==", escape(&s.header))?;
            }
            let bytes = match &s.body {
                Body::Lines(bytes) => bytes.clone(),
                Body::File(p) => match std::fs::read(p) {
                    Ok(bytes) if !bytes.is_empty() => bytes,
                    // The attempt wrote nothing there (labtrail keeps no empty log, issue 15).
                    Ok(_) => no_output(sections.len(), p)?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        no_output(sections.len(), p)?
                    }
                    Err(e) => format!("(cannot read {}: {e})\n", escape(p)).into_bytes(),
                },
            };
            out.write_all(&bytes)?;
            open_line = bytes.last().is_some_and(|&b| b != b'\n');
        }
        return Ok(0);
    }
    let mut tail = Tail::new(chosen.paths(args.stdout, args.stderr));
    loop {
        // Asked before copying: what the files hold once the attempt has ended is complete.
        let ended = chosen.has_ended(&store)?;
        tail.copy_new(&mut out)?;
        out.flush()?;
        if ended {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// What stands for a log its attempt wrote nothing to: `(no output)` under its header; shown
/// alone (`--stdout`, `--stderr`), nothing, and the note on stderr, so that a file the output
/// is redirected to holds only what the task wrote.
fn no_output(sections: usize, path: &str) -> std::io::Result<Vec<u8>> {
    if sections > 1 {
        return Ok(NO_OUTPUT.as_bytes().to_vec());
    }
    writeln!(std::io::stderr(), "labtrail: no output: {}", escape(path))?;
    Ok(Vec::new())
}

/// The body shown for a log the attempt wrote nothing to.
pub const NO_OUTPUT: &str = "(no output)\n";

/// An ambiguous TASK: says so and lists every match (escaped, one per line) on stderr, so that
/// the asker picks one; exit code 2, as for other bad input.
pub(super) fn ask_for_one(query: &str, matches: &[(String, String)]) -> i32 {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "error: `{}` matches {} tasks; name one of them by key or label:",
        escape(query),
        matches.len()
    );
    for (key, label) in matches {
        let _ = writeln!(err, "  {}  {}", escape(key), escape(label));
    }
    2
}
