//! The runs in the store and how far each is: behind `labtrail list`.

use crate::store::{RunSummary, Store, StoreError};

/// Every run in the store, oldest first, with the task counts of its current plan. The running
/// tasks of a run whose runner is gone count as interrupted ([`super::runner`]).
pub fn list(store: &Store) -> Result<Vec<RunSummary>, StoreError> {
    let mut runs = store.list_runs()?;
    for r in runs.iter_mut().filter(|r| r.running > 0) {
        if super::runner::gone(store, &r.id)? {
            r.interrupted += std::mem::take(&mut r.running);
        }
    }
    Ok(runs)
}

/// Where a run stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Every task is done.
    Finished,
    /// Some task failed or is blocked by a failure: running it again needs a fix first, most
    /// likely, so this is told apart from a run that merely stopped.
    HasFailures,
    /// Not done, but nothing failed: resuming continues it.
    Unfinished,
}

impl Progress {
    /// Where `run` stands.
    pub fn of(run: &RunSummary) -> Progress {
        if run.finished() {
            Progress::Finished
        } else if run.failed + run.blocked > 0 {
            Progress::HasFailures
        } else {
            Progress::Unfinished
        }
    }

    /// The words `labtrail list` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Progress::Finished => "finished",
            Progress::HasFailures => "has failures",
            Progress::Unfinished => "unfinished",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::Fixture;
    use crate::store::TaskState;

    #[test]
    fn progress_follows_the_counts() {
        let mut f = Fixture::new(
            "[experiment]\nname = \"p\"\ncommand = \"echo {x}\"\n[params]\nx = [1, 2]\n",
        );
        let k = f.keys();
        let progress = |f: &Fixture| Progress::of(&list(&f.store).unwrap()[0]);
        assert_eq!(progress(&f), Progress::Unfinished);
        f.finish(&k[0], TaskState::Failed, None);
        assert_eq!(progress(&f), Progress::HasFailures);
        f.finish(&k[0], TaskState::Done, None);
        f.finish(&k[1], TaskState::Done, None);
        assert_eq!(progress(&f).as_str(), "finished");
        let runs = list(&f.store).unwrap();
        assert_eq!(
            (runs.len(), runs[0].id.as_str(), runs[0].done),
            (1, "r1", 2)
        );
    }
}
