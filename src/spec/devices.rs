//! `[run] gpus`, `[run] gpus_per_task` and `[[stage]] gpus_per_task` (issue 14): which GPUs the
//! local workers share out, and how many each task gets. Validated here; `"auto"` is resolved
//! only when a run starts (see `engine::local::gpus`): a stored run's file is parsed again on
//! other machines, long after, where other GPUs may be.
//!
//! None of this is part of a task's identity: the same task on GPU 0 or GPU 3 is the same task.

use super::raw::{RawRun, RawStage};
use super::validate::Ctx;
use super::{Executor, SpecError};
use toml::Spanned;

/// `[run] gpus` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuSetting {
    /// Device ids or UUIDs, as written (`0`, `"GPU-8f…"`), in order.
    List(Vec<String>),
    /// Found when the run starts: `CUDA_VISIBLE_DEVICES`, NVML, `nvidia-smi -L`.
    Auto,
}

/// The device settings of an experiment.
#[derive(Debug, Clone, Default)]
pub struct DeviceSettings {
    /// `[run] gpus`; `None`: labtrail hands out no devices and sets no `CUDA_VISIBLE_DEVICES`.
    pub gpus: Option<GpuSetting>,
    /// `gpus_per_task` of each stage (the stage's own, else `[run]`'s), aligned with
    /// [`super::Spec::stages`]; `None` where neither says.
    pub per_stage: Vec<Option<u32>>,
    /// `[run] gpus_per_task`, if written.
    pub per_task: Option<u32>,
}

impl DeviceSettings {
    /// GPUs a task of stage `stage` gets once devices are handed out: 1 unless the file says.
    pub fn needs(&self, stage: usize) -> u32 {
        self.per_stage.get(stage).copied().flatten().unwrap_or(1)
    }

    /// Whether any stage asks for GPUs in so many words (then devices must be given somehow).
    pub fn asks_for_gpus(&self) -> bool {
        self.per_stage.iter().flatten().any(|&n| n > 0)
    }
}

/// Reads the device keys of `[run]` and of each `[[stage]]` (`stages`: the raw stages, empty
/// for the single-command form, which has one stage).
pub(super) fn device_settings(
    cx: &Ctx,
    run: &RawRun,
    stages: &[Spanned<RawStage>],
    executor: Executor,
) -> Result<DeviceSettings, SpecError> {
    let gpus = run.gpus.as_ref().map(|g| gpu_setting(cx, g)).transpose()?;
    let per_task = run
        .gpus_per_task
        .as_ref()
        .map(|n| count(cx, n, "run.gpus_per_task"))
        .transpose()?;
    let mut per_stage = Vec::with_capacity(stages.len().max(1));
    for s in stages {
        let own = s.get_ref().gpus_per_task.as_ref();
        per_stage.push(match own {
            Some(n) => Some(count(cx, n, "stage.gpus_per_task")?),
            None => per_task,
        });
    }
    if stages.is_empty() {
        per_stage.push(per_task);
    }
    if executor == Executor::Slurm {
        let at = run
            .gpus
            .as_ref()
            .map(|g| g.span().start)
            .or(run.gpus_per_task.as_ref().map(|n| n.span().start))
            .or(stages
                .iter()
                .find_map(|s| s.get_ref().gpus_per_task.as_ref().map(|n| n.span().start)));
        if let Some(at) = at {
            return Err(cx.err(
                at,
                "gpus and gpus_per_task share out this machine's GPUs between local workers; with executor = \"slurm\" the scheduler hands out GPUs",
                "ask SLURM for them in [slurm], e.g. gres = \"gpu:1\" (or gpus_per_task = 1 there), and remove gpus / gpus_per_task from [run] and [[stage]]",
            ));
        }
    }
    Ok(DeviceSettings {
        gpus,
        per_stage,
        per_task,
    })
}

fn gpu_setting(cx: &Ctx, g: &Spanned<toml::Value>) -> Result<GpuSetting, SpecError> {
    let at = g.span().start;
    let help = "write gpus = [0, 1, 2, 3] (device ids or UUIDs, as CUDA_VISIBLE_DEVICES takes them) or gpus = \"auto\"";
    let items = match g.get_ref() {
        toml::Value::String(s) if s == "auto" => return Ok(GpuSetting::Auto),
        toml::Value::Array(items) => items,
        other => {
            return Err(cx.err(
                at,
                format!("run.gpus must be a list of devices or \"auto\", not {other}"),
                help,
            ))
        }
    };
    if items.is_empty() {
        return Err(cx.err(
            at,
            "run.gpus is an empty list: no task could get a GPU",
            "list the devices, write gpus = \"auto\", or remove gpus to hand out none",
        ));
    }
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let id = match item {
            toml::Value::Integer(n) if *n >= 0 => n.to_string(),
            toml::Value::String(s) if valid_id(s) => s.clone(),
            other => {
                return Err(cx.err(
                    at,
                    format!("run.gpus lists {other}, which is not a device id or UUID"),
                    help,
                ))
            }
        };
        if ids.contains(&id) {
            return Err(cx.err(
                at,
                format!("run.gpus lists device {id} twice: two tasks would share it"),
                "list each device once",
            ));
        }
        ids.push(id);
    }
    Ok(GpuSetting::List(ids))
}

