//! Where a worker starts an attempt (issue 14): its worker slot (`LABTRAIL_SLOT`, `{slot}` in
//! the command) and the GPUs it took for it (`CUDA_VISIBLE_DEVICES`), and the note that records
//! them.

use super::attempt::Running;
use crate::protocol;
use crate::spec::{Stage, Value};
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
    /// placeholder (see [`crate::spec::devices::command_in_slot`]).
    pub fn command(&self, stage: &Stage, values: &[Value]) -> Option<String> {
        crate::spec::devices::command_in_slot(stage, values, self.slot)
    }
}

/// The task note that records where the attempt ran (issue 14), so that `tasks --command`
/// can reproduce it and `labtrail events` shows it: of kind `devices` with the GPUs it had,
/// when the run hands out GPUs; of kind `slot` with only its worker slot when it has none but
/// its command has `{slot}` (the command it ran depends on it). None otherwise: a note per
/// attempt that nothing reads would double the event log. A note, not a column: devices are
/// not part of what a task is, and most runs hand out none.
pub(super) fn devices_note(r: &Running, key: &str, stage: &Stage) -> Option<Change> {
    let (kind, detail) = match &r.devices {
        Some(devices) => (
            "devices",
            format!(
                "attempt {}: CUDA_VISIBLE_DEVICES={devices} (worker slot {})",
                r.attempt, r.slot
            ),
        ),
        None if crate::spec::devices::uses_slot(stage) => (
            "slot",
            format!("attempt {}: worker slot {}", r.attempt, r.slot),
        ),
        None => return None,
    };
    Some(Change::TaskNote {
        key: key.to_string(),
        kind: kind.into(),
        detail,
    })
}
