//! Jobs that carry a pending task's name and ended while no monitor watched (submitted by hand,
//! or by a labtrail that recorded no intent): adopted as the task's attempt, so that its outcome
//! counts instead of the task running again (issue 11). Live ones are adopted from squeue at
//! every poll (see `submit.rs`); ended ones are looked for once per monitor, in one sacct call.

use super::intents::local_time;
use super::poll::Batch;
use super::submit::submitted_change;
use super::Monitor;
use crate::exec::slurm::script::attempt_dir;
use crate::exec::slurm::{is_finished_state, job_name, parse_job_name, AcctEntry, SchedError};
use crate::store::{StoreError, Submission, TaskState};
use std::collections::HashMap;

impl Monitor<'_> {
    /// Adopts, for each pending task, the last ended job of its name that the store does not
    /// know and that writes in this store's folder of the run (or does not say where).
    pub(super) fn adopt_ended_by_name(&mut self, b: &mut Batch) -> Result<(), StoreError> {
        if !self.accounting {
            self.names_checked = true;
            return Ok(());
        }
        let pending: Vec<String> = b
            .states
            .keys_in(TaskState::Pending)
            .filter(|k| !b.live.contains_key(*k))
            .map(|k| job_name(&self.run, k))
            .collect();
        if pending.is_empty() {
            self.names_checked = true;
            return Ok(());
        }
        let since = self
            .store
            .run_created_at(&self.run)?
            .parse::<jiff::Timestamp>()
            .unwrap_or_else(|_| jiff::Timestamp::now())
            - jiff::SignedDuration::from_secs(3600);
        let since = since
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let rows = match self.sched.sacct_named(&pending, &since) {
            Ok(rows) => rows,
            Err(SchedError::NoAccounting(_)) => {
                self.accounting = false;
                self.names_checked = true;
                return Ok(());
            }
            // Asked again at the next poll.
            Err(_) => return Ok(()),
        };
        self.names_checked = true;
        let known = self.store.known_job_ids(&self.run)?;
        let mut last: HashMap<&str, &AcctEntry> = HashMap::new();
        for a in &rows {
            let Some((run, key)) = parse_job_name(&a.name) else {
                continue;
            };
            if run != self.run
                || !is_finished_state(&a.state)
                || known.contains(&a.job_id)
                || self.of_another_store(&[a.workdir.as_deref()])
            {
                continue;
            }
            let later = last.get(key).is_none_or(|p| {
                (
                    local_time(p.submit.as_deref()),
                    p.job_id.parse::<u64>().ok(),
                ) < (
                    local_time(a.submit.as_deref()),
                    a.job_id.parse::<u64>().ok(),
                )
            });
            if later {
                last.insert(key, a);
            }
        }
        for (key, a) in last {
            let attempt = b.states.attempts(key).unwrap_or(0) + 1;
            let dir = attempt_dir(&self.folders.attempt_prefix(key), &a.job_id, 0);
            b.jobs.push(submitted_change(
                key,
                attempt,
                &a.job_id,
                &self.host,
                &dir,
                // Its own limits (from sacct), which a restart after it scales.
                (a.time_limit_s, a.mem_mb),
                Submission::Adopted,
            ));
            b.lines.push(format!(
                "⇄ {}: adopted job {} with the task's name, which ended ({}) while no monitor watched",
                self.label(key),
                a.job_id,
                a.state
            ));
            b.states.set_attempts(key.to_string(), attempt);
            b.live.insert(key.to_string(), a.job_id.clone());
            b.states.insert(key.to_string(), TaskState::Running);
        }
        Ok(())
    }
}
