//! SLURM execution: job scripts, and the scheduler commands (sbatch, squeue, sacct, scancel).
//!
//! Every command runs with a time limit; a command that fails or hangs is reported as
//! [`SchedError`], which callers must never read as a job outcome.

mod commands;
mod parse;
pub mod script;
pub mod states;
pub mod usage;

pub use commands::{SchedError, Scheduler};
pub use parse::{parse_sacct, parse_squeue, AcctEntry, QueueEntry, SQUEUE_FORMAT};
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

/// Parses the name of a stage's job array, `lt.RUN.@STAGE`, into (run, stage).
pub fn parse_array_name(name: &str) -> Option<(&str, &str)> {
    name.strip_prefix("lt.")?.rsplit_once(".@")
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
}
