//! restic's `forget` policy (`doc/060_forget.rst`, `internal/data/snapshot_policy.go`), exact.
//!
//! A port of restic's `ApplyPolicy`: snapshots newest first; each `--keep-<calendar> N` rule
//! keeps the newest snapshot of each of the newest N calendar buckets (hour, day, ISO week,
//! month, year in the snapshot's own time zone) that hold a snapshot, and the oldest snapshot too
//! while the rule still has counts left; `--keep-within D` keeps what is younger than the latest
//! snapshot minus D (Go's `AddDate` month arithmetic, then hours); `--keep-within-<calendar> D`
//! keeps the newest of each bucket within D; the latest snapshot is the newest one not in the
//! future, so future snapshots are never removed by a duration; a snapshot any rule selects is
//! kept. The reasons are restic's words (`daily snapshot`, `oldest monthly snapshot`,
//! `within 2d`, `daily within 7d`).

use super::Decision;
use jiff::civil::{Date, DateTime};
use jiff::{Span, Timestamp, Zoned};

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
    /// `--keep-within-hourly`: the newest of each hour within this of the latest snapshot.
    pub within_hourly: Option<jiff::Span>,
    /// `--keep-within-daily`.
    pub within_daily: Option<jiff::Span>,
    /// `--keep-within-weekly`.
    pub within_weekly: Option<jiff::Span>,
    /// `--keep-within-monthly`.
    pub within_monthly: Option<jiff::Span>,
    /// `--keep-within-yearly`.
    pub within_yearly: Option<jiff::Span>,
}

/// One snapshot as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its id (file name).
    pub id: String,
    /// When it was taken, in the time zone its buckets are taken in (the offset it was written
    /// with, as restic's).
    pub time: jiff::Zoned,
}

/// The calendar bucket a rule sorts a snapshot into (restic's `ymdh`, `ymd`, `yw`, `ym`, `y`;
/// `always` is the snapshot's position, so every snapshot is its own bucket).
#[derive(Debug, Clone, Copy)]
enum Bucket {
    Always,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Bucket {
    fn of(self, t: &Zoned, nr: usize) -> i64 {
        let (y, m, d, h) = (
            i64::from(t.year()),
            i64::from(t.month()),
            i64::from(t.day()),
            i64::from(t.hour()),
        );
        match self {
            Bucket::Always => nr as i64,
            Bucket::Hour => y * 1_000_000 + m * 10_000 + d * 100 + h,
            Bucket::Day => y * 10_000 + m * 100 + d,
            Bucket::Week => {
                let w = t.date().iso_week_date();
                i64::from(w.year()) * 100 + i64::from(w.week())
            }
            Bucket::Month => y * 100 + m,
            Bucket::Year => y,
        }
    }
}

impl KeepRules {
    /// No rule given: restic refuses to act on such a policy.
    pub fn is_empty(&self) -> bool {
        let counts = [
            self.last,
            self.hourly,
            self.daily,
            self.weekly,
            self.monthly,
            self.yearly,
        ];
        let spans = [
            self.within,
            self.within_hourly,
            self.within_daily,
            self.within_weekly,
            self.within_monthly,
            self.within_yearly,
        ];
        counts.iter().all(|c| matches!(c, None | Some(Count::N(0))))
            && spans.iter().all(|s| s.is_none_or(|s| span_is_zero(&s)))
    }

    /// The policy in restic's words (`keep 7 daily, all monthly snapshots and all snapshots
    /// within 2d of the newest`), for the prune commit's message.
    pub fn describe(&self) -> String {
        let mut counts = Vec::new();
        for (c, what) in [
            (self.last, "latest"),
            (self.hourly, "hourly"),
            (self.daily, "daily"),
            (self.weekly, "weekly"),
            (self.monthly, "monthly"),
            (self.yearly, "yearly"),
        ] {
            match c {
                Some(Count::N(n)) if n > 0 => counts.push(format!("{n} {what}")),
                Some(Count::Unlimited) => counts.push(format!("all {what}")),
                _ => {}
            }
        }
        let mut s = String::new();
        if !counts.is_empty() {
            s = format!("{} snapshots", counts.join(", "));
        }
        for (span, what) in self.within_rules() {
            if !s.is_empty() {
                s.push_str(", ");
            }
            s.push_str(&format!(
                "{what} snapshots within {}",
                format_duration(&span)
            ));
        }
        if let Some(w) = self.within.filter(|w| !span_is_zero(w)) {
            if !s.is_empty() {
                s.push_str(" and ");
            }
            s.push_str(&format!(
                "all snapshots within {} of the newest",
                format_duration(&w)
            ));
        }
        if s.is_empty() {
            "remove".to_string()
        } else {
            format!("keep {s}")
        }
    }

