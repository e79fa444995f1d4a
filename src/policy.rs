//! Policy: what happens after an attempt ends. Executors report outcomes; only this module
//! decides between done, retry and stop.

use std::time::Duration;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code 0 and a readable result.
    Success,
    /// Non-zero exit code, unreadable result, or the command could not start.
    Failed,
    /// Killed by labtrail after its time limit.
    Timeout,
    /// Killed by a signal labtrail did not send (OOM killer, a user's kill).
    Killed,
    /// Stopped because labtrail was asked to stop (Ctrl+C, SIGTERM) or its runner died.
    Interrupted,
}

impl Outcome {
    /// The name stored in the attempt history.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
            Outcome::Killed => "killed",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// What to do with a task after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Done,
    /// Run again after the delay.
    Retry(Duration),
    /// No attempts left in this invocation; a later `labtrail run` tries again.
    Fail,
    /// Not the task's fault; run again on resume, without using up a retry.
    Interrupted,
}

/// Longest delay between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Decides after attempt number `tries` (1-based, counted in this invocation) with `retries`
/// extra attempts allowed and a first retry delay of `backoff`, doubling each time.
pub fn decide(outcome: &Outcome, tries: u32, retries: u32, backoff: Duration) -> Decision {
    match outcome {
        Outcome::Success => Decision::Done,
        Outcome::Interrupted => Decision::Interrupted,
        Outcome::Failed | Outcome::Timeout | Outcome::Killed if tries <= retries => {
            let factor = 2u32.saturating_pow(tries.saturating_sub(1).min(20));
            Decision::Retry(backoff.saturating_mul(factor).min(MAX_BACKOFF))
        }
        Outcome::Failed | Outcome::Timeout | Outcome::Killed => Decision::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_with_doubling_backoff_then_fails() {
        let b = Duration::from_secs(10);
        assert_eq!(
            decide(&Outcome::Failed, 1, 2, b),
            Decision::Retry(Duration::from_secs(10))
        );
        assert_eq!(
            decide(&Outcome::Timeout, 2, 2, b),
            Decision::Retry(Duration::from_secs(20))
        );
        assert_eq!(decide(&Outcome::Failed, 3, 2, b), Decision::Fail);
        assert_eq!(decide(&Outcome::Killed, 1, 0, b), Decision::Fail);
    }

    #[test]
    fn success_and_interruption_do_not_use_retries() {
        assert_eq!(
            decide(&Outcome::Success, 5, 0, Duration::ZERO),
            Decision::Done
        );
        assert_eq!(
            decide(&Outcome::Interrupted, 9, 0, Duration::ZERO),
            Decision::Interrupted
        );
    }

    #[test]
    fn backoff_is_capped() {
        assert_eq!(
            decide(&Outcome::Failed, 30, 100, Duration::from_secs(10)),
            Decision::Retry(MAX_BACKOFF)
        );
    }
}

pub use slurm_policy::{decide_slurm, SlurmDecision};

/// Decisions after a SLURM attempt, from the experiment's `[restart]` rules.
mod slurm_policy {
    use crate::spec::slurm::{Action, OutcomeClass, Rule};

    /// What to do with a task after a SLURM attempt.
    #[derive(Debug, Clone, PartialEq)]
    pub enum SlurmDecision {
        Done,
        /// Submit a new job with these limits (seconds, MiB).
        Restart {
            time_limit_s: Option<u64>,
            mem_mb: Option<u64>,
        },
        Stop,
    }

    /// Decides after an attempt of class `class`; `count` is how many of the task's attempts
    /// ended with this class, this one included; `limits` are the attempt's (time, memory).
    pub fn decide_slurm(
        class: OutcomeClass,
        rule: &Rule,
        count: u32,
        limits: (Option<u64>, Option<u64>),
    ) -> SlurmDecision {
        if class == OutcomeClass::Completed {
            return SlurmDecision::Done;
        }
        if rule.action == Action::Stop || count >= rule.max_attempts {
            return SlurmDecision::Stop;
        }
        let scale = |v: Option<u64>, f: f64| v.map(|x| ((x as f64) * f).ceil() as u64);
        SlurmDecision::Restart {
            time_limit_s: scale(limits.0, rule.time_factor),
            mem_mb: scale(limits.1, rule.mem_factor),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::spec::slurm::default_rule;

        #[test]
        fn timeouts_restart_longer_until_max_attempts() {
            let rule = default_rule(OutcomeClass::Timeout);
            assert_eq!(
                decide_slurm(OutcomeClass::Timeout, &rule, 1, (Some(600), Some(1024))),
                SlurmDecision::Restart {
                    time_limit_s: Some(900),
                    mem_mb: Some(1024)
                }
            );
            assert_eq!(
                decide_slurm(OutcomeClass::Timeout, &rule, 3, (Some(600), None)),
                SlurmDecision::Stop
            );
        }

        #[test]
        fn oom_doubles_memory_and_failures_stop() {
            let oom = default_rule(OutcomeClass::OutOfMemory);
            assert_eq!(
                decide_slurm(OutcomeClass::OutOfMemory, &oom, 1, (None, Some(500))),
                SlurmDecision::Restart {
                    time_limit_s: None,
                    mem_mb: Some(1000)
                }
            );
            assert_eq!(
                decide_slurm(
                    OutcomeClass::Failed,
                    &default_rule(OutcomeClass::Failed),
                    1,
                    (None, None)
                ),
                SlurmDecision::Stop
            );
            assert_eq!(
                decide_slurm(OutcomeClass::Completed, &oom, 1, (None, None)),
                SlurmDecision::Done
            );
        }
    }
}
