//! Seed 000's retention policy, per experiment: an active experiment keeps all its snapshots; a
//! completed one keeps the newest per calendar day (`--keep-daily unlimited`); one completed more
//! than six months before the latest snapshot (the newest one not in the future) keeps the
//! newest per calendar month (`--keep-monthly unlimited`). Always kept: each experiment's first
//! and last snapshot, and every snapshot where that experiment's state changed (its jobs or their
//! states, its flags, whether it is active, its stage) since the one before.
//!
//! An experiment is *in* a snapshot only when something of it is there: queued jobs, an active
//! labtrail run, or flags (a rule listed in every snapshot does not make every snapshot its own).
//! Snapshots where no experiment is, and the `other` group of jobs nobody claims, are kept by
//! their own age under the completed rule; `other`'s jobs coming and going is no state change
//! (a busy queue would keep everything), its flags are.
//!
//! Whether an experiment is active: the latest snapshot whose scheduler answered and that
//! mentions it decides (its `experiments` entry; a queued job = active). A snapshot whose
//! scheduler failed (`scheduler.status == "failed"`) saw no jobs: it never decides that an
//! experiment completed, and its empty queue is no state change. Seed 000's own files have no
//! `experiments`: there each job name is an experiment, active while a job of it is queued.

use super::restic::{self, Count, Item, KeepRules};
use super::Decision;
use crate::snapshot::Snapshot;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

/// The group of jobs no store and no rule claims, and of snapshots no experiment is in.
pub const OTHER: &str = "other";

/// How long after its completion an experiment keeps one snapshot a day (then one a month).
pub const DAILY_FOR: &str = "6m";

/// One snapshot with its contents, as the seed policy sees it.
#[derive(Debug, Clone)]
pub struct SeedItem<'a> {
    /// Its id and time (in its own offset: calendar days and months are the writer's).
    pub item: Item,
    /// What it says.
    pub snapshot: &'a Snapshot,
}

/// One experiment's state in one snapshot: when it changes, the snapshot is kept for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ExpState {
    jobs: BTreeSet<(String, String)>,
    flags: BTreeSet<String>,
    active: bool,
    stage: Option<String>,
}

/// What one snapshot says, per experiment.
struct View {
    /// The scheduler answered (not `failed`): its queue and its `active` words count.
    answered: bool,
    /// A seed-format file (no `experiments`): experiments derived from job names.
    derived: bool,
    /// Every experiment it mentions.
    states: BTreeMap<String, ExpState>,
    /// The experiments that are in it (jobs, an active run, flags).
    present: BTreeSet<String>,
}

fn view(s: &Snapshot) -> View {
    let derived = s.experiments.is_empty();
    let mut states: BTreeMap<String, ExpState> = BTreeMap::new();
    let mut present = BTreeSet::new();
    for e in &s.experiments {
        let st = states.entry(e.name.clone()).or_default();
        st.active = e.active || e.queued_jobs > 0;
        st.stage = e.stage.clone();
        if e.queued_jobs > 0 || (e.source == "labtrail" && e.active) {
            present.insert(e.name.clone());
        }
    }
    for job in &s.running_jobs {
        let name = match (&job.experiment, derived) {
            (Some(n), _) => n.clone(),
            (None, true) if !job.name.is_empty() => job.name.clone(),
            _ => OTHER.to_string(),
        };
        let st = states.entry(name.clone()).or_default();
        st.jobs.insert((job.job_id.clone(), job.state.clone()));
        st.active = true;
        present.insert(name);
    }
    for run in s.runs.iter().filter(|r| r.state == "active") {
        present.insert(run.experiment.clone());
    }
    let flags: Vec<(String, Option<&String>)> = if s.flags.is_empty() {
        // Seed files: paths only, no experiment.
        s.completion_flags
            .iter()
            .map(|f| (f.clone(), None))
            .collect()
    } else {
        s.flags
            .iter()
            .map(|f| (f.path.clone(), f.experiment.as_ref()))
            .collect()
    };
    for (path, experiment) in flags {
        let name = experiment.cloned().unwrap_or_else(|| OTHER.to_string());
        states.entry(name.clone()).or_default().flags.insert(path);
        present.insert(name);
    }
    View {
        answered: s.scheduler.status != "failed",
        derived,
        states,
        present,
    }
}

