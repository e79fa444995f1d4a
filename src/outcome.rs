//! How an attempt ended: one vocabulary for both engines, the policy, the experiment file's
//! `[restart]` rules and the store's `attempts.outcome` column.
//!
//! An outcome is stored by its name ([`Outcome::as_str`]) and read back with [`Outcome::parse`];
//! the names are part of the store's format and of `tasks --json`, so a variant's name never
//! changes once released, and a new variant comes with a schema migration: an older labtrail
//! then refuses the store instead of meeting a name it cannot read. A name outside the
//! vocabulary is therefore damage, which reading reports and `labtrail check` names.

use std::fmt;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Exit code 0, a readable result and, if configured, the success marker.
    Success,
    /// Non-zero exit code, unreadable result, or the command could not start.
    Failed,
    /// Ended by its time limit (labtrail's `timeout`, SLURM's `--time`).
    Timeout,
    /// Local: killed by a signal labtrail did not send (a user's kill, the OOM killer).
    Killed,
    /// Stopped because labtrail was asked to stop (Ctrl+C, SIGTERM) or its runner died.
    Interrupted,
    /// SLURM: preempted by a job of higher priority.
    Preempted,
    /// SLURM: the node failed.
    NodeFail,
    /// SLURM: over its memory request.
    OutOfMemory,
    /// SLURM: cancelled by someone other than labtrail.
    Cancelled,
    /// SLURM: no trace in squeue, sacct or the attempt folder after the grace period.
    Lost,
    /// SLURM: cancelled by labtrail before it started, because its upstream did not succeed; not
    /// counted against the task.
    Withdrawn,
    /// SLURM: its job is gone and another job carrying the task's name took over.
    Superseded,
    /// SLURM: requeued by the scheduler under the same job id.
    Requeued,
}

impl Outcome {
    /// Every outcome, in a fixed order.
    pub const ALL: [Outcome; 13] = [
        Self::Success,
        Self::Failed,
        Self::Timeout,
        Self::Killed,
        Self::Interrupted,
        Self::Preempted,
        Self::NodeFail,
        Self::OutOfMemory,
        Self::Cancelled,
        Self::Lost,
        Self::Withdrawn,
        Self::Superseded,
        Self::Requeued,
    ];

    /// The outcomes of a SLURM attempt that a `[restart]` rule may name, in the order the
    /// experiment file's help lists them.
    pub const RULED: [Outcome; 7] = [
        Self::Failed,
        Self::Timeout,
        Self::Preempted,
        Self::NodeFail,
        Self::OutOfMemory,
        Self::Cancelled,
        Self::Lost,
    ];

    /// The name stored in the attempt history and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Killed => "killed",
            Self::Interrupted => "interrupted",
            Self::Preempted => "preempted",
            Self::NodeFail => "node_fail",
            Self::OutOfMemory => "out_of_memory",
            Self::Cancelled => "cancelled",
            Self::Lost => "lost",
            Self::Withdrawn => "withdrawn",
            Self::Superseded => "superseded",
            Self::Requeued => "requeued",
        }
    }

    /// Position in [`Outcome::ALL`]; exhaustive, so a new variant cannot be left out of it (a
    /// test compares the two).
    #[cfg(test)]
    fn index(self) -> usize {
        match self {
            Self::Success => 0,
            Self::Failed => 1,
            Self::Timeout => 2,
            Self::Killed => 3,
            Self::Interrupted => 4,
            Self::Preempted => 5,
            Self::NodeFail => 6,
            Self::OutOfMemory => 7,
            Self::Cancelled => 8,
            Self::Lost => 9,
            Self::Withdrawn => 10,
            Self::Superseded => 11,
            Self::Requeued => 12,
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Outcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Parses an outcome named in an experiment file's `[restart]` section: a ruled outcome, or
    /// `completed` (SLURM's word for a success), which a log rule may name.
    pub fn parse_rule_name(s: &str) -> Option<Outcome> {
        match s {
            "completed" => Some(Self::Success),
            _ => Self::RULED.into_iter().find(|o| o.as_str() == s),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl rusqlite::types::ToSql for Outcome {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for Outcome {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let name = v.as_str()?;
        Outcome::parse(name).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(
                format!("unknown attempt outcome `{name}` (written by a newer labtrail?)").into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored names, pinned: renaming one would make every store written before unreadable.
    #[test]
    fn stored_names_never_change() {
        assert_eq!(
            Outcome::ALL.map(Outcome::as_str),
            [
                "success",
                "failed",
                "timeout",
                "killed",
                "interrupted",
                "preempted",
                "node_fail",
                "out_of_memory",
                "cancelled",
                "lost",
                "withdrawn",
                "superseded",
                "requeued"
            ]
        );
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(o.index(), i, "{o} is not where ALL lists it");
        }
    }

    /// Stored names are the format: each variant round-trips, and no two share a name.
    #[test]
    fn every_outcome_round_trips_by_name() {
        let mut names = std::collections::HashSet::new();
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            assert!(names.insert(o.as_str()), "{o} named twice");
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert_eq!(Outcome::parse("completed"), None);
        assert_eq!(
            Outcome::parse_rule_name("completed"),
            Some(Outcome::Success)
        );
        assert_eq!(Outcome::parse_rule_name("withdrawn"), None);
    }

    /// Through a real SQLite column, as the store writes and reads it.
    #[test]
    fn every_outcome_round_trips_through_sqlite() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch("CREATE TABLE t (o TEXT)").unwrap();
        for o in Outcome::ALL {
            db.execute("INSERT INTO t VALUES (?1)", [o]).unwrap();
        }
        let mut st = db.prepare("SELECT o FROM t ORDER BY rowid").unwrap();
        let back: Vec<Outcome> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, Outcome::ALL);
        db.execute("INSERT INTO t VALUES ('exploded')", []).unwrap();
        let err = db
            .query_row("SELECT o FROM t WHERE o = 'exploded'", [], |r| {
                r.get::<_, Outcome>(0)
            })
            .unwrap_err();
        assert!(err.to_string().contains("exploded"), "{err}");
    }
}
