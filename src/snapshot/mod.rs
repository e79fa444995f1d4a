//! Snapshots of experiment activity (`labtrail snapshot`): what ran on the cluster, which
//! completion flags exist, how much disk the work takes, and where labtrail's own runs stand,
//! written as one JSON file per snapshot (seed 000's format, extended) into a folder that git can
//! version, and indexed for queries.
//!
//! - [`model`]: the snapshot file's contents, the contract every part reads and writes;
//! - [`config`]: `[snapshot]` in `labtrail.toml` next to the snapshot folder;
//! - [`collect`]: one look at the scheduler, the flags, the disks and the stores;
//! - [`du`]: disk usage by a parallel walk (`du -sb`'s figure, hard links once);
//! - [`write`]: the file: atomic, idempotent, named by its time;
//! - [`folder_lock`]: the folder's lock, which works across the hosts of a shared filesystem;
//! - [`git_commit`]: `--commit`: the snapshot folder only, never the user's other staged files;
//! - [`cron`]: the crontab line, systemd timer and scrontab entry `snapshot cron` prints;
//! - [`retention`]: which snapshots `snapshots prune` keeps (restic's rules, seed 000's policy).
//!
//! Taking one (lock, collect, write, index, commit) is [`crate::app::snapshot`]; the index and
//! the queries are [`crate::store::snapshot_index`] and [`crate::report::snapshots`].

mod clock;
pub mod collect;
mod collect_files;
mod collect_jobs;
mod collect_runs;
pub mod config;
pub mod cron;
pub mod du;
pub mod folder_lock;
pub mod git_commit;
pub mod model;
pub mod retention;
pub mod write;

pub use model::Snapshot;
