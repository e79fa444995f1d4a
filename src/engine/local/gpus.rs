//! Which GPUs a local run shares out (issue 14): `--gpus`, else `[run] gpus`; `"auto"` is
//! resolved here, when the run starts, and checked against what each stage asks for before
//! anything runs.
//!
//! `auto` looks, in order, at `CUDA_VISIBLE_DEVICES` in labtrail's own environment (whoever set
//! it meant these devices and no others: its entries, ids or UUIDs, are kept as written), then
//! NVML (loaded at run time, see [`crate::provenance::gpu`]), then `nvidia-smi -L`.

use crate::spec::devices::{valid_id, GpuSetting};
use crate::spec::Spec;
use std::time::Duration;

/// How long `nvidia-smi -L` may take (it is slow when persistence mode is off, and may hang
/// on a broken driver).
const SMI_LIMIT: Duration = Duration::from_secs(30);

/// The devices a run shares out, resolved, and what each stage's tasks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devices {
    /// Device ids or UUIDs, as `CUDA_VISIBLE_DEVICES` takes them.
    pub ids: Vec<String>,
    /// GPUs each task of each stage gets (aligned with the spec's stages; 0: none, and
    /// `CUDA_VISIBLE_DEVICES=""` so it does not see every GPU).
    pub per_stage: Vec<u32>,
    /// `[run] gpus_per_task` (1 when not written): what sets the default number of workers.
    pub per_task: u32,
    /// Where the list came from (`[run] gpus`, `--gpus`, `CUDA_VISIBLE_DEVICES`, `NVML`,
    /// `nvidia-smi -L`), for messages.
    pub source: String,
}

impl Devices {
    /// The workers a run gets when neither `-j` nor `[run] workers` says: one per device set.
    pub fn default_workers(&self) -> Option<usize> {
        (self.per_task > 0).then(|| (self.ids.len() / self.per_task as usize).max(1))
    }

    /// A warning when some devices can never be handed out: every stage that takes GPUs takes
    /// `k` of them, and the list is not a multiple of `k` (3 devices, 2 per task: the lowest
    /// free are taken first, so the third waits for a partner that never comes free).
    pub fn idle_warning(&self) -> Option<String> {
        let mut takes = self.per_stage.iter().filter(|&&n| n > 0);
        let k = *takes.next()? as usize;
        let left = self.ids.len() % k;
        if left == 0 || takes.any(|&n| n as usize != k) {
            return None;
        }
        let idle = &self.ids[self.ids.len() - left..];
        Some(format!(
            "labtrail: warning: {} {} of {} never used: each task takes {k} GPUs and {} devices make {} set(s) of {k}",
            if left == 1 { "device" } else { "devices" },
            idle.join(","),
            self.source,
            self.ids.len(),
            self.ids.len() / k
        ))
    }
}

/// Devices that cannot be handed out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeviceError {
    /// `--gpus` is neither `auto` nor a list of devices.
    #[error(
        "--gpus {value}: {why}\n  help: write --gpus 0,1,2,3 (device ids or UUIDs) or --gpus auto"
    )]
    BadFlag { value: String, why: String },
    /// `gpus = "auto"` found no device.
    #[error("{file}: gpus = \"auto\" found no GPU: {tried}\n  help: list the devices, e.g. [run] gpus = [0, 1] or --gpus 0,1, or set CUDA_VISIBLE_DEVICES; remove gpus to run without handing out GPUs")]
    NoneFound { file: String, tried: String },
    /// A stage asks for more devices than there are.
    #[error("{file}: stage `{stage}` asks for {needs} GPU(s) per task, but the run has {have} ({ids}, from {from}): its tasks could never start\n  help: lower gpus_per_task, or give more devices")]
    TooFew {
        file: String,
        stage: String,
        needs: u32,
        have: usize,
        ids: String,
        from: String,
    },
    /// `gpus_per_task` without any device to hand out.
    #[error("{file}: gpus_per_task asks for GPUs, but the run has none to hand out\n  help: add [run] gpus = [0, 1] (or \"auto\"), or pass --gpus")]
    NoGpus { file: String },
    /// `--gpus` with `executor = "slurm"`.
    #[error("{file}: --gpus shares out this machine's GPUs between local workers; with executor = \"slurm\" the scheduler hands them out\n  help: ask for GPUs in [slurm], e.g. gres = \"gpu:1\"")]
    Slurm { file: String },
}

