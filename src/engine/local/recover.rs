//! Start-up recovery: before a runner dispatches anything, whatever an earlier runner left
//! "running" is stopped and recorded as interrupted (the pueue rule), explicitly, with the
//! metrics its attempts wrote, even after their runner died (issue 9).

use crate::exec::leftovers;
use crate::protocol::{read_metrics, AttemptFiles};
use crate::store::{Change, Store, StoreError};
use std::collections::HashMap;
use std::time::Duration;

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Attempts that were recorded as running and are now interrupted.
    pub interrupted: usize,
    /// Processes of this run still alive on this host, left by a runner that died.
    pub orphans_stopped: usize,
}

/// Stops leftover processes of `run` and marks its unfinished attempts interrupted, with the
/// metric lines each wrote (an attempt may have gone on writing them after its runner died).
/// Must be called with the run lock held.
pub fn recover(store: &mut Store, run: &str, grace: Duration) -> Result<Recovery, StoreError> {
    let pause = |d| {
        std::thread::sleep(d);
        false
    };
    let orphans_stopped = leftovers::stop_orphans(store.dir(), run, grace, pause).len();
    // Read once the orphans are stopped: what they wrote on SIGTERM counts too.
    let folders = store.folders(run)?;
    let mut metrics: HashMap<(String, u32), Vec<String>> = HashMap::new();
    let mut notes = Vec::new();
    for a in store.open_attempts(run)? {
        let files = AttemptFiles::new(&folders.attempt_prefix(&a.key), a.number);
        let read = read_metrics(&files.metrics);
        if let Some(warning) = read.warning(&files.metrics) {
            notes.push(Change::TaskNote {
                key: a.key.clone(),
                kind: "task_output_skipped".into(),
                detail: warning,
            });
        }
        metrics.insert((a.key, a.number), read.records);
    }
    let reason = "the runner stopped before the attempt ended";
    let open = store.interrupt_running(run, reason, &metrics)?;
    if orphans_stopped > 0 {
        notes.push(Change::Note {
            kind: "orphans_stopped".into(),
            detail: format!("{orphans_stopped} process(es) left by an earlier runner"),
        });
    }
    store.apply(run, &notes)?;
    Ok(Recovery {
        interrupted: open.len(),
        orphans_stopped,
    })
}
