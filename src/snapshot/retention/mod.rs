//! Which snapshots `labtrail snapshots prune` keeps.
//!
//! - [`restic`]: restic's `forget` rules, exactly (calendar buckets in each snapshot's own
//!   offset, newest per bucket, rules ORed, durations relative to the latest snapshot not in the
//!   future, future ones never removed by a duration, the oldest kept when a rule is short);
//! - [`seed`]: the seed's policy (active experiment: all; completed: one a day; completed more
//!   than 6 months ago: one a month), and the snapshots always kept (each experiment's first and
//!   last, every one where its state changed).

pub mod restic;
pub mod seed;

/// Why a snapshot is kept or removed, one line per reason (`daily 2026-01-27`, `last 3`,
/// `within 2d`, `active experiment mono_s2s`, `first of mono_s2s`,
/// `state change of mono_s2s (jobs)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The snapshot (its file name).
    pub id: String,
    /// Kept.
    pub keep: bool,
    /// The reasons it is kept (empty when removed).
    pub reasons: Vec<String>,
}
