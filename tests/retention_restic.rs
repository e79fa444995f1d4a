//! Issue 13: `snapshots prune`'s restic rules are restic's, exactly: the examples of restic's
//! `doc/060_forget.rst` and the edge cases its code decides (Go's month arithmetic, future
//! snapshots, local calendar days), run through `labtrail::snapshot::retention::restic`; its
//! own table test is in `retention_restic_golden.rs`.

use jiff::{tz::TimeZone, Span, Timestamp, Zoned};
use labtrail::snapshot::retention::restic::{
    apply, apply_at, parse_duration, Count, Item, KeepRules,
};
use labtrail::snapshot::retention::Decision;

fn d(s: &str) -> Option<Span> {
    Some(parse_duration(s).expect("duration"))
}

fn n(k: u32) -> Option<Count> {
    Some(Count::N(k))
}

fn utc(t: &str) -> Zoned {
    t.parse::<Timestamp>()
        .expect("time")
        .to_zoned(TimeZone::UTC)
}

/// The doc's example: weekday backups for two weeks, an extra one on Fridays, Wednesday missed.
fn doc_weekdays() -> Vec<Item> {
    [
        "2025-04-21T11:00:00Z",
        "2025-04-22T11:00:00Z",
        "2025-04-23T11:00:00Z",
        "2025-04-24T11:00:00Z",
        "2025-04-25T11:00:00Z",
        "2025-04-25T23:00:00Z",
        "2025-04-28T11:00:00Z",
        "2025-04-29T11:00:00Z",
        "2025-05-01T11:00:00Z",
        "2025-05-02T11:00:00Z",
        "2025-05-02T23:00:00Z",
    ]
    .iter()
    .map(|t| Item {
        id: t.to_string(),
        time: utc(t),
    })
    .collect()
}

fn kept_ids(decisions: &[Decision]) -> Vec<&str> {
    let mut ids: Vec<&str> = decisions
        .iter()
        .filter(|d| d.keep)
        .map(|d| d.id.as_str())
        .collect();
    ids.sort();
    ids
}

/// Issue 13: `forget --keep-daily 5` in restic's doc keeps one per day for the last five days
/// that had a snapshot, reaching back to the previous Friday past the missed Wednesday.
#[test]
fn doc_keep_daily_5() {
    let rules = KeepRules {
        daily: n(5),
        ..KeepRules::default()
    };
    let decisions = apply(&doc_weekdays(), &rules);
    assert_eq!(
        kept_ids(&decisions),
        [
            "2025-04-25T23:00:00Z",
            "2025-04-28T11:00:00Z",
            "2025-04-29T11:00:00Z",
            "2025-05-01T11:00:00Z",
            "2025-05-02T23:00:00Z",
        ]
    );
    assert!(decisions
        .iter()
        .filter(|d| d.keep)
        .all(|d| d.reasons == ["daily snapshot"]));
}

/// Issue 13: `forget --keep-within-daily 7d` in restic's doc keeps only the second week's days.
#[test]
fn doc_keep_within_daily_7d() {
    let rules = KeepRules {
        within_daily: d("7d"),
        ..KeepRules::default()
    };
    let decisions = apply(&doc_weekdays(), &rules);
    assert_eq!(
        kept_ids(&decisions),
        [
            "2025-04-28T11:00:00Z",
            "2025-04-29T11:00:00Z",
            "2025-05-01T11:00:00Z",
            "2025-05-02T23:00:00Z",
        ]
    );
    assert!(decisions
        .iter()
        .filter(|d| d.keep)
        .all(|d| d.reasons == ["daily within 7d"]));
}

/// Issue 13: restic's doc: a backup every Sunday for 12 weeks, `--keep-daily 4` keeps the last
/// four Sundays (days without a snapshot do not count).
#[test]
fn doc_twelve_sundays_keep_daily_4() {
    let first = utc("2025-01-05T12:00:00Z"); // a Sunday
    let items: Vec<Item> = (0..12)
        .map(|w| {
            let time = first.checked_add(Span::new().weeks(w)).expect("date");
            Item {
                id: format!("w{w:02}"),
                time,
            }
        })
        .collect();
    let decisions = apply(
        &items,
        &KeepRules {
            daily: n(4),
            ..KeepRules::default()
        },
    );
    assert_eq!(kept_ids(&decisions), ["w08", "w09", "w10", "w11"]);
}

/// Issue 13: restic's doc: a backup every day for 100 years, `--keep-daily 7 --keep-weekly 5
/// --keep-monthly 12 --keep-yearly 75` keeps 7 dailies, 4 more weeklies (the dailies hold one
/// week's last day: the series ends on a Sunday), 12 or 11 monthlies and 75 or 74 yearlies.
#[test]
fn doc_hundred_years_of_dailies() {
    let last = utc("2024-12-29T12:00:00Z"); // a Sunday
    let items: Vec<Item> = (0..36_525)
        .map(|back| Item {
            id: format!("d{back:05}"),
            time: last.checked_sub(Span::new().days(back)).expect("date"),
        })
        .collect();
    let rules = KeepRules {
        daily: n(7),
        weekly: n(5),
        monthly: n(12),
        yearly: n(75),
        ..KeepRules::default()
    };
    let kept: Vec<Decision> = apply(&items, &rules)
        .into_iter()
        .filter(|d| d.keep)
        .collect();
    let matching = |r: &str| {
        kept.iter()
            .filter(|d| d.reasons.iter().any(|x| x == r))
            .count()
    };
    for (rule, count) in [("daily", 7), ("weekly", 5), ("monthly", 12), ("yearly", 75)] {
        assert_eq!(matching(&format!("{rule} snapshot")), count, "{rule}");
    }
    let weekly_only = kept
        .iter()
        .filter(|d| d.reasons == ["weekly snapshot"])
        .count();
    assert_eq!(weekly_only, 4);
    let total = kept.len();
    assert!(
        (7 + 4 + 11 + 74..=7 + 4 + 12 + 75).contains(&total),
        "kept {total}"
    );
}

