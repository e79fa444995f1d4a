//! What a SLURM job used, recorded with its attempt when sacct tells how it ended (issue 11): peak
//! memory and CPU times on the attempt, as a local attempt has them; the elapsed time, the total
//! CPU time and the allocation (AllocTRES, GPUs included) in a `slurm_resources` record of the
//! task. From the sacct call that settles jobs that left the queue: no extra scheduler call.

use super::poll::Batch;
use super::Monitor;
use crate::exec::slurm::AcctEntry;
use crate::store::{Change, TrackedJob};

/// The kind of the record that holds what a SLURM attempt used beyond the attempt's columns.
pub const RESOURCES_RECORD: &str = "slurm_resources";

impl Monitor<'_> {
    /// Adds what `a` (sacct's view of `t`'s job) says it used to the end of `t`'s attempt that
    /// this poll wrote, and records the rest. Nothing when accounting gathered nothing.
    pub(super) fn record_resources(&self, t: &TrackedJob, a: &AcctEntry, b: &mut Batch) {
        let r = &a.resources;
        if r.is_empty() {
            return;
        }
        let secs = |ms: Option<u64>| ms.map(|ms| ms as f64 / 1000.0);
        let end = b.changes.iter_mut().rev().find_map(|c| match c {
            Change::Finished {
                key,
                attempt,
                max_rss_kb,
                user_cpu_s,
                sys_cpu_s,
                ..
            } if *key == t.key && *attempt == t.attempt => {
                Some((max_rss_kb, user_cpu_s, sys_cpu_s))
            }
            _ => None,
        });
        let Some((max_rss_kb, user_cpu_s, sys_cpu_s)) = end else {
            return;
        };
        *max_rss_kb = r.max_rss_kb.and_then(|kb| i64::try_from(kb).ok());
        *user_cpu_s = secs(r.user_cpu_ms);
        *sys_cpu_s = secs(r.sys_cpu_ms);
        let json = serde_json::json!({
            "attempt": t.attempt,
            "job_id": a.job_id,
            "max_rss_kb": r.max_rss_kb,
            "total_cpu_s": secs(r.total_cpu_ms),
            "user_cpu_s": secs(r.user_cpu_ms),
            "sys_cpu_s": secs(r.sys_cpu_ms),
            "elapsed_s": r.elapsed_s,
            "alloc_tres": r.alloc_tres,
            "gpus": r.gpus,
        });
        b.changes.push(Change::Record {
            task: Some(t.key.clone()),
            kind: RESOURCES_RECORD.to_string(),
            json: json.to_string(),
        });
        super::task_resources::add_sacct(t, r.max_rss_kb, secs(r.total_cpu_ms), b);
    }
}
