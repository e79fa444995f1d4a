//! Times in a snapshot: RFC 3339 with the local UTC offset (`2026-01-27T18:00:00+01:00`), from
//! the scheduler's offset-less local times, the store's UTC times and file modification times.

use jiff::{civil::DateTime, tz::TimeZone, Timestamp, Zoned};

/// The form every snapshot time has.
const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%:z";

fn format(z: &Zoned) -> String {
    z.strftime(FORMAT).to_string()
}

/// Now, in the local time zone.
pub(crate) fn now() -> String {
    format(&Zoned::now())
}

/// A time squeue or sacct printed (`2026-11-23T11:09:34`, the cluster's local time) with its
/// offset; none for a value that is not a time (`N/A`, `Unknown`).
pub(crate) fn local_from_civil(text: &str) -> Option<String> {
    let t: DateTime = text.trim().parse().ok()?;
    t.to_zoned(TimeZone::system()).ok().map(|z| format(&z))
}

/// A store time (UTC, `...Z`) in the local time zone.
pub(crate) fn local_from_utc(text: &str) -> Option<String> {
    let t: Timestamp = text.trim().parse().ok()?;
    Some(format(&t.to_zoned(TimeZone::system())))
}

/// A file's modification time.
pub(crate) fn local_from_system(at: std::time::SystemTime) -> Option<String> {
    let t = Timestamp::try_from(at).ok()?;
    Some(format(&t.to_zoned(TimeZone::system())))
}

/// A snapshot time back as the local wall-clock time SLURM's commands take.
pub(crate) fn civil_of(text: &str) -> Option<DateTime> {
    let t: Timestamp = text.trim().parse().ok()?;
    Some(t.to_zoned(TimeZone::system()).datetime())
}

#[cfg(test)]
mod tests {
    /// Issue 13: every time carries the offset of the zone it was read in.
    #[test]
    fn times_carry_the_local_offset() {
        // jiff reads TZ when asked for the system zone; set for this process only.
        let cet = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let t: jiff::civil::DateTime = "2026-01-27T18:00:00".parse().unwrap();
        let z = t.to_zoned(cet).unwrap();
        assert_eq!(super::format(&z), "2026-01-27T18:00:00+01:00");
        assert_eq!(super::local_from_civil("N/A"), None);
        let back = super::civil_of("2026-01-27T17:00:00Z").unwrap();
        assert_eq!(
            super::local_from_civil(&back.to_string()).and_then(|s| super::civil_of(&s)),
            Some(back)
        );
    }
}
