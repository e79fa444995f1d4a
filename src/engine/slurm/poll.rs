//! One poll: observe, reconcile, finalize, decide, submit, commit, report.

use super::known::Known;
use super::matching::match_queue;
use super::task_states::TaskStates;
use super::{Map, Monitor};
use crate::exec::slurm::usage::duration_ms;
use crate::exec::slurm::{is_finished_state, parse_squeue, QueueEntry};
use crate::progress::Reporter;
use crate::protocol::METRICS_FILE;
use crate::store::{Change, JobChange, StoreError, TaskState, TrackedJob};
use std::collections::{HashMap, HashSet};

/// What a poll found.
#[derive(Debug, Default)]
pub struct PollOutcome {
    /// Something changed (a state, an outcome, a submission).
    pub changed: bool,
    /// Nothing is live and nothing more can be submitted.
    pub idle: bool,
    /// A scheduler command failed; nothing was decided about the jobs it would have shown.
    pub scheduler_trouble: Option<String>,
    /// `sbatch` refused a script (it said why): the tasks go again at the next poll.
    pub sbatch_refused: Option<String>,
    /// A stop signal came while submitting: the submissions not yet made were abandoned.
    pub stopped: bool,
}

/// Work collected during a poll, committed in one transaction at its end.
#[derive(Default)]
pub(super) struct Batch<'q> {
    pub jobs: Vec<JobChange>,
    pub changes: Vec<Change>,
    pub lines: Vec<String>,
    /// Tasks to submit again, with the limits the policy chose.
    pub restarts: Vec<(usize, Option<u64>, Option<u64>)>,
    /// Task key -> job id of every job that is live after this poll.
    pub live: Map<String, String>,
    /// Task states and attempt counts as this poll leaves them.
    pub states: TaskStates,
    /// A scheduler command that failed during submission.
    pub trouble: Option<String>,
    /// Why `sbatch` refused a script this poll, for the report (see [`PollOutcome`]).
    pub refused: Option<String>,
    /// Attempts per (task key, outcome), loaded at the poll's first finalization.
    pub outcomes: Option<super::outcomes::OutcomeCounts>,
    /// The attempt opened this poll on a job that supersedes a tracked one, by task key; any
    /// other task's tracked attempt is its last one in the store (see `finalize.rs`). Not a
    /// map of every tracked job: built at each poll, it was 10^5 key clones (issue 15).
    pub superseding: HashMap<String, u32>,
    /// Requeues and resubmissions (see `requeue.rs`, `adopt_named.rs`): what they look up,
    /// asked of the scheduler at most once per poll.
    pub lookups: super::lookups::Lookups<'q>,
    /// Tasks this poll will submit as single jobs (their ids come with their `sbatch`).
    pub planned: HashSet<String>,
    /// When sacct says each attempt settled this poll ended (UTC), by (task key, attempt): an
    /// end found after the fact is dated by the scheduler, not by the monitor's clock.
    pub ended_at: HashMap<(String, u32), String>,
    /// Part of the poll was committed already (with its submission intents).
    pub committed: bool,
    /// A stop signal ended the submissions.
    pub stopped: bool,
    /// Logs of attempts that ended this poll, removed if empty once it is committed (issue 15).
    pub logs_to_tidy: Vec<std::path::PathBuf>,
    /// Tasks whose job this poll cancelled: it may run for up to KillWait (a task saving a
    /// checkpoint on SIGTERM), so its logs and folder are left as they are.
    pub cancelled: HashSet<String>,
    /// Tasks with an untracked job squeue shows COMPLETING under their name: their next job
    /// waits until it is gone (see `leaving.rs`).
    pub leaving: HashSet<String>,
    /// Tasks ready to go that wait for their last job to leave the queue.
    pub deferred: usize,
    /// The last start time converted to UTC (squeue's text, its UTC): jobs started together
    /// share it, and 10^5 jobs found running at once took ~1 µs each to convert (issue 15).
    pub last_start: Option<(String, Option<String>)>,
    /// Jobs whose new scheduler state this poll writes (see [`super::STATE_CHANGES_PER_POLL`]).
    pub state_changes: usize,
}

