//! Read-only models behind `labtrail snapshots`: the timeline, what was running at a time, a
//! job's lifetime, a flag's first appearance, an experiment's course and its estimated
//! completion; each one query over the snapshot index.
//!
//! Times given by the asker are read in this machine's time zone ([`parse_when`]); times shown
//! are the snapshots' own RFC 3339 strings (JSON) or local `YYYY-MM-DD HH:MM` (tables).

mod at;
mod experiment;
mod experiment_stages;
mod job;
mod timeline;

pub use at::{at, AtView};
pub use experiment::{experiment, ran_text, Alongside, ExperimentCourse, UNKNOWN_START};
pub use experiment_stages::{describe, Estimate, StageDone};
pub use job::{flag, job, FlagArrival, JobLife, StateSpan};
pub use timeline::{timeline, Timeline, TimelineRow};

use crate::store::snapshot_index::IndexDbError;

/// Why a snapshot query has no answer.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotQueryError {
    /// The index could not answer.
    #[error(transparent)]
    Index(#[from] IndexDbError),
    /// Nothing matches what was asked (a job, flag or experiment never seen, a time before
    /// the first snapshot): the message says what there is instead.
    #[error("{0}")]
    NotFound(String),
    /// A time the asker gave that is not one.
    #[error("{flag} {value:?}: not a time; use RFC 3339 (2026-01-27T18:00:00+01:00), a local `2026-01-27 18:00`, a date `2026-01-27`, `now`, `today 18:00` or `yesterday 18:00`")]
    BadTime {
        /// The option (`--at`, `--since`, `--until`).
        flag: String,
        /// What was given.
        value: String,
    },
}

/// A time range in Unix seconds, `from` inclusive, `to` exclusive; open ends are none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    /// The earliest instant, inclusive.
    pub from: Option<i64>,
    /// The instant after the last, exclusive.
    pub to: Option<i64>,
}

impl Range {
    fn bounds(self) -> (i64, i64) {
        (self.from.unwrap_or(i64::MIN), self.to.unwrap_or(i64::MAX))
    }
}

/// Reads a time the asker typed, in Unix seconds: RFC 3339 with an offset, a local date and
/// time (`2026-01-27 18:00`, `2026-01-27T18:00:00`), a local date (its start, or with
/// `end_of_day` the next day's start: `--until 2026-01-27` includes that day), `now`, `today`
/// or `yesterday` with an optional `HH:MM`.
pub fn parse_when(flag: &str, text: &str, end_of_day: bool) -> Result<i64, SnapshotQueryError> {
    let bad = || SnapshotQueryError::BadTime {
        flag: flag.to_string(),
        value: text.to_string(),
    };
    let tz = jiff::tz::TimeZone::system();
    let t = text.trim();
    if t == "now" {
        return Ok(jiff::Timestamp::now().as_second());
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts.as_second());
    }
    let local = |dt: jiff::civil::DateTime| -> Result<i64, SnapshotQueryError> {
        let z = dt.to_zoned(tz.clone()).map_err(|_| bad())?;
        Ok(z.timestamp().as_second())
    };
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        if t.len() > 10 {
            return local(dt);
        }
    }
    let (day, rest) = match t.split_once(' ') {
        Some((d, r)) => (d, Some(r.trim())),
        None => (t, None),
    };
    let today = jiff::Zoned::now().with_time_zone(tz.clone()).date();
    let date = match day {
        "today" => today,
        "yesterday" => today.yesterday().map_err(|_| bad())?,
        d => d.parse::<jiff::civil::Date>().map_err(|_| bad())?,
    };
    match rest {
        Some(time) => {
            let time: jiff::civil::Time = time.parse().map_err(|_| bad())?;
            local(date.to_datetime(time))
        }
        None if end_of_day => local(
            date.tomorrow()
                .map_err(|_| bad())?
                .to_datetime(jiff::civil::Time::midnight()),
        ),
        None => local(date.to_datetime(jiff::civil::Time::midnight())),
    }
}

/// A job's seconds of run time as a snapshot recorded them: `elapsed_s`, or (seed 000's files,
/// which have only squeue's text) its `time` read back.
pub fn job_elapsed(job: &crate::snapshot::model::Job) -> u64 {
    if job.elapsed_s > 0 {
        return job.elapsed_s;
    }
    parse_squeue_time(&job.time).unwrap_or(0)
}

/// squeue's `%M` text (`M:SS`, `H:MM:SS`, `D-HH:MM:SS`) in seconds; none when it is not one.
pub fn parse_squeue_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let (days, clock) = match text.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let mut secs: u64 = 0;
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    for part in parts {
        let n: u64 = part.parse().ok()?;
        secs = secs.checked_mul(60)?.checked_add(n)?;
    }
    days.checked_mul(86_400)?.checked_add(secs)
}

/// Seconds as squeue prints them (`M:SS`, `H:MM:SS`, `D-HH:MM:SS`).
pub fn squeue_time(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h) {
        (0, 0) => format!("{m}:{s:02}"),
        (0, _) => format!("{h}:{m:02}:{s:02}"),
        _ => format!("{d}-{h:02}:{m:02}:{s:02}"),
    }
}

/// Unix seconds as local `YYYY-MM-DD HH:MM`.
pub fn local_time(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| epoch.to_string())
}

/// Seconds in words a person reads at a glance: `45 s`, `12 m`, `4 h 10 m`, `3 d 2 h`.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let sign = if seconds < 0 { "-" } else { "" };
    let text = match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} m", s / 60),
        3600..=86_399 => format!("{} h {} m", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    };
    format!("{sign}{text}")
}

/// Bytes in `du -h`'s style, for disk deltas (signed).
pub fn human_bytes(bytes: i64) -> String {
    let mut value = bytes.unsigned_abs() as f64;
    let sign = if bytes < 0 { "-" } else { "" };
    let mut unit = 0;
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 10.0 {
        format!("{sign}{:.0}{}", value, UNITS[unit])
    } else {
        format!("{sign}{:.1}{}", value, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: the time forms `--at`, `--since` and `--until` take.
    #[test]
    fn times_the_asker_types_are_read() {
        let utc = parse_when("--at", "2026-01-27T18:00:00+00:00", false).unwrap();
        assert_eq!(utc, 1_769_536_800);
        let local = parse_when("--at", "2026-01-27 18:00", false).unwrap();
        assert_eq!(
            local,
            parse_when("--at", "2026-01-27T18:00:00", false).unwrap()
        );
        let day = parse_when("--since", "2026-01-27", false).unwrap();
        let end = parse_when("--until", "2026-01-27", true).unwrap();
        assert_eq!(end - day, 86_400);
        assert!(parse_when("--at", "yesterday 18:00", false).is_ok());
        assert!(parse_when("--at", "someday", false).is_err());
        assert_eq!(human_duration(15_000), "4 h 10 m");
        assert_eq!(human_bytes(-1536), "-1.5K");
    }

    /// Issue 13 (review r2 F9): squeue's time text read back and written again.
    #[test]
    fn squeue_times_round_trip() {
        assert_eq!(parse_squeue_time("1-01:38:04"), Some(92_284));
        assert_eq!(parse_squeue_time("1:38:04"), Some(5884));
        assert_eq!(parse_squeue_time("0:05"), Some(5));
        assert_eq!(parse_squeue_time("INVALID"), None);
        for s in [5, 5884, 92_284] {
            assert_eq!(parse_squeue_time(&squeue_time(s)), Some(s));
        }
    }
}
