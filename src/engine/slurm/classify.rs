//! How a finished SLURM attempt is read: from sacct's state, else from the wrapper's exit
//! record in the attempt folder.

use crate::outcome::Outcome;

/// sacct states that mean the job is over, with their class.
pub fn class_of_state(state: &str, exit_code: i32) -> Option<Outcome> {
    Some(match state {
        "COMPLETED" if exit_code == 0 => Outcome::Success,
        "COMPLETED" | "FAILED" | "BOOT_FAIL" | "DEADLINE" => Outcome::Failed,
        "TIMEOUT" => Outcome::Timeout,
        "PREEMPTED" => Outcome::Preempted,
        "NODE_FAIL" => Outcome::NodeFail,
        "OUT_OF_MEMORY" | "OUT_OF_ME+" => Outcome::OutOfMemory,
        "CANCELLED" => Outcome::Cancelled,
        _ => return None,
    })
}

/// The class of an attempt known only from the wrapper's exit record.
pub fn class_of_exit(exit_code: i32) -> Outcome {
    match exit_code {
        0 => Outcome::Success,
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_classes() {
        assert_eq!(class_of_state("COMPLETED", 0), Some(Outcome::Success));
        assert_eq!(class_of_state("FAILED", 3), Some(Outcome::Failed));
        assert_eq!(
            class_of_state("OUT_OF_MEMORY", 0),
            Some(Outcome::OutOfMemory)
        );
        assert_eq!(class_of_state("CANCELLED", 0), Some(Outcome::Cancelled));
        assert_eq!(class_of_state("RUNNING", 0), None);
        assert_eq!(class_of_state("REQUEUED", 0), None);
        assert_eq!(class_of_state("PENDING", 0), None);
    }
}
