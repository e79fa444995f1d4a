//! Human durations in experiment files and flags: `90s`, `2h`, `1h30m`, `1.5d`, or `HH:MM:SS`.

use std::time::Duration;

/// The longest duration accepted: 365 days. Longer ones are typos, and deadlines computed from
/// them would overflow the clock.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86400);

/// Parses a human duration. Accepts `0`, a number with a unit (`ms`, `s`, `m`, `h`, `d`), several
/// such parts (`1h30m`), or SLURM-style `[D-]HH:MM:SS` / `MM:SS`; at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = parse_unbounded(text)?;
    if d > MAX_DURATION {
        return Err(format!(
            "`{}` is longer than the limit of 365 days (365d)",
            text.trim()
        ));
    }
    Ok(d)
}

/// Parses without the upper limit; a number too large for any duration is still an error.
fn parse_unbounded(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.contains(':') {
        return parse_clock(t);
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{t}` has a number without a unit (write e.g. `{t}s`)"))?;
        if num_len == 0 {
            return Err(format!(
                "`{t}` is not a duration (examples: `30s`, `2h`, `1h30m`, `04:00:00`)"
            ));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{}` is not a number", &rest[..num_len]))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{t}` (use ms, s, m, h or d)"
                ))
            }
        };
        total += value * factor;
        rest = &rest[unit_len..];
    }
    // Checked, as `from_secs_f64` panics on what does not fit (a long run of digits is infinite).
    Duration::try_from_secs_f64(total)
        .map_err(|_| format!("`{t}` is longer than the limit of 365 days (365d)"))
}

fn parse_clock(t: &str) -> Result<Duration, String> {
    let bad = || format!("`{t}` is not a duration of the form [D-]HH:MM:SS or MM:SS");
    let (days, clock) = match t.split_once('-') {
        Some((d, c)) => (d.parse::<u64>().map_err(|_| bad())?, c),
        None => (0, t),
    };
    let parts: Vec<u64> = clock
        .split(':')
        .map(|p| p.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let too_long = || format!("`{t}` is longer than the limit of 365 days (365d)");
    let sum = |terms: &[(u64, u64)]| {
        terms.iter().try_fold(0u64, |acc, &(n, unit)| {
            n.checked_mul(unit).and_then(|x| acc.checked_add(x))
        })
    };
    let secs = match parts.as_slice() {
        [m, s] => sum(&[(days, 86400), (*m, 60), (*s, 1)]),
        [h, m, s] => sum(&[(days, 86400), (*h, 3600), (*m, 60), (*s, 1)]),
        _ => return Err(bad()),
    };
    secs.map(Duration::from_secs).ok_or_else(too_long)
}

/// Formats a duration compactly for people: `1h02m`, `3m05s`, `4.2s`, `850ms`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 86400 {
        format!("{}d{:02}h", secs / 86400, (secs % 86400) / 3600)
    } else if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else if secs >= 1 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_compounds_and_clocks() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1.5d").unwrap(), Duration::from_secs(129600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_duration("04:00:00").unwrap(),
            Duration::from_secs(14400)
        );
        assert_eq!(
            parse_duration("1-02:00:00").unwrap(),
            Duration::from_secs(93600)
        );
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert!(parse_duration("10").unwrap_err().contains("without a unit"));
        assert!(parse_duration("3w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("a:b").is_err());
        assert!(parse_duration("").is_err());
    }

    /// Issue 9: `99999999999999h` was accepted, and a deadline computed from it overflows.
    #[test]
    fn refuses_durations_beyond_the_limit() {
        assert_eq!(parse_duration("365d").unwrap(), MAX_DURATION);
        for text in [
            "366d",
            "99999999999999h",
            &"9".repeat(400),
            &format!("{}s", "9".repeat(400)),
            "99999999999999999-00:00:00",
            "99999999999999999:00:00",
        ] {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains("365 days") || e.contains("unit"), "{text}: {e}");
        }
    }
}
