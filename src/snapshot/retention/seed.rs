//! Seed 000's retention policy, per experiment: an active experiment keeps all its snapshots; a
//! completed one keeps the newest per calendar day (`--keep-daily unlimited`); one completed more
//! than six months before the latest snapshot keeps the newest per calendar month
//! (`--keep-monthly unlimited`). Snapshots that name no experiment, and the `other` group of jobs
//! no rule claims, are kept by their own age under the completed rule. Always kept: each
//! experiment's first and last snapshot, and every snapshot where a state changed (the queue's
//! jobs or their states, the flags, an experiment's active/stage) since the one before.
//!
//! Whether an experiment is active comes from the snapshots' `experiments` (the collector decides
//! it from labtrail's store, a configured completion flag, or a queued job): the latest snapshot
//! that mentions an experiment decides.

use super::restic::{self, Count, Item, KeepRules};
use super::Decision;
use crate::snapshot::Snapshot;
use std::collections::{BTreeMap, BTreeSet};

/// The group of jobs no store and no rule claims, and of snapshots that name no experiment.
pub const OTHER: &str = "other";

/// How long after its completion an experiment keeps one snapshot a day (then one a month).
pub const DAILY_FOR: &str = "6m";

/// One snapshot with its contents, as the seed policy sees it.
#[derive(Debug, Clone)]
pub struct SeedItem<'a> {
    /// Its id and time (local time zone: calendar days and months are local).
    pub item: Item,
    /// What it says.
    pub snapshot: &'a Snapshot,
}

/// What a snapshot says that, when it changes, makes the snapshot one to keep.
#[derive(PartialEq, Eq)]
struct State {
    jobs: BTreeSet<(String, String)>,
    flags: BTreeSet<String>,
    experiments: BTreeSet<(String, bool, Option<String>)>,
}

impl State {
    fn of(s: &Snapshot) -> State {
        State {
            jobs: s
                .running_jobs
                .iter()
                .map(|j| (j.job_id.clone(), j.state.clone()))
                .collect(),
            flags: s.completion_flags.iter().cloned().collect(),
            experiments: s
                .experiments
                .iter()
                .map(|e| (e.name.clone(), is_active(e), e.stage.clone()))
                .collect(),
        }
    }

    /// What changed from `before`, in words (`jobs, flags`); None when nothing did.
    fn change_from(&self, before: &State) -> Option<String> {
        let parts: Vec<&str> = [
            (self.jobs != before.jobs, "jobs"),
            (self.flags != before.flags, "flags"),
            (self.experiments != before.experiments, "experiments"),
        ]
        .into_iter()
        .filter_map(|(changed, what)| changed.then_some(what))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

fn is_active(e: &crate::snapshot::model::Experiment) -> bool {
    e.active || e.queued_jobs > 0
}

/// The experiments a snapshot belongs to (`other` when it names none).
fn groups_of(s: &Snapshot) -> Vec<String> {
    let names: BTreeSet<String> = s.experiments.iter().map(|e| e.name.clone()).collect();
    if names.is_empty() {
        vec![OTHER.to_string()]
    } else {
        names.into_iter().collect()
    }
}

/// Applies the seed's policy; one decision per snapshot, newest first (as [`restic::apply`]).
pub fn apply(items: &[SeedItem<'_>]) -> Vec<Decision> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].item.time.timestamp());
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); items.len()];
    let Some(&newest) = order.last() else {
        return Vec::new();
    };
    let daily_for = restic::parse_duration(DAILY_FOR).expect("a valid duration");
    let old_before = restic::before_latest(&items[newest].item.time, &daily_for);

    // Each group's snapshots, oldest first; an experiment's last word on being active; when it
    // was last seen active.
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut active: BTreeMap<String, bool> = BTreeMap::new();
    let mut last_active: BTreeMap<String, usize> = BTreeMap::new();
    let mut previous: Option<State> = None;
    let mut pos_of = vec![0; items.len()];
    for (pos, &i) in order.iter().enumerate() {
        pos_of[i] = pos;
        let snap = items[i].snapshot;
        for g in groups_of(snap) {
            groups.entry(g).or_default().push(i);
        }
        for e in &snap.experiments {
            active.insert(e.name.clone(), is_active(e));
            if is_active(e) {
                last_active.insert(e.name.clone(), pos);
            }
        }
        let state = State::of(snap);
        if let Some(change) = previous.as_ref().and_then(|p| state.change_from(p)) {
            reasons[i].push(format!("state change ({change})"));
        }
        previous = Some(state);
    }

    for (name, members) in &groups {
        let (first, last) = (members[0], members[members.len() - 1]);
        reasons[first].push(format!("first of {name}"));
        if last != first {
            reasons[last].push(format!("last of {name}"));
        }
        if name != OTHER && active.get(name).copied().unwrap_or(false) {
            for &i in members {
                reasons[i].push(format!("active experiment {name}"));
            }
            continue;
        }
        // Completed: when it stopped being active (the first mention after its last active one),
        // or its first mention if it never was.
        let completed_at = members
            .iter()
            .find(|&&i| last_active.get(name).is_none_or(|&pos| pos_of[i] > pos))
            .map(|&i| items[i].item.time.timestamp());
        let old = |i: usize| {
            let t = if name == OTHER {
                Some(items[i].item.time.timestamp())
            } else {
                completed_at
            };
            matches!((t, old_before), (Some(t), Some(before)) if t < before)
        };
        let (old_items, recent_items): (Vec<usize>, Vec<usize>) =
            members.iter().copied().partition(|&i| old(i));
        let label = if name == OTHER {
            name.clone()
        } else {
            format!("completed {name}")
        };
        let daily = KeepRules {
            daily: Some(Count::Unlimited),
            ..KeepRules::default()
        };
        let monthly = KeepRules {
            monthly: Some(Count::Unlimited),
            ..KeepRules::default()
        };
        for (subset, rules) in [(recent_items, daily), (old_items, monthly)] {
            let list: Vec<Item> = subset.iter().map(|&i| items[i].item.clone()).collect();
            let index: BTreeMap<&str, usize> = subset
                .iter()
                .map(|&i| (items[i].item.id.as_str(), i))
                .collect();
            for d in restic::apply(&list, &rules) {
                let Some(&i) = index.get(d.id.as_str()) else {
                    continue;
                };
                for r in d.reasons {
                    reasons[i].push(format!("{r} of {label}"));
                }
            }
        }
    }

    order
        .iter()
        .rev()
        .map(|&i| Decision {
            id: items[i].item.id.clone(),
            keep: !reasons[i].is_empty(),
            reasons: std::mem::take(&mut reasons[i]),
        })
        .collect()
}
