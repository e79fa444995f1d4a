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
