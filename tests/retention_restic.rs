//! Issue 13: `snapshots prune`'s restic rules are restic's, exactly: restic's own table test
//! (`TestApplyPolicy`, its golden files compacted in `tests/fixtures/restic_policy_keep.txt`)
//! and the examples of restic's `doc/060_forget.rst`, run through
//! `labtrail::snapshot::retention::restic`.

use jiff::{tz::TimeZone, Span, Timestamp, Zoned};
use labtrail::snapshot::retention::restic::{
    apply, apply_at, parse_duration, Count, Item, KeepRules,
};
use labtrail::snapshot::retention::Decision;

const GOLDEN: &str = include_str!("fixtures/restic_policy_keep.txt");

fn d(s: &str) -> Option<Span> {
    Some(parse_duration(s).expect("duration"))
}

fn n(k: u32) -> Option<Count> {
    Some(Count::N(k))
}

/// restic's `tests` table, in its order (index = golden file number).
fn restic_policies() -> Vec<Option<KeepRules>> {
    let r = KeepRules::default;
    let all = Some(Count::Unlimited);
    vec![
        None, // the empty policy: restic's forget refuses it; `apply` keeps everything
        Some(KeepRules { last: n(10), ..r() }),
        Some(KeepRules { last: n(15), ..r() }),
        Some(KeepRules { last: n(99), ..r() }),
        Some(KeepRules {
            last: n(200),
            ..r()
        }),
        Some(KeepRules {
            hourly: n(20),
            ..r()
        }),
        Some(KeepRules { daily: n(3), ..r() }),
        Some(KeepRules {
            daily: n(10),
            ..r()
        }),
        Some(KeepRules {
            daily: n(30),
            ..r()
        }),
        Some(KeepRules {
            last: n(5),
            daily: n(5),
            ..r()
        }),
        Some(KeepRules {
            last: n(2),
            daily: n(10),
            ..r()
        }),
        Some(KeepRules {
            weekly: n(2),
            ..r()
        }),
        Some(KeepRules {
            weekly: n(4),
            ..r()
        }),
        Some(KeepRules {
            daily: n(3),
            weekly: n(4),
            ..r()
        }),
        Some(KeepRules {
            monthly: n(6),
            ..r()
        }),
        Some(KeepRules {
            daily: n(2),
            weekly: n(2),
            monthly: n(6),
            ..r()
        }),
        Some(KeepRules {
            yearly: n(10),
            ..r()
        }),
        Some(KeepRules {
            daily: n(7),
            weekly: n(2),
            monthly: n(3),
            yearly: n(10),
            ..r()
        }),
        None, // tags: snapshots carry none here
        None,
        None,
        Some(KeepRules {
            within: d("1d"),
            ..r()
        }),
        Some(KeepRules {
            within: d("2d"),
            ..r()
        }),
        Some(KeepRules {
            within: d("7d"),
            ..r()
        }),
        Some(KeepRules {
            within: d("1m"),
            ..r()
        }),
        Some(KeepRules {
            within: d("1m14d"),
            ..r()
        }),
        Some(KeepRules {
            within: d("1y1d1m"),
            ..r()
        }),
        Some(KeepRules {
            within: d("13d23h"),
            ..r()
        }),
        Some(KeepRules {
            within: d("2m2h"),
            ..r()
        }),
        Some(KeepRules {
            within: d("1y2m3d3h"),
            ..r()
        }),
        Some(KeepRules {
            within_hourly: d("1y2m3d3h"),
            ..r()
        }),
        Some(KeepRules {
            within_daily: d("1y2m3d3h"),
            ..r()
        }),
        Some(KeepRules {
            within_weekly: d("1y2m3d3h"),
            ..r()
        }),
        Some(KeepRules {
            within_monthly: d("1y2m3d3h"),
            ..r()
        }),
        Some(KeepRules {
            within_yearly: d("1y2m3d3h"),
            ..r()
        }),
        Some(KeepRules {
            within: d("1h"),
            within_hourly: d("1d"),
            within_daily: d("7d"),
            within_weekly: d("1m"),
            within_monthly: d("1y"),
            within_yearly: d("9999y"),
            ..r()
        }),
        Some(KeepRules { last: all, ..r() }),
        Some(KeepRules {
            last: all,
            hourly: all,
            ..r()
        }),
        Some(KeepRules { hourly: all, ..r() }),
        Some(KeepRules {
            daily: n(3),
            weekly: n(2),
            monthly: all,
            yearly: all,
            ..r()
        }),
    ]
}

/// The golden file's sections: `snapshots` (input times) and `0`..`39` (kept: time, reasons).
fn golden() -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in GOLDEN
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        if let Some(name) = line.strip_prefix("== ") {
            sections.push((name.to_string(), Vec::new()));
        } else {
            sections
                .last_mut()
                .expect("a section")
                .1
                .push(line.to_string());
        }
    }
    sections
}

fn utc(t: &str) -> Zoned {
    t.parse::<Timestamp>()
        .expect("time")
        .to_zoned(TimeZone::UTC)
}

/// Kept snapshots as (time, reasons), newest first.
fn kept(items: &[Item], decisions: &[Decision]) -> Vec<(Timestamp, Vec<String>)> {
    decisions
        .iter()
        .filter(|d| d.keep)
        .map(|d| {
            let item = items.iter().find(|i| i.id == d.id).expect("an item");
            (item.time.timestamp(), d.reasons.clone())
        })
        .collect()
}

/// Issue 13: restic's own `TestApplyPolicy` table gives the same kept snapshots, in the same
/// order, for the same reasons (tag policies and the refused empty policy left out).
#[test]
fn restic_golden_table() {
    let sections = golden();
    let items: Vec<Item> = sections[0]
        .1
        .iter()
        .enumerate()
        .map(|(i, t)| Item {
            id: format!("s{i:03}"),
            time: utc(t),
        })
        .collect();
    let policies = restic_policies();
    assert_eq!(
        sections.len(),
        1 + policies.len(),
        "one golden section per policy"
    );
    let mut checked = 0;
    for (i, policy) in policies.iter().enumerate() {
        let Some(rules) = policy else { continue };
        let (name, lines) = &sections[i + 1];
        assert_eq!(name, &i.to_string());
        let want: Vec<(Timestamp, Vec<String>)> = lines
            .iter()
            .map(|l| {
                let mut parts = l.split(" | ");
                let t = parts.next().expect("time").parse().expect("time");
                // `  # tags ...` notes the golden snapshot's tags, which these items lack.
                let reason = |p: &str| p.split("  #").next().unwrap_or(p).to_string();
                (t, parts.map(reason).collect())
            })
            .collect();
        let got = kept(&items, &apply(&items, rules));
        assert_eq!(got, want, "restic policy {i}: {rules:?}");
        checked += 1;
    }
    assert_eq!(checked, 36);
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