/// The placeholder a local command may use for its worker slot (issue 14), substituted when an
/// attempt starts, not when the plan is made: a task's key hashes its command with `{slot}` as
/// written, so the task is the same whichever worker runs it. A parameter named `slot` keeps
/// its meaning: `{slot}` is then the parameter's value.
pub const SLOT: &str = "slot";

/// The command of a task of `stage` (its values `values`) as the attempt in worker slot `slot`
/// runs it: `{slot}` replaced by the slot, if the stage's command has that placeholder and no
/// parameter of that name; `None` otherwise (the planned command as it is). Rendered again from
/// the template, not replaced in the planned command: there `{slot}` may also be a value's text,
/// or `{{slot}}` written out. The local engine at launch and `tasks --command` share it.
pub fn command_in_slot(
    stage: &super::Stage,
    values: &[super::Value],
    slot: usize,
) -> Option<String> {
    if !uses_slot(stage) {
        return None;
    }
    let texts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    let slot = slot.to_string();
    Some(
        stage
            .command
            .render(|name| match stage.params.iter().position(|p| p == name) {
                Some(i) => Some(texts[i].as_str()),
                None => (name == SLOT).then_some(slot.as_str()),
            }),
    )
}

/// Whether `stage`'s command has the `{slot}` placeholder (not a parameter named `slot`).
pub fn uses_slot(stage: &super::Stage) -> bool {
    !stage.params.iter().any(|p| p == SLOT) && stage.command.params().any(|(name, _)| name == SLOT)
}

/// Whether `{slot}` may stand in `what` (`command`, `env.NAME`): only in a local command. A
/// SLURM job has no worker slot (jobs are not bound to a pool), so it is refused rather than
/// given a value that means something else.
pub(super) fn slot_placeholder(what: &str, executor: Executor) -> Result<(), (String, String)> {
    match (what, executor) {
        ("command", Executor::Local) => Ok(()),
        ("command", Executor::Slurm) => Err((
            "{slot} (the local worker slot) has no meaning with executor = \"slurm\": jobs are not run by a pool of workers".into(),
            "use the job's own variables (LABTRAIL_JOB_ID, SLURM_ARRAY_TASK_ID) in the command, or a parameter".into(),
        )),
        _ => Err((
            format!("{{slot}} is substituted in the command only, not in {what}"),
            "read the variable LABTRAIL_SLOT in the task, or pass {slot} on the command line".into(),
        )),
    }
}

/// A device as `CUDA_VISIBLE_DEVICES` takes it: an index, or a UUID (`GPU-…`, `MIG-…`). CUDA
/// stops reading the list at the first entry that is neither (`-1`, `NoDevFiles`, which
/// schedulers set to hide every GPU): a task given one would run without a GPU, unseen.
pub fn valid_id(s: &str) -> bool {
    let index = !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    let uuid = ["GPU-", "MIG-"].iter().any(|prefix| {
        s.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 96
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/'))
        })
    });
    index || uuid
}

fn count(cx: &Ctx, n: &Spanned<i64>, field: &str) -> Result<u32, SpecError> {
    match u32::try_from(*n.get_ref()) {
        Ok(v) if v <= 1024 => Ok(v),
        _ => Err(cx.err(
            n.span().start,
            format!("{field} must be between 0 and 1024, not {}", n.get_ref()),
            "the number of GPUs each task gets; 0 for a stage that uses none",
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::Spec;
    use std::path::Path;

    fn parse(extra: &str) -> Result<Spec, String> {
        let text = format!(
            "[experiment]\nname = \"g\"\n\n[[stage]]\nname = \"prep\"\ncommand = \"true\"\ngpus_per_task = 0\n\n[[stage]]\nname = \"train\"\ncommand = \"true\"\n\n[run]\n{extra}\n"
        );
        Spec::parse(Path::new("exp.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_list_and_per_stage_counts_are_read() {
        let spec = parse("gpus = [0, \"GPU-ab12\", 3]\ngpus_per_task = 2").unwrap();
        let d = &spec.devices;
        assert_eq!(
            d.gpus,
            Some(super::GpuSetting::List(vec![
                "0".into(),
                "GPU-ab12".into(),
                "3".into()
            ]))
        );
        assert_eq!((d.needs(0), d.needs(1)), (0, 2));
        let spec = parse("gpus = \"auto\"").unwrap();
        assert_eq!(spec.devices.gpus, Some(super::GpuSetting::Auto));
        assert_eq!(spec.devices.needs(1), 1);
    }

    #[test]
    fn bad_values_name_the_line_and_what_to_write() {
        for (extra, says) in [
            ("gpus = []", "empty list"),
            ("gpus = [0, 0]", "twice"),
            ("gpus = \"all\"", "\"auto\""),
            ("gpus = [\"0,1\"]", "not a device id"),
            ("gpus = [-1]", "not a device id"),
            ("gpus = [\"-1\"]", "not a device id"),
            ("gpus = [\"NoDevFiles\"]", "not a device id"),
            ("gpus = [\"GPU-\"]", "not a device id"),
            ("gpus_per_task = -1", "between 0 and 1024"),
            ("executor = \"slurm\"\ngpus = [0]", "gres"),
        ] {
            let e = parse(extra).unwrap_err();
            assert!(e.contains(says) && e.contains("exp.toml:"), "{extra}: {e}");
        }
    }
}