/// Issue 13: `--keep-within` subtracts months the way Go's `AddDate` does (31 March minus one
/// month is 3 March, not 28 February), as restic does.
#[test]
fn within_months_like_go_add_date() {
    let items = vec![
        Item {
            id: "latest".into(),
            time: utc("2025-03-31T12:00:00Z"),
        },
        Item {
            id: "mar02".into(),
            time: utc("2025-03-02T13:00:00Z"),
        },
        Item {
            id: "mar03".into(),
            time: utc("2025-03-03T12:30:00Z"),
        },
    ];
    let decisions = apply(
        &items,
        &KeepRules {
            within: d("1m"),
            ..KeepRules::default()
        },
    );
    assert_eq!(kept_ids(&decisions), ["latest", "mar03"]);
}

/// Issue 13: durations count from the latest snapshot not in the future; future snapshots are
/// kept by a duration rule, never removed.
#[test]
fn future_snapshots_are_not_the_latest() {
    let now: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
    let items = vec![
        Item {
            id: "future".into(),
            time: utc("2025-07-01T00:00:00Z"),
        },
        Item {
            id: "latest".into(),
            time: utc("2025-05-20T00:00:00Z"),
        },
        Item {
            id: "day-before".into(),
            time: utc("2025-05-19T01:00:00Z"),
        },
        Item {
            id: "old".into(),
            time: utc("2025-05-10T00:00:00Z"),
        },
    ];
    let decisions = apply_at(
        &items,
        &KeepRules {
            within: d("1d"),
            ..KeepRules::default()
        },
        now,
    );
    assert_eq!(kept_ids(&decisions), ["day-before", "future", "latest"]);
}

/// Issue 13: calendar buckets are the snapshot's local day: 23:30 UTC is the next day in Berlin.
#[test]
fn buckets_in_local_time() {
    let berlin = TimeZone::get("Europe/Berlin").expect("tzdb");
    let items: Vec<Item> = ["2025-05-01T21:00:00Z", "2025-05-01T23:30:00Z"]
        .iter()
        .map(|t| Item {
            id: t.to_string(),
            time: t.parse::<Timestamp>().unwrap().to_zoned(berlin.clone()),
        })
        .collect();
    let rules = KeepRules {
        daily: n(2),
        ..KeepRules::default()
    };
    assert_eq!(kept_ids(&apply(&items, &rules)).len(), 2, "two local days");
    let utc_items: Vec<Item> = items
        .iter()
        .map(|i| Item {
            id: i.id.clone(),
            time: utc(&i.id),
        })
        .collect();
    let decisions = apply(
        &utc_items,
        &KeepRules {
            daily: n(1),
            ..KeepRules::default()
        },
    );
    assert_eq!(
        kept_ids(&decisions),
        ["2025-05-01T23:30:00Z"],
        "one UTC day"
    );
}

/// Issue 13: restic's duration form is parsed, and bad ones are refused with the expected form.
#[test]
fn durations_parse_like_restic() {
    let s = parse_duration("2y5m7d3h").unwrap();
    assert_eq!(
        (s.get_years(), s.get_months(), s.get_days(), s.get_hours()),
        (2, 5, 7, 3)
    );
    for bad in ["", "1w", "5", "d"] {
        let e = parse_duration(bad).unwrap_err();
        assert!(e.contains("2y5m7d3h") || e.contains("unit"), "{bad}: {e}");
    }
}

/// Issue 13: restic's `TestExpireSnapshotOps` (an empty policy is empty) and its policy
/// description (`ExpirePolicy.String`), which the prune commit's message carries.
#[test]
fn empty_policy_and_description_like_restic() {
    assert!(KeepRules::default().is_empty());
    assert!(KeepRules {
        last: n(0),
        within: d("0d"),
        ..KeepRules::default()
    }
    .is_empty());
    let rules = KeepRules {
        daily: n(7),
        weekly: n(2),
        monthly: n(3),
        yearly: n(10),
        ..KeepRules::default()
    };
    assert!(!rules.is_empty());
    assert_eq!(
        rules.describe(),
        "keep 7 daily, 2 weekly, 3 monthly, 10 yearly snapshots"
    );
    let rules = KeepRules {
        last: n(2),
        monthly: Some(Count::Unlimited),
        within_daily: d("7d"),
        within: d("1y2m"),
        ..KeepRules::default()
    };
    assert_eq!(
        rules.describe(),
        "keep 2 latest, all monthly snapshots, daily snapshots within 7d and all snapshots within 1y2m of the newest"
    );
    // The empty policy keeps everything (restic's forget refuses it; the CLI refuses it too).
    let items = doc_weekdays();
    assert!(apply(&items, &KeepRules::default()).iter().all(|d| d.keep));
}
