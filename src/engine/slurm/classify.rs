//! How a finished SLURM attempt is read: from sacct's state, else from the wrapper's exit
//! record in the attempt folder.

use crate::exec::slurm::states::{phase_of, Phase};
use crate::outcome::Outcome;

/// The outcome of a job that ended in `state` (as sacct or squeue print it) with `exit_code`;
/// None while it is live or for a state Slurm does not name. From the one table of states,
/// which also tells squeue's live jobs from ended ones (issue 11).
pub fn class_of_state(state: &str, exit_code: i32) -> Option<Outcome> {
    match phase_of(state)? {
        Phase::Ended(Outcome::Success) if exit_code != 0 => Some(Outcome::Failed),
        Phase::Ended(class) => Some(class),
        Phase::Live => None,
    }
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
        assert_eq!(class_of_state("COMPLETED", 2), Some(Outcome::Failed));
        assert_eq!(class_of_state("SPECIAL_EXIT", 0), Some(Outcome::Failed));
        assert_eq!(class_of_state("REVOKED", 0), Some(Outcome::Cancelled));
    }
}
