//! The local engine's policy: retries with a doubling backoff, counted per invocation.

use crate::outcome::Outcome;
use std::time::Duration;

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
pub fn decide(outcome: Outcome, tries: u32, retries: u32, backoff: Duration) -> Decision {
    match outcome {
        Outcome::Success => Decision::Done,
        Outcome::Interrupted => Decision::Interrupted,
        // The task's own failure; the SLURM-only outcomes never reach this policy, and count as
        // failures if they did.
        Outcome::Failed
        | Outcome::Timeout
        | Outcome::Killed
        | Outcome::Preempted
        | Outcome::NodeFail
        | Outcome::OutOfMemory
        | Outcome::Cancelled
        | Outcome::Lost
        | Outcome::Withdrawn
        | Outcome::Superseded
        | Outcome::Requeued => {
            if tries <= retries {
                let factor = 2u32.saturating_pow(tries.saturating_sub(1).min(20));
                Decision::Retry(backoff.saturating_mul(factor).min(MAX_BACKOFF))
            } else {
                Decision::Fail
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_with_doubling_backoff_then_fails() {
        let b = Duration::from_secs(10);
        assert_eq!(
            decide(Outcome::Failed, 1, 2, b),
            Decision::Retry(Duration::from_secs(10))
        );
        assert_eq!(
            decide(Outcome::Timeout, 2, 2, b),
            Decision::Retry(Duration::from_secs(20))
        );
        assert_eq!(decide(Outcome::Failed, 3, 2, b), Decision::Fail);
        assert_eq!(decide(Outcome::Killed, 1, 0, b), Decision::Fail);
    }

    #[test]
    fn success_and_interruption_do_not_use_retries() {
        assert_eq!(
            decide(Outcome::Success, 5, 0, Duration::ZERO),
            Decision::Done
        );
        assert_eq!(
            decide(Outcome::Interrupted, 9, 0, Duration::ZERO),
            Decision::Interrupted
        );
    }

    #[test]
    fn backoff_is_capped() {
        assert_eq!(
            decide(Outcome::Failed, 30, 100, Duration::from_secs(10)),
            Decision::Retry(MAX_BACKOFF)
        );
    }
}
