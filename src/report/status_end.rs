//! When `status --watch` stops: the run has come to an end, and nothing will change it until
//! someone runs it again.

use super::status::Counts;

/// How a watched run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Every task is done.
    AllDone { total: usize },
    /// Nothing runs or can run: the tasks left failed, or wait for a failed one.
    Failed { failed: usize, blocked: usize },
    /// Tasks are left to run, and no runner holds the run's lock: it stopped (Ctrl+C, a signal,
    /// a crash, a slice of the run that is done) or never started.
    Stopped { left: usize },
}

impl Ending {
    /// Whether the run, as `counts` shows it, has ended; `runner_holds_lock`: a runner (or a
    /// SLURM monitor) held the run's lock when looked at, before the counts were read. A task
    /// running, or a task left to run while a runner holds the lock, is no end.
    pub fn of(counts: &Counts, runner_holds_lock: bool) -> Option<Ending> {
        if counts.running > 0 {
            return None;
        }
        let left = counts.pending + counts.interrupted;
        if left > 0 {
            return (!runner_holds_lock).then_some(Ending::Stopped { left });
        }
        if counts.failed + counts.blocked > 0 {
            return Some(Ending::Failed {
                failed: counts.failed,
                blocked: counts.blocked,
            });
        }
        Some(Ending::AllDone {
            total: counts.total,
        })
    }

    /// The exit code of `status --watch`: 0 when every task is done, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Ending::AllDone { .. } => 0,
            _ => 1,
        }
    }

    /// The last line `status --watch` prints.
    pub fn describe(&self, run: &str) -> String {
        match self {
            Ending::AllDone { total } => format!("run {run} has finished: all {total} tasks done"),
            Ending::Failed { failed, blocked } => format!(
                "run {run} has finished: {failed} failed, {blocked} blocked (`labtrail tasks --state failed` says why)"
            ),
            Ending::Stopped { left } => format!(
                "run {run} is not running: {left} task(s) not done and no runner holds the run (`labtrail run` resumes it)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(done: usize, running: usize, pending: usize, failed: usize) -> Counts {
        Counts {
            total: done + running + pending + failed,
            done,
            running,
            pending,
            failed,
            ..Default::default()
        }
    }

    /// A running task, or a task left while a runner holds the lock, keeps the watch going.
    #[test]
    fn an_end_is_nothing_running_and_nothing_left_or_no_runner() {
        assert_eq!(Ending::of(&counts(1, 1, 0, 0), false), None);
        assert_eq!(Ending::of(&counts(1, 0, 2, 0), true), None);
        let stopped = Ending::of(&counts(1, 0, 2, 0), false).unwrap();
        assert_eq!(stopped, Ending::Stopped { left: 2 });
        assert_eq!(stopped.exit_code(), 1);
        let done = Ending::of(&counts(3, 0, 0, 0), true).unwrap();
        assert_eq!(
            (done.clone(), done.exit_code()),
            (Ending::AllDone { total: 3 }, 0)
        );
        let failed = Ending::of(&counts(2, 0, 0, 1), true).unwrap();
        assert_eq!(failed.exit_code(), 1);
        assert!(failed.describe("r").contains("1 failed"));
    }
}