/// What changed in `name` from `before` to `now`, in words (`jobs, flags`); None when nothing.
/// `other`'s jobs and activity are no state change (only its flags are); after a failed
/// scheduler only flags and stage are known.
fn change(name: &str, before: &ExpState, now: &ExpState, answered: bool) -> Option<String> {
    let queue = answered && name != OTHER;
    let parts: Vec<&str> = [
        (queue && now.jobs != before.jobs, "jobs"),
        (now.flags != before.flags, "flags"),
        (queue && now.active != before.active, "active"),
        (name != OTHER && now.stage != before.stage, "stage"),
    ]
    .into_iter()
    .filter_map(|(changed, what)| changed.then_some(what))
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Applies the seed's policy; one decision per snapshot, newest first (as [`restic::apply`]).
pub fn apply(items: &[SeedItem<'_>]) -> Vec<Decision> {
    apply_at(items, Timestamp::now())
}

/// [`apply`] as if run at `now`: snapshots after `now` (a wrong clock) never make the others old.
pub fn apply_at(items: &[SeedItem<'_>], now: Timestamp) -> Vec<Decision> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].item.time.timestamp());
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); items.len()];
    let daily_for = restic::parse_duration(DAILY_FOR).expect("a valid duration");
    let old_before = order
        .iter()
        .rev()
        .find(|&&i| items[i].item.time.timestamp() < now)
        .and_then(|&i| restic::before_latest(&items[i].item.time, &daily_for));

    // Each group's snapshots, oldest first; each experiment's last word on being active (from
    // answered snapshots), and the position of the last answered snapshot where it was active.
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut active: BTreeMap<String, bool> = BTreeMap::new();
    let mut last_active: BTreeMap<String, usize> = BTreeMap::new();
    let mut answered_at: Vec<usize> = Vec::new();
    let mut previous: BTreeMap<String, ExpState> = BTreeMap::new();
    for (pos, &i) in order.iter().enumerate() {
        let v = view(items[i].snapshot);
        let mut in_groups: Vec<&String> = v.present.iter().filter(|n| *n != OTHER).collect();
        let other = OTHER.to_string();
        if in_groups.is_empty() || v.present.contains(OTHER) {
            in_groups.push(&other);
        }
        for g in in_groups {
            groups.entry(g.clone()).or_default().push(i);
        }
        if v.answered {
            answered_at.push(pos);
            if v.derived {
                // A seed file lists every queued job: an experiment with none is not queued.
                active.values_mut().for_each(|a| *a = false);
            }
            for (name, st) in &v.states {
                active.insert(name.clone(), st.active);
                if st.active {
                    last_active.insert(name.clone(), pos);
                }
            }
        }
        // Only experiments with something in their state are remembered: the names ever seen
        // grow with the history, the live ones do not.
        let names: BTreeSet<String> = previous.keys().chain(v.states.keys()).cloned().collect();
        let mut changes = Vec::new();
        for name in names {
            let default = ExpState::default();
            let before = previous.get(&name).unwrap_or(&default);
            let mut now_state = v.states.get(&name).cloned().unwrap_or_default();
            if !v.answered {
                // Nothing is known of the queue: it stays as it was.
                now_state.jobs = before.jobs.clone();
                now_state.active = before.active;
            }
            if let Some(what) = change(&name, before, &now_state, v.answered) {
                changes.push(format!("state change of {name} ({what})"));
            }
            if now_state == default {
                previous.remove(&name);
            } else {
                previous.insert(name, now_state);
            }
        }
        reasons[i].extend(changes);
    }

    for (name, members) in &groups {
        let (first, last) = (members[0], members[members.len() - 1]);
        reasons[first].push(format!("first of {name}"));
        if last != first {
            reasons[last].push(format!("last of {name}"));
        }
        // Seen only in snapshots whose scheduler failed: not known to be completed.
        if name != OTHER && active.get(name).copied().unwrap_or(true) {
            for &i in members {
                reasons[i].push(format!("active experiment {name}"));
            }
            continue;
        }
        // Completed: at the first answered snapshot after its last active one, or at its first
        // snapshot if it never was active.
        let completed_at = match last_active.get(name) {
            Some(&pos) => answered_at
                .iter()
                .find(|&&p| p > pos)
                .map(|&p| order[p])
                .unwrap_or(last),
            None => first,
        };
        let completed_at = items[completed_at].item.time.timestamp();
        let old = |i: usize| {
            let t = if name == OTHER {
                items[i].item.time.timestamp()
            } else {
                completed_at
            };
            old_before.is_some_and(|before| t < before)
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
            for d in restic::apply_at(&list, &rules, now) {
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
