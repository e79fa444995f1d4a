//! Task states and attempt counts as a poll leaves them: the store's, as the monitor keeps them
//! between polls, with what this poll changed laid over them. A poll changes a few tasks; at
//! 10^5 tasks, copying every state and count into maps of the poll's own (and dropping them)
//! took ~40 ms of every poll (issue 15).

use super::Map;
use crate::store::TaskState;
use std::collections::HashMap;

/// Task states and attempt counts by task key: the store's at the poll's start, under this
/// poll's changes.
#[derive(Default)]
pub(super) struct TaskStates {
    /// What the store held when the poll started (state, attempts made), by task key.
    stored: HashMap<String, (TaskState, u32)>,
    /// States this poll set.
    states: Map<String, TaskState>,
    /// Attempt counts this poll set.
    attempts: Map<String, u32>,
}

impl TaskStates {
    /// Starts from `stored`, the store's states and attempt counts (given back by
    /// [`TaskStates::into_stored`]).
    pub fn over(stored: HashMap<String, (TaskState, u32)>) -> TaskStates {
        TaskStates {
            stored,
            ..TaskStates::default()
        }
    }

    /// Task `key`'s state as this poll leaves it; None for a task the run's plan does not have
    /// and this poll did not set.
    pub fn get(&self, key: &str) -> Option<TaskState> {
        match self.states.get(key) {
            Some(&s) => Some(s),
            None => self.stored.get(key).map(|s| s.0),
        }
    }

    /// Sets task `key`'s state.
    pub fn insert(&mut self, key: String, state: TaskState) {
        self.states.insert(key, state);
    }

    /// How many attempts task `key` has made, as this poll leaves it.
    pub fn attempts(&self, key: &str) -> Option<u32> {
        match self.attempts.get(key) {
            Some(&n) => Some(n),
            None => self.stored.get(key).map(|s| s.1),
        }
    }

    /// Sets how many attempts task `key` has made.
    pub fn set_attempts(&mut self, key: String, attempts: u32) {
        self.attempts.insert(key, attempts);
    }

    /// Every task whose state this poll leaves `state`, in no particular order.
    pub fn keys_in(&self, state: TaskState) -> impl Iterator<Item = &str> + '_ {
        let stored = self
            .stored
            .iter()
            .filter(move |(k, s)| self.states.get(k.as_str()).map_or(s.0, |&s| s) == state)
            .map(|(k, _)| k.as_str());
        let set_here = self
            .states
            .iter()
            .filter(move |(k, &s)| s == state && !self.stored.contains_key(k.as_str()))
            .map(|(k, _)| k.as_str());
        stored.chain(set_here)
    }

    /// The store's states and attempt counts this started from, unchanged by the poll.
    pub fn into_stored(self) -> HashMap<String, (TaskState, u32)> {
        self.stored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the poll set hides what the store held, a task the poll added is found, and the
    /// store's states come back unchanged.
    #[test]
    fn changes_lie_over_the_stored_states() {
        let stored: HashMap<String, (TaskState, u32)> = [
            ("a".to_string(), (TaskState::Pending, 0)),
            ("b".to_string(), (TaskState::Running, 1)),
            ("c".to_string(), (TaskState::Pending, 2)),
        ]
        .into_iter()
        .collect();
        let mut t = TaskStates::over(stored.clone());
        t.insert("a".into(), TaskState::Running);
        t.insert("b".into(), TaskState::Pending);
        t.insert("new".into(), TaskState::Pending);
        t.set_attempts("a".into(), 1);
        assert_eq!(t.get("a"), Some(TaskState::Running));
        assert_eq!(t.get("c"), Some(TaskState::Pending));
        assert_eq!(t.get("none"), None);
        assert_eq!((t.attempts("a"), t.attempts("c")), (Some(1), Some(2)));
        let mut pending: Vec<&str> = t.keys_in(TaskState::Pending).collect();
        pending.sort();
        assert_eq!(pending, ["b", "c", "new"]);
        assert_eq!(t.into_stored(), stored);
    }
}
