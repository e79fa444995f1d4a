//! What an attempt's whole process tree used (issue 12): the sampler that watches every running
//! attempt, and the `task_resources` record written with the attempt's end, in the same commit.

use super::RunError;
use crate::exec::process::Exit;
use crate::exec::tree_usage::{TreeSampler, TreeUsage};
use crate::provenance::gpu_use::{GpuProbe, NvmlProbe};
use crate::provenance::model::{TaskResources, TASK_RESOURCES_RECORD};
use crate::store::Change;
use std::time::Duration;

/// How often the memory of every running tree is sampled (one pass over `/proc`, ~2 ms with 160
/// processes: 0.2 % of one core).
const MEMORY_EVERY: Duration = Duration::from_secs(1);
/// How often the GPUs are asked (NVML calls cost more, and GPU memory moves slowly).
const GPU_EVERY: Duration = Duration::from_secs(5);

/// Starts the pool's sampler thread. NVML is loaded in that thread, not before the first task.
pub(super) fn start_sampler() -> Result<TreeSampler, RunError> {
    let load = Box::new(|| NvmlProbe::load().map(|p| Box::new(p) as Box<dyn GpuProbe>));
    TreeSampler::start(MEMORY_EVERY, GPU_EVERY, load)
        .map_err(|e| RunError::system("its resource sampler thread", e))
}

/// The `task_resources` record of attempt `attempt` of task `key`: the tree's peak is what the
/// sampler saw, or `wait4`'s peak of the largest single process when that is larger (an attempt
/// shorter than one interval has only that). `exit` carries `wait4`'s figure only when it is the
/// task's own ([`Exit::without_spawner_peak`]): else the peak is unknown, and said so.
///
/// `None` when the record would say no more than the attempt's row (issue 15: 216 bytes per
/// trivial task): no sample, no GPU, no CPU time beyond `wait4`'s. The archive then reads the
/// same figures from the row (see [`crate::store::AttemptRow::resources_in_row`]).
pub(super) fn record(key: &str, attempt: u32, exit: &Exit, usage: TreeUsage) -> Option<Change> {
    let waited = exit.user_cpu_s + exit.sys_cpu_s;
    let plain = usage.peak_rss_kb.is_none()
        && usage.samples == 0
        && usage.gpus.is_empty()
        && usage.cpu_s.is_none_or(|s| s <= waited);
    if plain {
        return None;
    }
    let single = u64::try_from(exit.max_rss_kb).unwrap_or(0);
    let (peak, source) = match (usage.peak_rss_kb, usage.source) {
        (Some(kb), Some(source)) if kb >= single || source == "cgroup" => (Some(kb), source),
        _ if single > 0 => (Some(single), "wait4"),
        _ if usage.samples == 0 => (None, "unknown (shorter than one sample)"),
        _ => (None, "unknown"),
    };
    let cpu_s = usage.cpu_s.map_or(waited, |s| s.max(waited));
    let resources = TaskResources {
        attempt,
        peak_tree_rss_kb: peak,
        rss_source: Some(source.to_string()),
        cpu_s: Some(cpu_s),
        gpus: usage.gpus,
        samples: usage.samples,
    };
    Some(Change::Record {
        task: Some(key.to_string()),
        kind: TASK_RESOURCES_RECORD.to_string(),
        json: serde_json::to_string(&resources).unwrap_or_else(|_| "{}".into()),
    })
}
