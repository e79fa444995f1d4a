//! Submissions whose `sbatch` answer was never recorded (the monitor was killed, or `sbatch`
//! timed out): at every poll's start their jobs are looked for by name, in squeue (live) and in
//! sacct (ended), and recorded as their tasks' attempts; a submission SLURM never saw is
//! abandoned and its tasks may go again (issue 11).

use super::poll::utc_of_local;
use super::submit::submitted_change;
use super::Monitor;
use crate::exec::slurm::script::attempt_dir;
use crate::exec::slurm::{QueueEntry, SchedError};
use crate::protocol::STARTED_RECORD;
use crate::store::{StoreError, Submission, SubmissionRow, SubmissionState};
use std::collections::HashSet;
use std::path::Path;

/// How much earlier than its intent's record a job may seem submitted: the scheduler's clock
/// and this machine's may differ by that much.
const CLOCK_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// How long a submission that may have reached `sbatch` is looked for before it is abandoned:
/// `squeue -t all` shows an ended job only until `MinJobAge` purges it, and `sacct` may not have it
/// yet or show it for a moment under the name `allocation` (docs/slurm-notes.md, c).
const NOT_FOUND_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A job the scheduler shows under a submission's name.
#[derive(Debug, Clone)]
pub(super) struct Sighting {
    /// The job's id; for an array element, the array's (the part before `_`).
    pub job_id: String,
    pub name: String,
    pub submitted: Option<jiff::Timestamp>,
    /// Whether it writes in this store's folder of the run: `None` when the scheduler does
    /// not say.
    pub ours: Option<bool>,
}

/// The job `row` became: the earliest job with its name that the store does not know,
/// submitted no earlier than the intent was recorded (less [`CLOCK_MARGIN`]) and not writing
/// elsewhere (another store's copy of the run submits jobs of the same names).
pub(super) fn job_of_intent<'a>(
    row: &SubmissionRow,
    seen: &'a [Sighting],
    known: &HashSet<String>,
) -> Option<&'a Sighting> {
    let since = row
        .created_at
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t - CLOCK_MARGIN);
    seen.iter()
        .filter(|s| s.name == row.job_name && !known.contains(&s.job_id))
        .filter(|s| s.ours != Some(false))
        .filter(|s| match (since, s.submitted) {
            (Some(since), Some(at)) => at >= since,
            _ => true,
        })
        .min_by_key(|s| (s.submitted, s.job_id.parse::<u64>().unwrap_or(u64::MAX)))
}

fn base_id(job_id: &str) -> &str {
    job_id.split('_').next().unwrap_or(job_id)
}

/// A time squeue or sacct gives (the cluster's local time), if there is one.
pub(super) fn local_time(text: Option<&str>) -> Option<jiff::Timestamp> {
    utc_of_local(text?)?.parse().ok()
}

