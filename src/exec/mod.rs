//! Mechanics only: starting, waiting for and signalling task processes ([`process`]), finding
//! what they leave running ([`leftovers`]), running an external command with a time limit
//! ([`command`]), a run folder held open ([`run_dir`]), what a task's process tree uses
//! ([`tree_usage`]),
//! and SLURM's job scripts and scheduler commands ([`slurm`]). Nothing here decides what
//! happens next ([`crate::policy`]) or writes the store ([`crate::engine`] does).

pub mod command;
pub mod leftovers;
pub mod process;
pub mod run_dir;
pub mod signals;
pub mod tree_usage;

/// Prepended to every SLURM task command. The task's shell survives warning signals (USR1, USR2)
/// so they reach the program it runs, whose own handler decides; on TERM, INT or HUP it exits
/// only once the running command has finished (the program gets its grace period to save state)
/// and runs no further commands. Caught signals are reset at exec, so programs start with default
/// signal handling.
///
/// The exit code says which signal came (129, 130, 143): a job's exit record is read without
/// knowing whether the job was signalled, and a program that exits 0 on SIGTERM must not look
/// like a finished job there.
pub const TASK_SHELL_PREFIX: &str =
    "trap : USR1 USR2; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; ";

/// Prepended to every local task command: the same traps as [`TASK_SHELL_PREFIX`], but the shell
/// exits with the status its last command left, so a program that saves its state on SIGTERM and
/// exits 0 is recorded with exit code 0 (issue 9). The local runner knows when it signalled a
/// task, and records such an attempt as interrupted or timed out, whatever its exit code.
pub const LOCAL_TASK_SHELL_PREFIX: &str =
    "trap : USR1 USR2; trap exit HUP; trap exit INT; trap exit TERM; ";
pub mod slurm;
