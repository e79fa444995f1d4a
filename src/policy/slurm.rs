//! The SLURM engine's policy: the experiment's `[restart]` rules, counted over the task's
//! whole history.

use crate::outcome::Outcome;
use crate::spec::slurm::{Action, Rule};

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
    class: Outcome,
    rule: &Rule,
    count: u32,
    limits: (Option<u64>, Option<u64>),
) -> SlurmDecision {
    if class == Outcome::Success {
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
        let rule = default_rule(Outcome::Timeout);
        assert_eq!(
            decide_slurm(Outcome::Timeout, &rule, 1, (Some(600), Some(1024))),
            SlurmDecision::Restart {
                time_limit_s: Some(900),
                mem_mb: Some(1024)
            }
        );
        assert_eq!(
            decide_slurm(Outcome::Timeout, &rule, 3, (Some(600), None)),
            SlurmDecision::Stop
        );
    }

    #[test]
    fn oom_doubles_memory_and_failures_stop() {
        let oom = default_rule(Outcome::OutOfMemory);
        assert_eq!(
            decide_slurm(Outcome::OutOfMemory, &oom, 1, (None, Some(500))),
            SlurmDecision::Restart {
                time_limit_s: None,
                mem_mb: Some(1000)
            }
        );
        assert_eq!(
            decide_slurm(
                Outcome::Failed,
                &default_rule(Outcome::Failed),
                1,
                (None, None)
            ),
            SlurmDecision::Stop
        );
        assert_eq!(
            decide_slurm(Outcome::Success, &oom, 1, (None, None)),
            SlurmDecision::Done
        );
    }
}
