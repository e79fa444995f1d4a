//! Executors run attempts and report how they ended. They never decide what happens next: that
//! is [`crate::policy`]'s job.

pub mod process;
pub mod run_dir;
pub mod spawn;

/// Prepended to every task command. The task's shell survives warning signals (USR1, USR2) so
/// they reach the program it runs, whose own handler decides; on TERM, INT or HUP it exits only
/// once the running command has finished (the program gets its grace period to save state) and
/// runs no further commands. Caught signals are reset at exec, so programs start with default
/// signal handling.
pub const TASK_SHELL_PREFIX: &str =
    "trap : USR1 USR2; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; ";
pub mod slurm;
