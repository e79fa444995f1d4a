//! Mechanics only: starting, waiting for and signalling task processes ([`process`]), running
//! an external command with a time limit ([`command`]), a run folder held open ([`run_dir`]),
//! and SLURM's job scripts and scheduler commands ([`slurm`]). Nothing here decides what
//! happens next ([`crate::policy`]) or writes the store ([`crate::engine`] does).

pub mod command;
pub mod process;
pub mod run_dir;
pub mod signals;

/// Prepended to every task command. The task's shell survives warning signals (USR1, USR2) so
/// they reach the program it runs, whose own handler decides; on TERM, INT or HUP it exits only
/// once the running command has finished (the program gets its grace period to save state) and
/// runs no further commands. Caught signals are reset at exec, so programs start with default
/// signal handling.
pub const TASK_SHELL_PREFIX: &str =
    "trap : USR1 USR2; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; ";
pub mod slurm;