impl Monitor<'_> {
    /// Settles the run's intended submissions from `queue` and one sacct call; returns the
    /// tasks whose submission is still unsettled (not to be submitted this poll) and why.
    pub(super) fn reconcile_intents(
        &mut self,
        queue: &[QueueEntry],
        lines: &mut Vec<String>,
    ) -> Result<(HashSet<String>, Option<String>), StoreError> {
        let intents = self
            .store
            .submissions(&self.run, SubmissionState::Intended)?;
        if intents.is_empty() {
            return Ok((HashSet::new(), None));
        }
        let known = self.store.known_job_ids(&self.run)?;
        let mut seen: Vec<Sighting> = queue
            .iter()
            .map(|q| Sighting {
                job_id: base_id(q.job_id).to_string(),
                name: q.name.to_string(),
                submitted: local_time(q.submit),
                ours: self.place_of(&[q.stdout, q.workdir]).is_here(),
            })
            .collect();
        let mut accounting = self.accounting;
        if accounting {
            let earliest = intents
                .iter()
                .filter_map(|r| r.created_at.parse::<jiff::Timestamp>().ok())
                .min()
                .unwrap_or_else(jiff::Timestamp::now);
            let since = (earliest - CLOCK_MARGIN)
                .to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%dT%H:%M:%S")
                .to_string();
            let names: Vec<String> = intents.iter().map(|r| r.job_name.clone()).collect();
            match self.sched.sacct_named(&names, &since) {
                Ok(rows) => seen.extend(rows.iter().map(|a| Sighting {
                    job_id: base_id(&a.job_id).to_string(),
                    name: a.name.clone(),
                    submitted: local_time(a.submit.as_deref()),
                    ours: self.place_of(&[a.workdir.as_deref()]).is_here(),
                })),
                Err(SchedError::NoAccounting(_)) => {
                    self.accounting = false;
                    accounting = false;
                }
                Err(e) => {
                    // Whether SLURM has their jobs is unknown: their tasks wait.
                    let held = intents
                        .iter()
                        .flat_map(|r| r.tasks.iter().map(|t| t.0.clone()));
                    return Ok((held.collect(), Some(e.to_string())));
                }
            }
        }
        let mut held = HashSet::new();
        for row in &intents {
            let found = job_of_intent(row, &seen, &known)
                .map(|s| s.job_id.clone())
                .or_else(|| {
                    (!accounting)
                        .then(|| self.started_on_disk(row, &known))
                        .flatten()
                });
            // Its script is written just before `sbatch`: without it, `sbatch` never ran.
            let maybe_sent = Path::new(&row.script).exists();
            let missed_for = self
                .intent_missing
                .entry(row.token.clone())
                .or_insert_with(std::time::Instant::now)
                .elapsed();
            match found {
                Some(id) => {
                    self.intent_missing.remove(&row.token);
                    self.recover(row, &id, lines)?
                }
                None if maybe_sent && missed_for < NOT_FOUND_GRACE => {
                    held.extend(row.tasks.iter().map(|t| t.0.clone()));
                }
                None => {
                    self.intent_missing.remove(&row.token);
                    let others: Vec<&str> = seen
                        .iter()
                        .filter(|s| s.name == row.job_name && s.ours == Some(false))
                        .map(|s| s.job_id.as_str())
                        .collect();
                    lines.push(if maybe_sent && !others.is_empty() {
                        format!(
                            "· {}: job {} of that name works outside this store's folder of run {} (in a copy of this experiment, or submitted by hand elsewhere), so it is not this store's; no job of this store's was found, its tasks may go again",
                            row.job_name,
                            others.join(", "),
                            self.run
                        )
                    } else if maybe_sent {
                        format!(
                            "· {}: no job of that name in squeue{}; never accepted by SLURM, its tasks may go again",
                            row.job_name,
                            if accounting { " or sacct" } else { " nor an attempt folder" }
                        )
                    } else {
                        format!(
                            "· {}: never handed to sbatch (the monitor stopped first); its tasks may go again",
                            row.job_name
                        )
                    });
                    self.store
                        .settle_submission(&self.run, &row.token, None, &[])?;
                }
            }
        }
        Ok((held, None))
    }

    /// Records the tasks of `row` as the attempts of job `id` (element `i` runs task `i`).
    fn recover(
        &mut self,
        row: &SubmissionRow,
        id: &str,
        lines: &mut Vec<String>,
    ) -> Result<(), StoreError> {
        let array = row.job_name.contains(".@");
        let changes: Vec<_> = row
            .tasks
            .iter()
            .enumerate()
            .map(|(n, (key, attempt))| {
                let job_id = if array {
                    format!("{id}_{n}")
                } else {
                    id.to_string()
                };
                let dir = attempt_dir(&self.folders.attempt_prefix(key), &job_id, 0);
                submitted_change(
                    key,
                    *attempt,
                    &job_id,
                    &self.host,
                    &dir,
                    (row.time_limit_s, row.mem_mb),
                    Submission::Submitted,
                )
            })
            .collect();
        self.store
            .settle_submission(&self.run, &row.token, Some(id), &changes)?;
        lines.push(format!(
            "⇄ {}: job {id}, submitted before the monitor stopped, found again and recorded",
            row.job_name
        ));
        Ok(())
    }

    /// Without accounting: the job an attempt folder of one of `row`'s tasks names, if its
    /// wrapper started there (`KEY-job-ID[_N]/started.json`) and the store knows no such job.
    fn started_on_disk(&self, row: &SubmissionRow, known: &HashSet<String>) -> Option<String> {
        let array = row.job_name.contains(".@");
        row.tasks.iter().enumerate().find_map(|(n, (key, _))| {
            let prefix = self.folders.attempt_prefix(key);
            let stem = format!("{}-job-", prefix.file_name()?.to_str()?);
            let entries = std::fs::read_dir(prefix.parent()?).ok()?;
            entries.flatten().find_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let job = name.strip_prefix(&stem)?;
                let job = job.split_once("-r").map_or(job, |(j, _)| j);
                let id = match job.split_once('_') {
                    Some((base, element)) if array && element == n.to_string() => base,
                    None if !array => job,
                    _ => return None,
                };
                (!known.contains(id) && e.path().join(STARTED_RECORD).exists())
                    .then(|| id.to_string())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, created: &str) -> SubmissionRow {
        SubmissionRow {
            token: "t".into(),
            job_name: name.into(),
            created_at: created.into(),
            tasks: vec![("k".into(), 1)],
            time_limit_s: None,
            mem_mb: None,
            script: "s".into(),
            job_id: None,
            state: SubmissionState::Intended,
        }
    }

    fn seen(id: &str, name: &str, at: &str, ours: Option<bool>) -> Sighting {
        Sighting {
            job_id: id.into(),
            name: name.into(),
            submitted: Some(at.parse().unwrap()),
            ours,
        }
    }

    /// Issue 11: an intent's job is the earliest unknown job of its name submitted after it
    /// (within the clock margin), never a known one, an older one, or another store's.
    #[test]
    fn an_intent_finds_the_earliest_new_job_of_its_name() {
        let r = row("lt.r.@s.ab12cd34", "2026-11-30T10:00:00Z");
        let jobs = [
            seen("5", "lt.r.@s.ab12cd34", "2026-11-30T09:50:00Z", Some(true)),
            seen("7", "lt.r.@s.ab12cd34", "2026-11-30T10:00:02Z", Some(false)),
            seen("9", "lt.r.@s.ab12cd34", "2026-11-30T10:00:03Z", Some(true)),
            seen("8", "lt.r.@s.other", "2026-11-30T10:00:01Z", Some(true)),
            seen("12", "lt.r.@s.ab12cd34", "2026-11-30T10:00:09Z", None),
        ];
        let none = HashSet::new();
        assert_eq!(job_of_intent(&r, &jobs, &none).unwrap().job_id, "9");
        let known: HashSet<String> = ["9".to_string()].into();
        assert_eq!(job_of_intent(&r, &jobs, &known).unwrap().job_id, "12");
        // The scheduler's clock a little behind this machine's.
        let early = [seen(
            "3",
            "lt.r.@s.ab12cd34",
            "2026-11-30T09:59:30Z",
            Some(true),
        )];
        assert_eq!(job_of_intent(&r, &early, &none).unwrap().job_id, "3");
        assert!(job_of_intent(&r, &jobs[..2], &none).is_none());
    }

    #[test]
    fn array_elements_are_found_by_their_array() {
        assert_eq!(base_id("41_3"), "41");
        assert_eq!(base_id("41_[3-9%2]"), "41");
        assert_eq!(base_id("41"), "41");
    }
}
