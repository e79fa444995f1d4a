//! restic's `forget` policy (`doc/060_forget.rst`, `internal/restic/snapshot_policy.go`), exact.

use super::Decision;

/// How many of a rule to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// The newest N buckets.
    N(u32),
    /// Every bucket (restic's `-1` / `unlimited`).
    Unlimited,
}

/// The rules; a snapshot any rule selects is kept. All `None`: keep everything (restic refuses
/// an empty policy rather than removing everything).
#[derive(Debug, Clone, Default)]
pub struct KeepRules {
    /// `--keep-last`.
    pub last: Option<Count>,
    /// `--keep-hourly`.
    pub hourly: Option<Count>,
    /// `--keep-daily`.
    pub daily: Option<Count>,
    /// `--keep-weekly`.
    pub weekly: Option<Count>,
    /// `--keep-monthly`.
    pub monthly: Option<Count>,
    /// `--keep-yearly`.
    pub yearly: Option<Count>,
    /// `--keep-within`: relative to the latest snapshot.
    pub within: Option<jiff::Span>,
}

/// One snapshot as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its id (file name).
    pub id: String,
    /// When it was taken, in the time zone its buckets are taken in (local time).
    pub time: jiff::Zoned,
}

/// Applies the rules to `items` (any order); returns one decision per item, newest first.
pub fn apply(items: &[Item], rules: &KeepRules) -> Vec<Decision> {
    let _ = (items, rules);
    todo!("lane D")
}
