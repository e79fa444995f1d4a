//! The one table of SLURM job states: whether a job in a state is still the scheduler's (live)
//! or over (ended), and for an ended one the outcome it means. squeue's view (is the job live?)
//! and sacct's (how did it end?) both read this table, so no state can be over in one place and
//! unknown in the other (a job in such a state waited for ever).
//!
//! The names are those of Slurm 22.05's man pages (`squeue(1)` and `sacct(1)`, JOB STATE
//! CODES); `tests/slurm_states.rs` checks them against the real `sacct`.

use crate::outcome::Outcome;

/// Where a job in a state stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The scheduler still holds the job: pending, running, held, being requeued or finishing.
    Live,
    /// The job is over, with this outcome (`Success` for COMPLETED, which a non-zero exit code
    /// turns into `Failed`).
    Ended(Outcome),
}

use Phase::{Ended, Live};

/// Every job state Slurm names, with its phase.
pub const STATES: &[(&str, Phase)] = &[
    ("PENDING", Live),
    ("CONFIGURING", Live),
    ("RUNNING", Live),
    ("COMPLETING", Live),
    ("SUSPENDED", Live),
    ("STOPPED", Live),
    ("SIGNALING", Live),
    ("STAGE_OUT", Live),
    ("RESIZING", Live),
    // Requeued, waiting to run again under the same id (in `sacct -D`, a run before a requeue).
    ("REQUEUED", Live),
    ("REQUEUE_FED", Live),
    ("REQUEUE_HOLD", Live),
    ("RESV_DEL_HOLD", Live),
    ("COMPLETED", Ended(Outcome::Success)),
    ("FAILED", Ended(Outcome::Failed)),
    ("BOOT_FAIL", Ended(Outcome::Failed)),
    ("DEADLINE", Ended(Outcome::Failed)),
    // Requeued and held because of the exit value it ended with (set by the site's epilog):
    // that run failed, and labtrail does not wait for someone to release it.
    ("SPECIAL_EXIT", Ended(Outcome::Failed)),
    ("TIMEOUT", Ended(Outcome::Timeout)),
    ("PREEMPTED", Ended(Outcome::Preempted)),
    ("NODE_FAIL", Ended(Outcome::NodeFail)),
    ("OUT_OF_MEMORY", Ended(Outcome::OutOfMemory)),
    ("CANCELLED", Ended(Outcome::Cancelled)),
    // A federation started the job on another cluster and removed it here: over for this
    // cluster; as a cancellation, it stops the task rather than run it a second time.
    ("REVOKED", Ended(Outcome::Cancelled)),
];

/// The phase of `state` as squeue or sacct print it (`CANCELLED by 0` and a name truncated to
/// `OUT_OF_ME+` included); None for a name Slurm 22.05 does not have.
pub fn phase_of(state: &str) -> Option<Phase> {
    // Most often a name as the table has it: 10^5 a poll (issue 15).
    if let Some((_, phase)) = STATES.iter().find(|(name, _)| *name == state) {
        return Some(*phase);
    }
    let word = state.split_whitespace().next().unwrap_or("");
    if let Some(stem) = word.strip_suffix('+').filter(|s| !s.is_empty()) {
        let mut matching = STATES.iter().filter(|(name, _)| name.starts_with(stem));
        return match (matching.next(), matching.next()) {
            (Some((_, phase)), None) => Some(*phase),
            _ => None,
        };
    }
    STATES
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, phase)| *phase)
}

/// Whether a job in `state` is over. A state Slurm does not name is taken as live: the job is
/// watched until sacct or its exit record says how it ended.
pub fn is_finished_state(state: &str) -> bool {
    matches!(phase_of(state), Some(Ended(_)))
}

/// squeue's short code of each state (`%t`, JOB STATE CODES in `squeue(1)`), as the seed's
/// snapshots record them: `R`, `PD`, `CG`, ...
const SHORT_CODES: &[(&str, &str)] = &[
    ("PENDING", "PD"),
    ("CONFIGURING", "CF"),
    ("RUNNING", "R"),
    ("COMPLETING", "CG"),
    ("SUSPENDED", "S"),
    ("STOPPED", "ST"),
    ("SIGNALING", "SI"),
    ("STAGE_OUT", "SO"),
    ("RESIZING", "RS"),
    ("REQUEUED", "RQ"),
    ("REQUEUE_FED", "RF"),
    ("REQUEUE_HOLD", "RH"),
    ("RESV_DEL_HOLD", "RD"),
    ("COMPLETED", "CD"),
    ("FAILED", "F"),
    ("BOOT_FAIL", "BF"),
    ("DEADLINE", "DL"),
    ("SPECIAL_EXIT", "SE"),
    ("TIMEOUT", "TO"),
    ("PREEMPTED", "PR"),
    ("NODE_FAIL", "NF"),
    ("OUT_OF_MEMORY", "OOM"),
    ("CANCELLED", "CA"),
    ("REVOKED", "RV"),
];

/// squeue's short code for `state` (`RUNNING` → `R`); a state Slurm 22.05 does not name is
/// kept as it is, so nothing is lost.
pub fn short_code(state: &str) -> String {
    let word = state.split_whitespace().next().unwrap_or("");
    SHORT_CODES
        .iter()
        .find(|(name, _)| *name == word)
        .map_or_else(|| word.to_string(), |(_, code)| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_listed_once() {
        let mut names: Vec<&str> = STATES.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), STATES.len());
    }

    /// Issue 11: SPECIAL_EXIT and REVOKED were over for squeue and unknown to the classifier.
    #[test]
    fn states_over_in_squeue_have_an_outcome() {
        assert_eq!(phase_of("SPECIAL_EXIT"), Some(Ended(Outcome::Failed)));
        assert_eq!(phase_of("REVOKED"), Some(Ended(Outcome::Cancelled)));
        assert_eq!(phase_of("CANCELLED by 0"), Some(Ended(Outcome::Cancelled)));
        assert_eq!(phase_of("OUT_OF_ME+"), Some(Ended(Outcome::OutOfMemory)));
        assert_eq!(phase_of("RE+"), None, "ambiguous");
        assert_eq!(phase_of("+"), None);
        assert_eq!(phase_of("NO_SUCH_STATE"), None);
        assert!(is_finished_state("TIMEOUT"));
        assert!(!is_finished_state("COMPLETING"));
        assert!(!is_finished_state("NO_SUCH_STATE"));
    }

    /// Issue 13: every state has squeue's short code, each code names one state.
    #[test]
    fn every_state_has_one_short_code() {
        for (name, _) in STATES {
            assert!(SHORT_CODES.iter().any(|(n, _)| n == name), "{name}");
        }
        let mut codes: Vec<&str> = SHORT_CODES.iter().map(|(_, c)| *c).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), SHORT_CODES.len());
        assert_eq!(short_code("PENDING"), "PD");
        assert_eq!(short_code("CANCELLED by 0"), "CA");
        assert_eq!(short_code("NEW_STATE"), "NEW_STATE");
    }
}
