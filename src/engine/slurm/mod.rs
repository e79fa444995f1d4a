//! The SLURM monitor: observes jobs, reconciles the store with the scheduler, applies the
//! restart policy and submits what is ready. Everything it decides is in the store, so it can be
//! killed at any moment and restarted; between polls it keeps only what a restart may lose at
//! the cost of some patience: when each job was first missed from squeue and sacct, and whether
//! accounting answers at all.
//!
//! One poll = one squeue call for every job of the user, plus one sacct call (with an explicit
//! time window) for the tracked jobs that left the queue. A scheduler command that fails is
//! never read as a job outcome: the poll decides nothing about the jobs it could not see.

mod adopt_named;
mod by_name;
mod cancel;
mod classify;
mod finalize;
mod intents;
mod known;
mod leaving;
mod log_rules;
mod logtail;
mod lookups;
mod matching;
mod observe;
mod outcomes;
mod place;
mod poll;
mod requeue;
mod resources;
mod sbatch;
mod settle;
mod submit;
mod task_resources;
mod task_states;
mod tidy;

pub use poll::PollOutcome;

/// The poll's per-job maps: keyed by job ids and task keys, 10^5 of them at each poll, where
/// std's SipHash was a large part of the poll's own time (issue 15). The keys are the user's
/// own jobs and tasks, so there is no one to flood them.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
pub use resources::RESOURCES_RECORD;

use crate::exec::slurm::Scheduler;
use crate::plan::Plan;
use crate::progress::{Counts, Reporter};
use crate::spec::Spec;
use crate::store::{RunFolders, Store, StoreError, TaskState};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The monitor of one run.
pub struct Monitor<'a> {
    pub store: &'a mut Store,
    pub run: String,
    pub spec: &'a Spec,
    pub plan: &'a Plan,
    pub sched: &'a Scheduler,
    /// The experiment file's folder, which relative workdirs start from.
    pub base: PathBuf,
    pub host: String,
    /// Where the run's files go.
    pub folders: RunFolders,
    index: HashMap<String, usize>,
    dependents: Vec<Vec<usize>>,
    /// When each tracked attempt was first found missing from squeue and sacct.
    missing_since: HashMap<(String, u32), Instant>,
    /// Jobs squeue shows COMPLETING under a task's name: since when, and whether the monitor
    /// said they are stuck (see `leaving.rs`).
    leaving_since: HashMap<String, (Instant, bool)>,
    /// When a requeue of each tracked attempt was first seen that accounting did not yet explain.
    requeue_seen: HashMap<(String, u32), Instant>,
    accounting: bool,
    /// When each intended submission was first looked for in vain (see `intents`).
    intent_missing: HashMap<String, Instant>,
    /// Ended jobs with a pending task's name were looked for (once per monitor).
    names_checked: bool,
    /// The stop signal caught, if any (0: none): no `sbatch` starts once it is set.
    stop: Arc<AtomicUsize>,
    /// The tracked jobs and task states the last poll left, while nothing else wrote.
    known: Option<known::Known>,
    /// At most this many jobs' scheduler states (PENDING, RUNNING, ...) are written per poll
    /// ([`STATE_CHANGES_PER_POLL`] unless changed); the others are written by the next polls.
    pub state_changes_per_poll: usize,
}

/// How many jobs' new scheduler states one poll writes at most. 10^5 jobs that start at once,
/// or a monitor started on them, made one poll write 10^5 rows: a third of a second of its
/// commit at 10^5 tracked jobs (issue 15), and as long again building the changes. The states
/// not written stay as the store had them, so the next poll sees them changed and writes them
/// then: 10^5 states take ten polls to be all written, each bounded. Only what `status` and
/// `tasks` show of a job's scheduler state (and node, start time) waits; decisions read squeue.
pub const STATE_CHANGES_PER_POLL: usize = 10_000;

