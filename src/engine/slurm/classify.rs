//! How a finished SLURM attempt is read: from sacct's state, else from the wrapper's exit
//! record in the attempt folder.

use crate::spec::slurm::OutcomeClass;

/// sacct states that mean the job is over, with their class.
pub fn class_of_state(state: &str, exit_code: i32) -> Option<OutcomeClass> {
    Some(match state {
        "COMPLETED" if exit_code == 0 => OutcomeClass::Completed,
        "COMPLETED" | "FAILED" | "BOOT_FAIL" | "DEADLINE" => OutcomeClass::Failed,
        "TIMEOUT" => OutcomeClass::Timeout,
        "PREEMPTED" => OutcomeClass::Preempted,
        "NODE_FAIL" => OutcomeClass::NodeFail,
        "OUT_OF_MEMORY" | "OUT_OF_ME+" => OutcomeClass::OutOfMemory,
        "CANCELLED" => OutcomeClass::Cancelled,
        _ => return None,
    })
}

/// The class of an attempt known only from the wrapper's exit record.
pub fn class_of_exit(exit_code: i32) -> OutcomeClass {
    match exit_code {
        0 => OutcomeClass::Completed,
        _ => OutcomeClass::Failed,
    }
}

/// The wrapper's exit record (`exit.json`) in an attempt folder, if it wrote one.
pub fn exit_record(attempt_dir: &std::path::Path) -> Option<i32> {
    let text = std::fs::read_to_string(attempt_dir.join("exit.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["exit_code"].as_i64().map(|c| c as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_classes() {
        assert_eq!(
            class_of_state("COMPLETED", 0),
            Some(OutcomeClass::Completed)
        );
        assert_eq!(class_of_state("FAILED", 3), Some(OutcomeClass::Failed));
        assert_eq!(
            class_of_state("OUT_OF_MEMORY", 0),
            Some(OutcomeClass::OutOfMemory)
        );
        assert_eq!(
            class_of_state("CANCELLED", 0),
            Some(OutcomeClass::Cancelled)
        );
        assert_eq!(class_of_state("RUNNING", 0), None);
        assert_eq!(class_of_state("REQUEUED", 0), None);
        assert_eq!(class_of_state("PENDING", 0), None);
    }
}
