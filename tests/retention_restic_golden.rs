//! Issue 13: restic's own table test (`TestApplyPolicy`, `internal/data/snapshot_policy_test.go`;
//! its golden files compacted in `tests/fixtures/restic_policy_keep.txt`) run through
//! `labtrail::snapshot::retention::restic`: the same snapshots kept, in the same order, for the
//! same reasons.

use jiff::{tz::TimeZone, Span, Timestamp, Zoned};
use labtrail::snapshot::retention::restic::{apply, parse_duration, Count, Item, KeepRules};
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
