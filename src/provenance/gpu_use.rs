//! Per-task GPU use: memory and utilisation of the GPUs a task's processes run on, attributed by
//! the PIDs of the task's process group (issue 12).
//!
//! The figures come from a [`GpuProbe`]: NVML loaded at run time ([`NvmlProbe`]; no driver, no
//! probe, no GPU sampling and no error), or a fake in tests. Attribution is by PID: two tasks on
//! one GPU get their own processes' memory. A device's own figures (all its memory, its
//! utilisation) go to a task only when the GPU is allocated to that task alone (its
//! `CUDA_VISIBLE_DEVICES` names it and every other running task's names others), labelled
//! `device`: that is how a task whose PIDs NVML cannot show us (a PID namespace) is still
//! measured, and a shared GPU's figures are never given to one task.

use super::model::GpuUse;
use std::collections::{BTreeMap, HashSet};

/// One GPU as a probe sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuDevice {
    /// NVML's index, which `CUDA_VISIBLE_DEVICES` may name.
    pub index: u32,
    pub uuid: String,
}

/// A whole device's figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceUsage {
    pub used_memory_bytes: u64,
    pub util_pct: Option<u32>,
}

/// Where GPU figures come from.
pub trait GpuProbe: Send {
    /// The GPUs of this machine.
    fn devices(&self) -> Vec<GpuDevice>;
    /// The compute processes on GPU `device` (its index), with the memory each uses, bytes.
    fn processes(&self, device: u32) -> Vec<(u32, u64)>;
    /// Per process SM utilisation (%) on GPU `device` over the samples taken after `since_us`
    /// (CPU time in µs since the epoch); empty when the device cannot say.
    fn process_utilization(&self, device: u32, since_us: u64) -> Vec<(u32, u32)>;
    /// The whole device's memory in use and utilisation.
    fn device_usage(&self, device: u32) -> Option<DeviceUsage>;
}

/// NVML, through `libnvidia-ml.so.1` loaded at run time.
pub struct NvmlProbe {
    nvml: nvml_wrapper::Nvml,
}

impl NvmlProbe {
    /// The driver's NVML, or `None` when there is no driver (no error: no GPU is sampled).
    pub fn load() -> Option<NvmlProbe> {
        nvml_wrapper::Nvml::init()
            .ok()
            .map(|nvml| NvmlProbe { nvml })
    }
}

impl GpuProbe for NvmlProbe {
    fn devices(&self) -> Vec<GpuDevice> {
        let n = self.nvml.device_count().unwrap_or(0);
        (0..n)
            .filter_map(|index| {
                let uuid = self.nvml.device_by_index(index).ok()?.uuid().ok()?;
                Some(GpuDevice { index, uuid })
            })
            .collect()
    }

    fn processes(&self, device: u32) -> Vec<(u32, u64)> {
        use nvml_wrapper::enums::device::UsedGpuMemory;
        let Ok(d) = self.nvml.device_by_index(device) else {
            return Vec::new();
        };
        d.running_compute_processes()
            .unwrap_or_default()
            .into_iter()
            .map(|p| match p.used_gpu_memory {
                UsedGpuMemory::Used(b) => (p.pid, b),
                UsedGpuMemory::Unavailable => (p.pid, 0),
            })
            .collect()
    }

    fn process_utilization(&self, device: u32, since_us: u64) -> Vec<(u32, u32)> {
        let Ok(d) = self.nvml.device_by_index(device) else {
            return Vec::new();
        };
        d.process_utilization_stats(since_us)
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.pid, s.sm_util))
            .collect()
    }

    fn device_usage(&self, device: u32) -> Option<DeviceUsage> {
        let d = self.nvml.device_by_index(device).ok()?;
        Some(DeviceUsage {
            used_memory_bytes: d.memory_info().ok()?.used,
            util_pct: d.utilization_rates().ok().map(|u| u.gpu),
        })
    }
}

/// What attribution knows of one running task.
pub struct TaskView<'a> {
    /// The PIDs of its process group, as last seen in `/proc`.
    pub pids: &'a HashSet<u32>,
    /// The GPUs its `CUDA_VISIBLE_DEVICES` names (indexes or UUIDs); `None`: it may use any.
    pub allocated: Option<&'a [String]>,
}

