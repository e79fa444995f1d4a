//! Log rules: a running job's new log lines are matched against `[[restart.log]]` rules; the
//! first match ends the attempt with the rule's outcome.

use super::logtail;
use super::poll::Batch;
use super::Monitor;
use crate::outcome::Outcome;
use crate::spec::slurm::Action;
use crate::store::{JobChange, TrackedJob};
use std::path::Path;

impl Monitor<'_> {
    /// Reads the job's new log lines; the first matching rule ends the attempt.
    pub(super) fn apply_log_rules(&mut self, t: &TrackedJob, b: &mut Batch) {
        let out = logtail::read_new(Path::new(&t.stdout), t.log_offset, 8 << 20);
        let err = logtail::read_new(Path::new(&t.stderr), t.err_offset, 8 << 20);
        if out.offset == t.log_offset
            && err.offset == t.err_offset
            && !out.truncated
            && !err.truncated
        {
            return;
        }
        b.jobs.push(JobChange::LogOffset {
            key: t.key.clone(),
            attempt: t.attempt,
            out: out.offset,
            err: err.offset,
        });
        let hit = out.lines.iter().chain(&err.lines).find_map(|line| {
            self.spec
                .restart
                .log_rules
                .iter()
                .find(|r| r.pattern.is_match(line))
                .map(|r| (r.clone(), line.clone()))
        });
        let Some((rule, line)) = hit else { return };
        let _ = self.sched.scancel(&t.job_id);
        let why = format!(
            "log rule `{}` matched: {}",
            rule.pattern.as_str(),
            line.chars().take(200).collect::<String>()
        );
        let class = match (rule.outcome, rule.action) {
            (Some(c), _) => c,
            (None, Some(Action::Stop)) => Outcome::Failed,
            (None, _) => Outcome::Preempted,
        };
        b.live.remove(&t.key);
        let _ = self.finalize(t, class, None, None, why, b);
    }
}
