//! A run's event log: every start, end, retry, block, reset and stop, in the order written.

use crate::store::{EventRow, Store, StoreError};

/// The event log of one run, oldest first.
#[derive(Debug, Clone)]
pub struct EventLog {
    /// The run id.
    pub run: String,
    /// Every event, in the order the store wrote them: the order the changes were applied,
    /// which the log's ids keep (timestamps come from several clocks and processes).
    pub events: Vec<EventRow>,
}

impl EventLog {
    /// Loads the event log of `run` (`None`: the latest run).
    pub fn load(store: &Store, run: Option<&str>) -> Result<EventLog, StoreError> {
        let run = store.resolve_run(run)?;
        let events = store.events(&run)?;
        Ok(EventLog { run, events })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::Fixture;
    use crate::store::TaskState;

    /// The log starts with the run's creation and plan, then follows the attempts as applied.
    #[test]
    fn events_come_in_the_order_written() {
        let mut f = Fixture::new(
            "[experiment]\nname = \"e\"\ncommand = \"echo {x}\"\n[params]\nx = [1, 2]\n",
        );
        let k = f.keys();
        f.finish(&k[1], TaskState::Done, None);
        f.finish(&k[0], TaskState::Failed, None);
        let log = EventLog::load(&f.store, Some("r1")).unwrap();
        let seen: Vec<(&str, Option<&str>)> = log
            .events
            .iter()
            .map(|e| (e.kind.as_str(), e.task_key.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("run_created", None),
                ("plan_synced", None),
                ("started", Some(k[1].as_str())),
                ("finished", Some(k[1].as_str())),
                ("started", Some(k[0].as_str())),
                ("finished", Some(k[0].as_str())),
            ]
        );
        assert_eq!(
            log.events[5].detail.as_deref(),
            Some("attempt 1: failed (exit code 1) -> failed")
        );
    }
}
