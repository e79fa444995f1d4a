//! A SLURM attempt's `task_resources` record (issue 12), as a local attempt has it: the whole
//! tree's peak memory from the job wrapper's sampler (its sidecar file, or the job's cgroup
//! `memory.peak`), beside sacct's MaxRSS (the largest single process of a step) and TotalCPU.
//! Written with the attempt's end; sacct's figures are added when the same poll has them.

use super::poll::Batch;
use crate::exec::slurm::sidecar::{read_sidecar, Sidecar};
use crate::provenance::model::{GpuUse, TaskResources, TASK_RESOURCES_RECORD};
use crate::store::{Change, TrackedJob};
use std::path::Path;

/// The record of attempt `t` from its sidecar in `dir`, if the wrapper left one.
pub(super) fn from_sidecar(t: &TrackedJob, dir: &Path, b: &mut Batch) {
    let Some(sidecar) = read_sidecar(dir) else {
        return;
    };
    let mut r = TaskResources {
        attempt: t.attempt,
        ..TaskResources::default()
    };
    merge(&mut r, Some(&sidecar), None, None);
    push(t, &r, b);
}

/// Adds sacct's MaxRSS (KiB) and TotalCPU (s) to attempt `t`'s record this poll wrote, or
/// writes one with them alone.
pub(super) fn add_sacct(
    t: &TrackedJob,
    max_rss_kb: Option<u64>,
    cpu_s: Option<f64>,
    b: &mut Batch,
) {
    let mine = |c: &Change| match c {
        Change::Record {
            task: Some(task),
            kind,
            json,
        } if *task == t.key && kind == TASK_RESOURCES_RECORD => {
            serde_json::from_str::<TaskResources>(json)
                .ok()
                .filter(|r| r.attempt == t.attempt)
        }
        _ => None,
    };
    let found = b.changes.iter().rposition(|c| mine(c).is_some());
    let mut r = match found {
        Some(i) => mine(&b.changes.remove(i)).unwrap_or_default(),
        None => TaskResources {
            attempt: t.attempt,
            ..TaskResources::default()
        },
    };
    merge(&mut r, None, max_rss_kb, cpu_s);
    push(t, &r, b);
}

fn push(t: &TrackedJob, r: &TaskResources, b: &mut Batch) {
    if r.peak_tree_rss_kb.is_none() && r.cpu_s.is_none() && r.gpus.is_empty() {
        return;
    }
    b.changes.push(Change::Record {
        task: Some(t.key.clone()),
        kind: TASK_RESOURCES_RECORD.to_string(),
        json: serde_json::to_string(r).unwrap_or_else(|_| "{}".into()),
    });
}

/// The cgroup's peak is exact; otherwise the larger of the sampled tree and sacct's largest
/// process (a tree is at least its largest process; a job shorter than a sample has only that).
fn merge(r: &mut TaskResources, s: Option<&Sidecar>, sacct_rss: Option<u64>, cpu_s: Option<f64>) {
    if let Some(s) = s {
        r.samples = s.samples;
        match s.cgroup_peak_kb.filter(|&kb| kb > 0) {
            Some(kb) => (r.peak_tree_rss_kb, r.rss_source) = (Some(kb), Some("cgroup".into())),
            None if s.samples > 0 => {
                (r.peak_tree_rss_kb, r.rss_source) =
                    (Some(s.peak_tree_rss_kb), Some("sampled".into()))
            }
            None => {}
        }
        r.gpus = s
            .gpus
            .iter()
            .map(|g| GpuUse {
                uuid: g.uuid.clone(),
                peak_memory_bytes: g.peak_memory_bytes,
                mean_util_pct: None,
                max_util_pct: None,
                attribution: "process".into(),
            })
            .collect();
    }
    if let Some(kb) = sacct_rss.filter(|&kb| kb > 0) {
        let exact = r.rss_source.as_deref() == Some("cgroup");
        if !exact && r.peak_tree_rss_kb.is_none_or(|p| p < kb) {
            (r.peak_tree_rss_kb, r.rss_source) = (Some(kb), Some("sacct".into()));
        }
    }
    if cpu_s.is_some() {
        r.cpu_s = cpu_s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sidecar(peak: u64, cgroup: Option<u64>) -> Sidecar {
        Sidecar {
            peak_tree_rss_kb: peak,
            samples: 4,
            cgroup_peak_kb: cgroup,
            gpus: Vec::new(),
        }
    }

    /// Issue 12: the tree's sampled peak wins over sacct's single process; sacct's wins when
    /// the samples saw less (a short job); a cgroup's peak is exact and stays.
    #[test]
    fn the_tree_peak_comes_from_the_best_source() {
        let mut r = TaskResources::default();
        merge(
            &mut r,
            Some(&sidecar(820_000, None)),
            Some(205_000),
            Some(12.5),
        );
        assert_eq!(r.peak_tree_rss_kb, Some(820_000));
        assert_eq!(r.rss_source.as_deref(), Some("sampled"));
        assert_eq!(r.cpu_s, Some(12.5));
        let mut r = TaskResources::default();
        merge(&mut r, Some(&sidecar(1_000, None)), Some(205_000), None);
        assert_eq!(r.rss_source.as_deref(), Some("sacct"));
        assert_eq!(r.peak_tree_rss_kb, Some(205_000));
        let mut r = TaskResources::default();
        merge(
            &mut r,
            Some(&sidecar(1_000, Some(900_000))),
            Some(905_000),
            None,
        );
        assert_eq!(r.rss_source.as_deref(), Some("cgroup"));
        assert_eq!(r.peak_tree_rss_kb, Some(900_000));
    }
}