impl<'a> Monitor<'a> {
    /// A monitor for `run`; `base` is the folder of the experiment file.
    pub fn new(
        store: &'a mut Store,
        run: &str,
        spec: &'a Spec,
        plan: &'a Plan,
        sched: &'a Scheduler,
        base: PathBuf,
    ) -> Result<Monitor<'a>, StoreError> {
        let index: HashMap<String, usize> = plan
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.key.to_string(), i))
            .collect();
        let mut dependents = vec![Vec::new(); plan.tasks.len()];
        for i in 0..plan.tasks.len() {
            for &j in plan.deps(i) {
                dependents[j as usize].push(i);
            }
        }
        let host = crate::exec::process::hostname();
        let folders = store.folders(run)?;
        Ok(Monitor {
            store,
            folders,
            run: run.to_string(),
            spec,
            plan,
            sched,
            base,
            host,
            index,
            dependents,
            missing_since: HashMap::new(),
            leaving_since: HashMap::new(),
            requeue_seen: HashMap::new(),
            accounting: true,
            intent_missing: HashMap::new(),
            names_checked: false,
            stop: Arc::default(),
            known: None,
            state_changes_per_poll: STATE_CHANGES_PER_POLL,
        })
    }

    /// Counts of the run's current plan, for the progress display.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let read;
        let states = match &self.known {
            // What the last poll left, if nothing wrote since: no read of 10^5 rows (issue 15).
            Some(k) if k.stamp == self.store.write_stamp()? => &k.states,
            _ => {
                read = self.store.task_states(&self.run)?;
                &read
            }
        };
        let n = |s| states.values().filter(|v| v.0 == s).count() as u64;
        Ok(Counts {
            total: self.plan.tasks.len() as u64,
            done: n(TaskState::Done),
            failed: n(TaskState::Failed) + n(TaskState::Blocked),
            running: n(TaskState::Running),
        })
    }
}

/// Polls until nothing is left to watch or `stop` holds a signal number. Returns the exit
/// code: 0 all done, 1 some task failed or is blocked, 128+N stopped by signal N (the jobs keep
/// running).
pub fn watch(
    mon: &mut Monitor,
    rep: &Reporter,
    stop: &Arc<AtomicUsize>,
) -> Result<i32, StoreError> {
    let (min, max) = (
        mon.spec.slurm.poll_min,
        mon.spec.slurm.poll_max.max(mon.spec.slurm.poll_min),
    );
    let mut interval = min;
    mon.stop = stop.clone();
    loop {
        let outcome = mon.poll(rep)?;
        rep.counts(mon.counts()?);
        if outcome.stopped {
            rep.always("labtrail: monitor stopped; the jobs keep running. Re-attach with `labtrail monitor`.");
            return Ok(128 + stop.load(Ordering::Relaxed) as i32);
        }
        if let Some(refused) = &outcome.sbatch_refused {
            interval = (interval * 2).min(max);
            rep.always(&format!(
                "labtrail: {refused}; tried again at the next poll, in {}",
                crate::spec::format_duration(interval)
            ));
        } else if let Some(why) = &outcome.scheduler_trouble {
            interval = (interval * 2).min(max);
            rep.always(&format!("labtrail: the scheduler did not answer ({why}); nothing is decided about unseen jobs; next try in {}", crate::spec::format_duration(interval)));
        } else if outcome.idle {
            let c = mon.counts()?;
            return Ok(if c.failed > 0 { 1 } else { 0 });
        } else if outcome.changed {
            interval = min;
        } else {
            interval = (interval.mul_f64(1.5)).min(max);
        }
        let until = Instant::now() + interval;
        while Instant::now() < until {
            let sig = stop.load(Ordering::Relaxed);
            if sig != 0 {
                rep.always("labtrail: monitor stopped; the jobs keep running. Re-attach with `labtrail monitor`.");
                return Ok(128 + sig as i32);
            }
            std::thread::sleep(Duration::from_millis(50).min(interval));
        }
    }
}