/// One task's use of one GPU at one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuSample {
    pub uuid: String,
    pub memory_bytes: u64,
    pub util_pct: Option<f64>,
    /// `process` or `device`.
    pub attribution: &'static str,
}

fn names(entry: &str, d: &GpuDevice) -> bool {
    let entry = entry.trim();
    !entry.is_empty() && (entry == d.index.to_string() || d.uuid.starts_with(entry))
}

/// One sample of every GPU, attributed to `tasks` (same order in the answer).
pub fn attribute(probe: &dyn GpuProbe, tasks: &[TaskView], since_us: u64) -> Vec<Vec<GpuSample>> {
    let mut out = vec![Vec::new(); tasks.len()];
    for d in probe.devices() {
        let procs = probe.processes(d.index);
        if procs.is_empty() {
            continue;
        }
        let utils = probe.process_utilization(d.index, since_us);
        let mut anyone_seen = false;
        for (t, task) in tasks.iter().enumerate() {
            let mine: Vec<&(u32, u64)> = procs
                .iter()
                .filter(|(p, _)| task.pids.contains(p))
                .collect();
            if mine.is_empty() {
                continue;
            }
            anyone_seen = true;
            let pids: HashSet<u32> = mine.iter().map(|(p, _)| *p).collect();
            let util: Vec<u32> = utils
                .iter()
                .filter(|(p, _)| pids.contains(p))
                .map(|&(_, u)| u)
                .collect();
            out[t].push(GpuSample {
                uuid: d.uuid.clone(),
                memory_bytes: mine.iter().map(|(_, b)| b).sum(),
                util_pct: (!util.is_empty()).then(|| util.iter().sum::<u32>().min(100) as f64),
                attribution: "process",
            });
        }
        if anyone_seen {
            continue;
        }
        // Nobody's PIDs are on it: its figures go to the one task it is allocated to, if any.
        let allocated_to = |t: &TaskView| t.allocated.map(|a| a.iter().any(|e| names(e, &d)));
        let mut claimants = tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| allocated_to(t) != Some(false));
        let (Some((t, task)), None) = (claimants.next(), claimants.next()) else {
            continue;
        };
        if allocated_to(task) != Some(true) {
            continue;
        }
        if let Some(u) = probe.device_usage(d.index) {
            out[t].push(GpuSample {
                uuid: d.uuid.clone(),
                memory_bytes: u.used_memory_bytes,
                util_pct: u.util_pct.map(f64::from),
                attribution: "device",
            });
        }
    }
    out
}

/// One task's GPU samples, summed up per GPU.
#[derive(Debug, Clone, Default)]
pub struct GpuTally {
    by_uuid: BTreeMap<String, Tally>,
}

#[derive(Debug, Clone, Default)]
struct Tally {
    peak: u64,
    util_sum: f64,
    util_n: u32,
    util_max: Option<f64>,
    /// `device` only if every sample was; a process-level sample makes it `process`.
    device_only: bool,
    seen: bool,
}

impl GpuTally {
    /// Adds one sample of one task.
    pub fn add(&mut self, samples: &[GpuSample]) {
        for s in samples {
            let t = self.by_uuid.entry(s.uuid.clone()).or_default();
            t.device_only = (!t.seen || t.device_only) && s.attribution == "device";
            t.seen = true;
            t.peak = t.peak.max(s.memory_bytes);
            if let Some(u) = s.util_pct {
                t.util_sum += u;
                t.util_n += 1;
                t.util_max = Some(t.util_max.map_or(u, |m: f64| m.max(u)));
            }
        }
    }

    /// Per GPU the task used: peak memory, mean and max utilisation, how it was attributed.
    pub fn finish(&self) -> Vec<GpuUse> {
        self.by_uuid
            .iter()
            .map(|(uuid, t)| GpuUse {
                uuid: uuid.clone(),
                peak_memory_bytes: t.peak,
                mean_util_pct: (t.util_n > 0).then(|| t.util_sum / t.util_n as f64),
                max_util_pct: t.util_max,
                attribution: if t.device_only { "device" } else { "process" }.into(),
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "gpu_use_tests.rs"]
mod tests;
