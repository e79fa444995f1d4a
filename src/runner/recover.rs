//! Start-up recovery: before a runner dispatches anything, whatever an earlier runner left
//! "running" is stopped and recorded as interrupted (the pueue rule), explicitly.

use crate::exec::local::{self, AttemptFiles};
use crate::store::{now, Change, Store, StoreError, TaskState};
use std::time::Duration;

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Attempts that were recorded as running and are now interrupted.
    pub interrupted: usize,
    /// Processes of this run still alive on this host, left by a runner that died.
    pub orphans_stopped: usize,
}

/// Stops leftover processes of `run` and marks its unfinished attempts interrupted. Must be
/// called with the run lock held.
pub fn recover(store: &mut Store, run: &str, grace: Duration) -> Result<Recovery, StoreError> {
    let orphans_stopped = local::reap_orphans(store.dir(), run, grace);
    let mut open = store
        .interrupt_running(run, "the runner stopped before the attempt ended")?
        .len();
    open += record_unrecorded_starts(store, run)?;
    if orphans_stopped > 0 {
        store.apply(
            run,
            &[Change::Note {
                kind: "orphans_stopped".into(),
                detail: format!("{orphans_stopped} process(es) left by an earlier runner"),
            }],
        )?;
    }
    Ok(Recovery {
        interrupted: open,
        orphans_stopped,
    })
}

/// Records as interrupted the attempts an earlier runner started but never recorded.
///
/// The runner records a start in the transaction that ends its loop turn, after spawning the
/// process; a runner killed in between leaves an attempt that ran, possibly to its end, with no
/// record, and its number would be given again to the next attempt (whose files then mix with
/// the unrecorded one's). The attempt's folder, created before the spawn, is its trace.
fn record_unrecorded_starts(store: &mut Store, run: &str) -> Result<usize, StoreError> {
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut changes = Vec::new();
    for (key, (state, attempts)) in store.task_states(run)? {
        if state == TaskState::Done || state == TaskState::Running {
            continue;
        }
        let mut number = attempts + 1;
        loop {
            let files = AttemptFiles::new(&store.task_dir(run, &key), number);
            if !files.dir.is_dir() {
                break;
            }
            let t = now();
            changes.push(Change::Started {
                key: key.clone(),
                attempt: number,
                host: host.clone(),
                pid: 0,
                started_at: t.clone(),
                stdout: files.stdout.display().to_string(),
                stderr: files.stderr.display().to_string(),
            });
            changes.push(Change::Finished {
                key: key.clone(),
                attempt: number,
                ended_at: t,
                exit_code: None,
                signal: None,
                outcome: "interrupted".into(),
                reason: Some("the runner stopped right after starting this attempt, before recording it: it may have run, even to its end".into()),
                state: TaskState::Interrupted,
                result: None,
                max_rss_kb: None,
                user_cpu_s: None,
                sys_cpu_s: None,
                metrics: Vec::new(),
            });
            number += 1;
        }
    }
    let n = changes.len() / 2;
    if n > 0 {
        changes.push(Change::Note {
            kind: "unrecorded_starts".into(),
            detail: format!("{n} attempt(s) started by an earlier runner were never recorded; recorded now as interrupted"),
        });
        store.apply(run, &changes)?;
    }
    Ok(n)
}
