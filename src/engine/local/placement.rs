//! Where a worker starts an attempt (issue 14): its worker slot (`LABTRAIL_SLOT`, `{slot}` in
//! the command) and the GPUs it took for it (`CUDA_VISIBLE_DEVICES`), and the note that records
//! them.

use super::attempt::Running;
use crate::plan::Task;
use crate::protocol;
use crate::spec::Stage;
use crate::store::Change;

/// Where a worker starts an attempt: its slot and the devices it took for it.
pub(super) struct Placement<'a> {
    /// 1 to the number of workers.
    pub slot: usize,
    /// `CUDA_VISIBLE_DEVICES` (`""`: none, for a stage with `gpus_per_task = 0`); `None` when
    /// the run hands out no GPUs.
    pub devices: Option<&'a str>,
}

impl Placement<'_> {
    /// Adds the attempt's slot and devices to `env`, after the declared variables: the devices
    /// handed out win over a declared `CUDA_VISIBLE_DEVICES`.
    pub fn add_env(&self, env: &mut Vec<(String, String)>) {
        env.push(protocol::slot_env(self.slot));
        if let Some(devices) = self.devices {
            env.push(("CUDA_VISIBLE_DEVICES".into(), devices.to_string()));
        }
    }

    /// The command of `task` with `{slot}` replaced by the slot, if its stage's command has that
    /// placeholder and no parameter of that name. Rendered again from the template, not replaced
    /// in the planned command: there `{slot}` may also be a value's text, or `{{slot}}` written out.
    pub fn command(&self, stage: &Stage, task: &Task) -> Option<String> {
        use crate::spec::devices::SLOT;
        let slot_param = |name: &str| name == SLOT && !stage.params.iter().any(|p| p == SLOT);
        if !stage.command.params().any(|(name, _)| slot_param(name)) {
            return None;
        }
        let texts: Vec<String> = task.values.iter().map(|v| v.to_string()).collect();
        let slot = self.slot.to_string();
        Some(
            stage
                .command
                .render(|name| match stage.params.iter().position(|p| p == name) {
                    Some(i) => Some(texts[i].as_str()),
                    None => (name == SLOT).then_some(slot.as_str()),
                }),
        )
    }
}

/// The task note that records which GPUs the attempt had (issue 14), when the run hands
/// out GPUs: `labtrail events` shows it. A note, not a column: devices are not part of what
/// a task is, and most runs hand out none.
pub(super) fn devices_note(r: &Running, key: &str) -> Option<Change> {
    let devices = r.devices.as_ref()?;
    Some(Change::TaskNote {
        key: key.to_string(),
        kind: "devices".into(),
        detail: format!(
            "attempt {}: CUDA_VISIBLE_DEVICES={devices} (worker slot {})",
            r.attempt, r.slot
        ),
    })
}