    fn count_rules(&self) -> [(Option<Count>, Bucket, &'static str); 6] {
        [
            (self.last, Bucket::Always, "last snapshot"),
            (self.hourly, Bucket::Hour, "hourly snapshot"),
            (self.daily, Bucket::Day, "daily snapshot"),
            (self.weekly, Bucket::Week, "weekly snapshot"),
            (self.monthly, Bucket::Month, "monthly snapshot"),
            (self.yearly, Bucket::Year, "yearly snapshot"),
        ]
    }

    fn within_rules(&self) -> Vec<(Span, &'static str)> {
        [
            (self.within_hourly, "hourly"),
            (self.within_daily, "daily"),
            (self.within_weekly, "weekly"),
            (self.within_monthly, "monthly"),
            (self.within_yearly, "yearly"),
        ]
        .into_iter()
        .filter_map(|(s, what)| s.filter(|s| !span_is_zero(s)).map(|s| (s, what)))
        .collect()
    }

    fn within_buckets(&self) -> [(Option<Span>, Bucket, &'static str); 5] {
        [
            (self.within_hourly, Bucket::Hour, "hourly within"),
            (self.within_daily, Bucket::Day, "daily within"),
            (self.within_weekly, Bucket::Week, "weekly within"),
            (self.within_monthly, Bucket::Month, "monthly within"),
            (self.within_yearly, Bucket::Year, "yearly within"),
        ]
    }
}

/// Applies the rules to `items` (any order); returns one decision per item, newest first.
pub fn apply(items: &[Item], rules: &KeepRules) -> Vec<Decision> {
    apply_at(items, rules, Timestamp::now())
}

/// [`apply`] as if run at `now` (snapshots after `now` do not count as the latest one).
/// Snapshots taken at the same instant keep their order in `items` (restic's stable sort).
pub fn apply_at(items: &[Item], rules: &KeepRules, now: Timestamp) -> Vec<Decision> {
    let mut list: Vec<&Item> = items.iter().collect();
    list.sort_by_key(|i| std::cmp::Reverse(i.time.timestamp()));
    if rules.is_empty() {
        // restic's `forget` refuses an empty policy instead of removing everything.
        return list
            .into_iter()
            .map(|i| Decision {
                id: i.id.clone(),
                keep: true,
                reasons: vec!["no rule given".to_string()],
            })
            .collect();
    }
    let latest = list
        .iter()
        .filter(|i| i.time.timestamp() < now)
        .max_by_key(|i| i.time.timestamp())
        .map(|i| &i.time);
    let threshold = |span: &Span| latest.and_then(|l| before_latest(l, span));
    // Counters left and the last bucket seen, per count rule.
    let mut counts: Vec<(Option<Count>, Option<i64>)> =
        rules.count_rules().iter().map(|r| (r.0, None)).collect();
    let mut within_last: [Option<i64>; 5] = [None; 5];
    let within = rules.within.filter(|w| !span_is_zero(w));
    let oldest = list.len().saturating_sub(1);

    let mut out = Vec::with_capacity(list.len());
    for (nr, cur) in list.iter().enumerate() {
        let mut reasons = Vec::new();
        let t = cur.time.timestamp();
        if let Some(w) = within {
            if threshold(&w).is_none_or(|th| t > th) {
                reasons.push(format!("within {}", format_duration(&w)));
            }
        }
        for (i, (_, bucket, reason)) in rules.count_rules().into_iter().enumerate() {
            let (left, last) = &mut counts[i];
            let active = match left {
                Some(Count::N(n)) => *n > 0,
                Some(Count::Unlimited) => true,
                None => false,
            };
            if !active {
                continue;
            }
            let val = bucket.of(&cur.time, nr);
            if *last != Some(val) || nr == oldest {
                let oldest_extra = *last == Some(val) && nr == oldest;
                *last = Some(val);
                if let Some(Count::N(n)) = left {
                    *n -= 1;
                }
                reasons.push(if oldest_extra {
                    format!("oldest {reason}")
                } else {
                    reason.to_string()
                });
            }
        }
        for (i, (span, bucket, reason)) in rules.within_buckets().into_iter().enumerate() {
            let Some(span) = span.filter(|s| !span_is_zero(s)) else {
                continue;
            };
            if threshold(&span).is_some_and(|th| t <= th) {
                continue;
            }
            let val = bucket.of(&cur.time, nr);
            let last = &mut within_last[i];
            if *last != Some(val) || nr == oldest {
                let prefix = if *last == Some(val) && nr == oldest {
                    "oldest "
                } else {
                    ""
                };
                *last = Some(val);
                reasons.push(format!("{prefix}{reason} {}", format_duration(&span)));
            }
        }
        out.push(Decision {
            id: cur.id.clone(),
            keep: !reasons.is_empty(),
            reasons,
        });
    }
    out
}

/// `latest` minus `span` as restic computes it: Go's `AddDate(-years, -months, -days)` (the
/// civil date normalised, so 31 March minus one month is 3 March, not 28 February), then minus
/// the hours as elapsed time. None when that falls outside the calendar jiff knows (then every
/// snapshot is within).
pub fn before_latest(latest: &Zoned, span: &Span) -> Option<Timestamp> {
    let months_total = i64::from(latest.year()) * 12 + i64::from(latest.month())
        - 1
        - i64::from(span.get_years()) * 12
        - i64::from(span.get_months());
    let year = i16::try_from(months_total.div_euclid(12)).ok()?;
    let month = (months_total.rem_euclid(12) + 1) as i8;
    let first = Date::new(year, month, 1).ok()?;
    let days = i64::from(latest.day()) - 1 - i64::from(span.get_days());
    let date = first.checked_add(Span::new().try_days(days).ok()?).ok()?;
    let civil = DateTime::from_parts(date, latest.time());
    let zoned = civil.to_zoned(latest.time_zone().clone()).ok()?;
    let hours = Span::new().try_hours(span.get_hours()).ok()?;
    zoned.checked_sub(hours).ok().map(|z| z.timestamp())
}

fn span_is_zero(s: &Span) -> bool {
    s.get_years() == 0 && s.get_months() == 0 && s.get_days() == 0 && s.get_hours() == 0
}

/// A duration in restic's form (`2y5m7d3h`: years, months, days, hours, any subset, in any
/// order).
pub fn parse_duration(text: &str) -> Result<Span, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err(
            "an empty duration: write it like 2y5m7d3h (years, months, days, hours)".into(),
        );
    }
    let (mut span, mut rest) = (Span::new(), s);
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "`{text}`: expected a number at `{rest}`; write it like 2y5m7d3h (years, months, days, hours)"
            ));
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}`: the number `{}` is too large", &rest[..digits]))?;
        let unit = rest[digits..].chars().next();
        let set = match unit {
            Some('y') => span.try_years(n),
            Some('m') => span.try_months(n),
            Some('d') => span.try_days(n),
            Some('h') => span.try_hours(n),
            None => return Err(format!("`{text}`: no unit after {n} (y, m, d or h)")),
            Some(u) => {
                return Err(format!(
                    "`{text}`: unknown unit `{u}` after {n}; units are y (years), m (months), d (days), h (hours)"
                ))
            }
        };
        span = set.map_err(|e| format!("`{text}`: {e}"))?;
        rest = &rest[digits + 1..];
    }
    Ok(span)
}

/// `span` in restic's form (`1y2m3d3h`, zero parts left out).
pub fn format_duration(span: &Span) -> String {
    let mut s = String::new();
    for (n, unit) in [
        (i64::from(span.get_years()), 'y'),
        (i64::from(span.get_months()), 'm'),
        (i64::from(span.get_days()), 'd'),
        (i64::from(span.get_hours()), 'h'),
    ] {
        if n != 0 {
            s.push_str(&format!("{n}{unit}"));
        }
    }
    s
}