impl Batch<'_> {
    /// [`utc_of_local`] of squeue's start time `text`, remembered for the next job's.
    pub fn start_utc(&mut self, text: &str) -> Option<String> {
        match &self.last_start {
            Some((seen, utc)) if seen == text => utc.clone(),
            _ => {
                let utc = utc_of_local(text);
                self.last_start = Some((text.to_string(), utc.clone()));
                utc
            }
        }
    }
}

impl Monitor<'_> {
    /// One poll of the run. Every change it makes is committed before it is reported.
    pub fn poll(&mut self, rep: &Reporter) -> Result<PollOutcome, StoreError> {
        let (answer, known) = self.ask_squeue_and_know();
        let text = match answer {
            Ok(text) => text,
            Err(e) => {
                // Still what the store holds: the next poll need not read it again.
                self.known = known.ok();
                return Ok(PollOutcome {
                    scheduler_trouble: Some(e.to_string()),
                    ..Default::default()
                });
            }
        };
        let known = known?;
        let queue = parse_squeue(&text);
        // Jobs submitted before a crash are recorded first, so that the rest of the poll
        // tracks them like any other (issue 11).
        let mut lines = Vec::new();
        let (held, intent_trouble) = self.reconcile_intents(&queue, &mut lines)?;
        // Submissions it recorded changed the store since it was read.
        let mut known = match self.store.write_stamp()? {
            now if now == known.stamp => known,
            _ => Known::read(self.store, &self.run)?,
        };
        let tracked = &known.tracked;
        let mut b = Batch {
            states: TaskStates::over(std::mem::take(&mut known.states)),
            // Every tracked job is live in a steady poll: no rehash as 10^5 of them are added.
            live: Map::with_capacity_and_hasher(tracked.len(), Default::default()),
            committed: !lines.is_empty(),
            lines,
            ..Default::default()
        };
        let waiting = !held.is_empty();
        for key in held {
            b.states.insert(key, TaskState::Running);
        }
        let (matched, untracked) = match_queue(&queue, tracked);
        b.lookups = self.lookups_of(&untracked, tracked, &matched, self.arrays_of_run()?);
        // Live jobs no attempt tracks, by the task they run (by its name, or as an element of
        // one of its arrays).
        // A COMPLETING one is on its way out (an attempt's job the monitor cancelled, most
        // often): it is neither adopted nor cancelled as a second copy, and the task's next job
        // waits until it is gone.
        let (leaving, by_key): (Map<String, &QueueEntry>, Map<String, &QueueEntry>) = untracked
            .iter()
            .copied()
            .filter(|q| !is_finished_state(q.state))
            // Another store's run of this id has jobs of the same names (issue 11).
            .filter(|q| !self.of_another_store(&[q.stdout, q.workdir]))
            .filter_map(|q| Some((b.lookups.key_of(&self.run, q.name, q.job_id)?, q)))
            .partition(|(_, q)| q.state == "COMPLETING");
        self.watch_leaving(&leaving, &mut b);
        b.leaving = leaving.into_keys().collect();
        let mut gone: Vec<&TrackedJob> = Vec::new();
        for (t, q) in tracked.iter().zip(&matched) {
            if let Some(q) = q.filter(|q| !is_finished_state(q.state)) {
                if !self.missing_since.is_empty() {
                    self.missing_since.remove(&(t.key.clone(), t.attempt));
                }
                self.observe_live(t, q, &mut b)?;
                // A second live job with the task's name (resubmitted by hand, or by a monitor
                // that lost track of it): the task keeps the job it tracks. Unless the tracked
                // job is COMPLETING: cancelled by the user, who resubmitted its script at once,
                // it is on its way out (for up to KillWait), and once gone the other is adopted.
                if let Some(other) = by_key
                    .get(t.key.as_str())
                    .filter(|_| b.live.get(&t.key) == Some(&t.job_id))
                    .filter(|_| q.state != "COMPLETING")
                {
                    self.cancel_second_job(t, other, &mut b)?;
                }
            } else {
                gone.push(t);
            }
        }
        let mut trouble = intent_trouble;
        if !gone.is_empty() {
            b.lookups.settling = gone.iter().map(|t| (*t).clone()).collect();
            match self.accounting_of(&gone) {
                Ok(acct) => {
                    for t in gone {
                        let runs = acct.get(&t.job_id).map_or(&[][..], Vec::as_slice);
                        self.settle_gone(t, runs, &mut b)?;
                        if let Some(q) = by_key.get(t.key.as_str()) {
                            self.named_after_gone(t, q, &mut b)?;
                        }
                    }
                }
                Err(e) => {
                    trouble = Some(e.to_string());
                    for t in gone {
                        b.live.insert(t.key.clone(), t.job_id.clone());
                    }
                }
            }
        }
        if trouble.is_none() && !self.names_checked {
            self.adopt_ended_by_name(&mut b)?;
        }
        let submitted = if trouble.is_none() {
            self.submit_ready(&by_key, &mut b)?
        } else {
            0
        };
        trouble = trouble.or(b.trouble.take());
        let changed = b.committed || !b.jobs.is_empty() || !b.changes.is_empty();
        let before = self.store.write_stamp()?;
        self.store.apply_all(&self.run, &b.changes, &b.jobs)?;
        super::tidy::remove_empty_logs(&b.logs_to_tidy);
        for l in &b.lines {
            rep.line(l);
        }
        if rep.shows_running() {
            rep.running_now(self.running_jobs(tracked, &matched, &b));
        }
        drop(by_key);
        known.states = std::mem::take(&mut b.states).into_stored();
        self.keep(known, before, &b)?;
        let idle =
            trouble.is_none() && !waiting && b.live.is_empty() && submitted == 0 && b.deferred == 0;
        Ok(PollOutcome {
            changed,
            idle: idle && !b.stopped,
            scheduler_trouble: trouble,
            sbatch_refused: b.refused.take(),
            stopped: b.stopped,
        })
    }

    /// The jobs squeue shows RUNNING that this poll leaves live, for the live area (issue 14):
    /// started as long ago as squeue says they have run.
    fn running_jobs(
        &self,
        tracked: &[TrackedJob],
        matched: &[Option<&QueueEntry<'_>>],
        b: &Batch,
    ) -> Vec<(u32, String, std::path::PathBuf, std::time::Instant)> {
        let now = std::time::Instant::now();
        tracked
            .iter()
            .zip(matched)
            .filter_map(|(t, q)| Some((t, (*q)?)))
            .filter(|(t, q)| b.live.get(&t.key) == Some(&t.job_id) && q.state == "RUNNING")
            .filter_map(|(t, q)| {
                let &i = self.index.get(&t.key)?;
                let ran = q.time_used.and_then(duration_ms).unwrap_or(0);
                let started = now
                    .checked_sub(std::time::Duration::from_millis(ran))
                    .unwrap_or(now);
                let metrics = std::path::Path::new(&t.stdout).with_file_name(METRICS_FILE);
                Some((i as u32, self.label(&t.key), metrics, started))
            })
            .collect()
    }

    pub(super) fn label(&self, key: &str) -> String {
        self.index
            .get(key)
            .map_or_else(|| key.to_string(), |&i| self.plan.label(i, self.spec))
    }
}

/// squeue prints times in the cluster's local time without a zone; the store keeps UTC.
pub(super) fn utc_of_local(text: &str) -> Option<String> {
    let civil = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", text).ok()?;
    let ts = civil
        .to_zoned(jiff::tz::TimeZone::system())
        .ok()?
        .timestamp();
    Some(ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}
