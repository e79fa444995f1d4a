//! `labtrail logs`: a task's output, per attempt, optionally followed live.

use super::output::{Global, UsageError};
use std::io::{Read, Seek, SeekFrom, Write};

/// Print a task's stdout and stderr (the latest attempt unless --attempt).
///
/// Examples:
///   labtrail logs rep=spectral
///   labtrail logs 3f2a9c01 --attempt 1 --stderr
///   labtrail logs rep=spectral --follow    # like tail -f, until the attempt ends
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct LogsArgs {
    /// The task: key or prefix, label, or a filter like `rep=stats`.
    pub task: String,
    /// Which attempt (default: the latest).
    #[arg(long)]
    pub attempt: Option<u32>,
    /// Only stdout.
    #[arg(long, conflicts_with = "stderr")]
    pub stdout: bool,
    /// Only stderr.
    #[arg(long)]
    pub stderr: bool,
    /// Keep printing new output until the attempt ends.
    #[arg(long, short)]
    pub follow: bool,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
}

pub fn run(g: &Global, args: LogsArgs) -> anyhow::Result<i32> {
    let store = g.open_store()?;
    let run = store.resolve_run(args.run.as_deref())?;
    let found = store.find_tasks(&run, &args.task)?;
    let task = match found.as_slice() {
        [t] => t.clone(),
        many => {
            return Err(UsageError(format!(
                "`{}` matches {} tasks (e.g. {}, {}); name one by key or label",
                args.task,
                many.len(),
                many[0].label,
                many[1].label
            ))
            .into())
        }
    };
    let attempts = store.attempts(&run, &task.key)?;
    let attempt = match args.attempt {
        Some(n) => attempts.iter().find(|a| a.number == n).ok_or_else(|| {
            UsageError(format!(
                "task {} has no attempt {n} (it has {})",
                task.label,
                attempts.len()
            ))
        })?,
        None => attempts
            .last()
            .ok_or_else(|| UsageError(format!("task {} has not run yet", task.label)))?,
    };
    let mut paths = Vec::new();
    if !args.stderr {
        paths.push(attempt.stdout_path.clone());
    }
    if !args.stdout {
        paths.push(attempt.stderr_path.clone());
    }
    let mut out = std::io::stdout().lock();
    if !args.follow {
        for p in &paths {
            if paths.len() > 1 {
                writeln!(out, "==> {p} <==")?;
            }
            match std::fs::read(p) {
                Ok(bytes) => out.write_all(&bytes)?,
                Err(e) => writeln!(out, "(cannot read {p}: {e})")?,
            }
        }
        return Ok(0);
    }
    let mut offsets = vec![0u64; paths.len()];
    loop {
        let ended = store
            .attempts(&run, &task.key)?
            .iter()
            .find(|a| a.number == attempt.number)
            .is_some_and(|a| a.outcome.is_some());
        for (p, off) in paths.iter().zip(offsets.iter_mut()) {
            if let Ok(mut f) = std::fs::File::open(p) {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                if len < *off {
                    *off = 0; // truncated: start over
                }
                f.seek(SeekFrom::Start(*off))?;
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                *off += buf.len() as u64;
                out.write_all(&buf)?;
            }
        }
        out.flush()?;
        if ended {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}
