//! Which of squeue's entries are the tracked jobs', matched once per poll.

use super::Map;
use crate::exec::slurm::QueueEntry;
use crate::store::TrackedJob;

/// Each tracked job's entry in squeue's answer (in `tracked`'s order), and squeue's entries no
/// attempt tracks. One lookup per tracked job: at 10^5 jobs a poll, asking a map of ids again
/// for each use cost tens of milliseconds (issue 15). A job id squeue lists twice is tracked
/// in both entries, as a set of the tracked ids would say.
pub(super) fn match_queue<'e, 'q>(
    queue: &'e [QueueEntry<'q>],
    tracked: &[TrackedJob],
) -> (Vec<Option<&'e QueueEntry<'q>>>, Vec<&'e QueueEntry<'q>>) {
    let by_id: Map<&str, usize> = queue
        .iter()
        .enumerate()
        .map(|(i, q)| (q.job_id, i))
        .collect();
    let mut is_tracked = vec![false; queue.len()];
    let matched = tracked
        .iter()
        .map(|t| {
            let i = *by_id.get(t.job_id.as_str())?;
            is_tracked[i] = true;
            Some(&queue[i])
        })
        .collect();
    let untracked = queue
        .iter()
        .enumerate()
        .filter(|&(i, q)| !is_tracked[i] && !is_tracked[by_id[q.job_id]])
        .map(|(_, q)| q)
        .collect();
    (matched, untracked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(key: &str, job_id: &str) -> TrackedJob {
        TrackedJob {
            key: key.into(),
            attempt: 1,
            job_id: job_id.into(),
            scheduler_state: None,
            restarts: 0,
            log_offset: 0,
            err_offset: 0,
            stdout: String::new(),
            stderr: String::new(),
            time_limit_s: None,
            mem_mb: None,
            cancelling: None,
            first_submitted_at: String::new(),
        }
    }

    /// Each tracked job gets its own entry or none; an entry is untracked only when no tracked
    /// job has its id, and a job id listed twice is tracked in both of its entries (a second
    /// entry taken for another job of the task's name would be cancelled).
    #[test]
    fn tracked_jobs_meet_their_entries_once() {
        let entry = |job_id| QueueEntry {
            job_id,
            ..QueueEntry::default()
        };
        let queue = [
            entry("7"),
            entry("8"),
            entry("9"),
            entry("7"),
            entry("10_1"),
        ];
        let jobs = [tracked("a", "9"), tracked("b", "7"), tracked("c", "11")];
        let (matched, untracked) = match_queue(&queue, &jobs);
        let ids: Vec<Option<&str>> = matched.iter().map(|q| q.map(|q| q.job_id)).collect();
        assert_eq!(ids, [Some("9"), Some("7"), None]);
        let ids: Vec<&str> = untracked.iter().map(|q| q.job_id).collect();
        assert_eq!(ids, ["8", "10_1"]);
    }
}
