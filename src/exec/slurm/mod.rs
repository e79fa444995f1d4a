//! SLURM execution: job scripts, and the scheduler commands (sbatch, squeue, sacct, scancel,
//! scontrol).
//!
//! Every command runs with a time limit; a command that fails or hangs is reported as
//! [`SchedError`], which callers must never read as a job outcome.

mod commands;
pub mod config;
mod parse;
pub mod script;
pub mod sidecar;
pub mod states;
pub mod usage;

pub use commands::{SchedError, Scheduler};
pub use parse::{
    parse_sacct, parse_squeue, parse_squeue_checked, AcctEntry, QueueAnswer, QueueEntry,
    SQUEUE_FORMAT,
};
pub use states::is_finished_state;

/// Job name of a task's jobs: `lt.RUN.KEY`. Names are how a job resubmitted by hand, or by
/// anything else, is recognised as the task's.
pub fn job_name(run: &str, key: &str) -> String {
    format!("lt.{run}.{key}")
}

/// Parses a job name back into (run, key).
pub fn parse_job_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("lt.")?;
    let (run, key) = rest.rsplit_once('.')?;
    (key.len() == crate::plan::KEY_LEN && key.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some((run, key))
}

/// Parses the name of a stage's job array, `lt.RUN.@STAGE.TOKEN` (or, from labtrail 0.5 and
/// earlier, `lt.RUN.@STAGE`), into (run, stage).
pub fn parse_array_name(name: &str) -> Option<(&str, &str)> {
    let (run, rest) = name.strip_prefix("lt.")?.rsplit_once(".@")?;
    // A stage name is an identifier: the first dot after it starts the token.
    Some((run, rest.split_once('.').map_or(rest, |(stage, _)| stage)))
}

/// The name of one job array of a stage: `lt.RUN.@STAGE.TOKEN`. The token tells this
/// submission from every other array of the stage, so that an array accepted by `sbatch` but not
/// yet recorded is found again by its name (issue 11).
pub fn array_name(run: &str, stage: &str, token: &str) -> String {
    format!("lt.{run}.@{stage}.{token}")
}

/// A new submission token: 8 hex digits, unique in practice within a run (and never 16 long,
/// so that an array's name never reads as a task's, see [`parse_job_name`]).
pub fn new_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut h = blake3::Hasher::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&COUNT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.finalize().to_hex()[..8].to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn job_names_round_trip() {
        let n = super::job_name("exp-2026.1", "0123456789abcdef");
        assert_eq!(
            super::parse_job_name(&n),
            Some(("exp-2026.1", "0123456789abcdef"))
        );
        assert_eq!(super::parse_job_name("lt.run.short"), None);
        assert_eq!(super::parse_job_name("other"), None);
    }

    /// Issue 11: an array's name carries its submission's token, and still reads as its stage's.
    #[test]
    fn array_names_carry_a_token_and_keep_their_stage() {
        let token = super::new_token();
        assert_eq!(token.len(), 8);
        assert_ne!(token, super::new_token());
        let n = super::array_name("exp-2026.1", "train", &token);
        assert_eq!(super::parse_array_name(&n), Some(("exp-2026.1", "train")));
        assert_eq!(super::parse_job_name(&n), None, "{n} is no task's name");
        assert_eq!(
            super::parse_array_name("lt.r.1.@train"),
            Some(("r.1", "train")),
            "an array named before tokens"
        );
    }
}
