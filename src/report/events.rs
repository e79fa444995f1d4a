//! A run's event log: every start, end, retry, block, reset and stop, in the order written.

use crate::store::{EventRow, Store, StoreError};

/// The event log of one run, read as a stream: a log of millions of lines is never held.
#[derive(Clone)]
pub struct EventLog<'a> {
    store: &'a Store,
    /// The run id.
    pub run: String,
}

impl<'a> EventLog<'a> {
    /// The event log of `run` (`None`: the latest run).
    pub fn load(store: &'a Store, run: Option<&str>) -> Result<EventLog<'a>, StoreError> {
        let run = store.resolve_run(run)?;
        Ok(EventLog { store, run })
    }

    /// Calls `each` with every event in the order the store wrote them: the order the changes
    /// were applied, which the log's ids keep (timestamps come from several clocks and
    /// processes). Stops at the first error `each` returns. Each call reads the log again, so a
    /// caller that needs two passes (column widths, then lines) holds no more than one row.
    pub fn each<E: From<StoreError>>(
        &self,
        each: impl FnMut(EventRow) -> Result<(), E>,
    ) -> Result<(), E> {
        self.store.each_event(&self.run, each)
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
        let mut events = Vec::new();
        log.each::<StoreError>(|e| {
            events.push(e);
            Ok(())
        })
        .unwrap();
        let seen: Vec<(&str, Option<&str>)> = events
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
            events[5].detail.as_deref(),
            Some("attempt 1: failed (exit code 1) -> failed")
        );
    }
}