/// The devices the run shares out, `flag` (`--gpus`) first; `None` when neither says (no
/// device is handed out and `CUDA_VISIBLE_DEVICES` is left as it is).
pub fn resolve(spec: &Spec, flag: Option<&str>) -> Result<Option<Devices>, DeviceError> {
    let file = spec.path.display().to_string();
    if flag.is_some() && spec.run.executor == crate::spec::Executor::Slurm {
        return Err(DeviceError::Slurm { file });
    }
    let setting = match flag {
        Some(f) => Some((parse_flag(f)?, "--gpus")),
        None => spec.devices.gpus.clone().map(|g| (g, "[run] gpus")),
    };
    let Some((setting, from)) = setting else {
        if spec.devices.asks_for_gpus() {
            return Err(DeviceError::NoGpus { file });
        }
        return Ok(None);
    };
    let (ids, source) = match setting {
        GpuSetting::List(ids) => (ids, from.to_string()),
        GpuSetting::Auto => detect().map_err(|tried| DeviceError::NoneFound {
            file: file.clone(),
            tried,
        })?,
    };
    let devices = Devices {
        per_stage: (0..spec.stages.len())
            .map(|s| spec.devices.needs(s))
            .collect(),
        per_task: spec.devices.per_task.unwrap_or(1),
        ids,
        source,
    };
    for (stage, &needs) in spec.stages.iter().zip(&devices.per_stage) {
        if needs as usize > devices.ids.len() {
            return Err(DeviceError::TooFew {
                file,
                stage: stage.name.clone(),
                needs,
                have: devices.ids.len(),
                ids: devices.ids.join(","),
                from: devices.source.clone(),
            });
        }
    }
    Ok(Some(devices))
}

/// `--gpus auto` or `--gpus 0,1,GPU-…`.
fn parse_flag(value: &str) -> Result<GpuSetting, DeviceError> {
    if value == "auto" {
        return Ok(GpuSetting::Auto);
    }
    let bad = |why: String| DeviceError::BadFlag {
        value: value.to_string(),
        why,
    };
    let mut ids: Vec<String> = Vec::new();
    for id in value.split(',').map(str::trim) {
        if !valid_id(id) {
            return Err(bad(format!(
                "`{id}` is not a device index or a GPU-/MIG- UUID"
            )));
        }
        if ids.iter().any(|i| i == id) {
            return Err(bad(format!("device {id} is listed twice")));
        }
        ids.push(id.to_string());
    }
    Ok(GpuSetting::List(ids))
}

/// The devices this machine offers, and where they were found; else what was tried and why
/// each gave nothing.
fn detect() -> Result<(Vec<String>, String), String> {
    if let Some(visible) = std::env::var_os("CUDA_VISIBLE_DEVICES") {
        let visible = visible.to_string_lossy().into_owned();
        let ids: Vec<String> = visible
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        return match ids.iter().find(|id| !valid_id(id)) {
            _ if ids.is_empty() => Err(format!("CUDA_VISIBLE_DEVICES is set to `{visible}`, which hides every GPU (unset it to let labtrail look for GPUs)")),
            Some(bad) => Err(format!("CUDA_VISIBLE_DEVICES lists `{bad}`, which is not a device index or a GPU-/MIG- UUID: CUDA shows no GPU from there on (unset it, or list the devices to share out)")),
            None => Ok((ids, "CUDA_VISIBLE_DEVICES".into())),
        };
    }
    let nvml = match crate::provenance::gpu::shared().and_then(|n| n.device_count()) {
        Ok(0) => "NVML sees no GPU".to_string(),
        Ok(n) => return Ok(((0..n).map(|i| i.to_string()).collect(), "NVML".into())),
        Err(e) => format!("NVML: {e}"),
    };
    let smi = match crate::exec::command::run_timed("nvidia-smi", &["-L"], SMI_LIMIT) {
        Ok(out) => {
            let ids = smi_indices(&out);
            if !ids.is_empty() {
                return Ok((ids, "nvidia-smi -L".into()));
            }
            "`nvidia-smi -L` lists no GPU".to_string()
        }
        Err(e) => e.to_string(),
    };
    Err(format!("CUDA_VISIBLE_DEVICES is not set; {nvml}; {smi}"))
}

/// The indices of the `GPU 0: NVIDIA A100 (UUID: GPU-…)` lines of `nvidia-smi -L` (MIG lines,
/// indented, are parts of a GPU and left out).
fn smi_indices(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("GPU "))
        .filter_map(|rest| rest.split(':').next())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_smi_lines_give_indices() {
        let out = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1c2d)\n  MIG 1g.5gb Device 0: (UUID: MIG-1)\nGPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-3e4f)\n";
        assert_eq!(smi_indices(out), ["0", "1"]);
        assert!(smi_indices("No devices were found\n").is_empty());
    }

    #[test]
    fn the_flag_is_a_list_or_auto() {
        assert_eq!(parse_flag("auto").unwrap(), GpuSetting::Auto);
        assert_eq!(
            parse_flag("0, 2").unwrap(),
            GpuSetting::List(vec!["0".into(), "2".into()])
        );
        assert!(parse_flag("0,0").is_err());
        assert!(parse_flag("0,,1").is_err());
        assert!(parse_flag("-1").is_err(), "CUDA's way of showing no GPU");
    }
}
