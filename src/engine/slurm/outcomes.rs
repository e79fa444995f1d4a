//! How many attempts of a task ended with each outcome, which the restart policy counts
//! against a rule's `max_attempts`. Read from the store task by task, at a task's first need in
//! a poll: one read of every ended attempt of the run cost a poll where jobs finished ~25 ms
//! at 10^5 attempts, and grows with the run (issue 15).

use super::poll::Batch;
use super::Monitor;
use crate::outcome::Outcome;
use crate::store::StoreError;
use std::collections::{HashMap, HashSet};

/// Attempts per (task key, outcome): the store's, for the tasks read so far, plus the
/// outcomes this poll decided since the counts were first needed.
#[derive(Debug, Default)]
pub(super) struct OutcomeCounts {
    counts: HashMap<(String, Outcome), u32>,
    /// Tasks whose stored counts were added.
    read: HashSet<String>,
}

impl OutcomeCounts {
    /// One more attempt of `key` ended as `outcome` this poll.
    pub fn add(&mut self, key: &str, outcome: Outcome) {
        *self.counts.entry((key.to_string(), outcome)).or_insert(0) += 1;
    }
}

impl Monitor<'_> {
    /// The count of `key`'s attempts that ended as `outcome` (see [`OutcomeCounts`]).
    pub(super) fn outcome_count<'b>(
        &self,
        key: &str,
        outcome: Outcome,
        b: &'b mut Batch,
    ) -> Result<&'b mut u32, StoreError> {
        let counts = b.outcomes.get_or_insert_with(OutcomeCounts::default);
        if !counts.read.contains(key) {
            for (stored, n) in self.store.outcome_counts_of(&self.run, key)? {
                *counts.counts.entry((key.to_string(), stored)).or_insert(0) += n;
            }
            counts.read.insert(key.to_string());
        }
        Ok(counts.counts.entry((key.to_string(), outcome)).or_insert(0))
    }
}
