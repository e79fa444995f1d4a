//! Log rules: new lines of a job's logs are matched against `[[restart.log]]` rules; the first
//! match ends the attempt with the rule's outcome.
//!
//! A running job's logs are read at each poll, within a budget; a match cancels the job. A job
//! that ended between two polls (the usual case: "CUDA out of memory", then exit 1), or while no
//! monitor ran, has its whole unread tail read before sacct or its exit record classify it, and
//! a match decides its outcome: the answer does not depend on when the polls fell.

use super::logtail::{self, Reach, POLL_BUDGET};
use super::poll::Batch;
use super::Monitor;
use crate::outcome::Outcome;
use crate::spec::slurm::{Action, LogRule};
use crate::store::{JobChange, TrackedJob};
use std::path::Path;

impl Monitor<'_> {
    /// Reads the running job's new log lines; the first matching rule ends the attempt.
    pub(super) fn apply_log_rules(&mut self, t: &TrackedJob, b: &mut Batch) {
        let Some((rule, line)) = self.match_new_lines(t, Reach::Budget(POLL_BUDGET), b) else {
            return;
        };
        let (class, why) = outcome_of(&rule, &line);
        self.end_by_cancel(t, class, why, b);
    }

    /// The outcome of a job that ended as `class` for reason `why`: the outcome of the first
    /// rule its unread log lines match, else `class`.
    pub(super) fn apply_log_rules_to_ended(
        &mut self,
        t: &TrackedJob,
        class: Outcome,
        why: String,
        b: &mut Batch,
    ) -> (Outcome, String) {
        if self.spec.restart.log_rules.is_empty() {
            return (class, why);
        }
        match self.match_new_lines(t, Reach::End, b) {
            Some((rule, line)) => {
                let (by_rule, because) = outcome_of(&rule, &line);
                (by_rule, format!("{because}; the job ended ({why})"))
            }
            None => (class, why),
        }
    }

    /// The first rule a new line of stdout, then of stderr, matches, with that line; the
    /// offsets read up to are recorded.
    fn match_new_lines(
        &self,
        t: &TrackedJob,
        reach: Reach,
        b: &mut Batch,
    ) -> Option<(LogRule, String)> {
        let rules = &self.spec.restart.log_rules;
        let matcher = |line: &[u8]| {
            rules.iter().find(|r| r.pattern.is_match(line)).map(|r| {
                let shown: String = String::from_utf8_lossy(line).chars().take(200).collect();
                (r.clone(), shown)
            })
        };
        let out = logtail::scan(Path::new(&t.stdout), t.log_offset, reach, &matcher);
        let err = match out.hit {
            // The attempt ends here: stderr need not be read.
            Some(_) => logtail::Tail {
                offset: t.err_offset,
                truncated: false,
                hit: None,
            },
            None => logtail::scan(Path::new(&t.stderr), t.err_offset, reach, &matcher),
        };
        if out.offset != t.log_offset
            || err.offset != t.err_offset
            || out.truncated
            || err.truncated
        {
            b.jobs.push(JobChange::LogOffset {
                key: t.key.clone(),
                attempt: t.attempt,
                out: out.offset,
                err: err.offset,
            });
        }
        out.hit.or(err.hit)
    }
}

/// The outcome a matched rule gives, and why.
fn outcome_of(rule: &LogRule, line: &str) -> (Outcome, String) {
    let class = match (rule.outcome, rule.action) {
        (Some(c), _) => c,
        (None, Some(Action::Stop)) => Outcome::Failed,
        (None, _) => Outcome::Preempted,
    };
    let why = format!("log rule `{}` matched: {line}", rule.pattern.as_str());
    (class, why)
}
