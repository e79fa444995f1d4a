//! What `labtrail snapshot cron` prints: a crontab line, a systemd user timer (service + timer
//! units) and an `scrontab` entry, each with absolute paths so that it works from cron's bare
//! environment.

use std::path::Path;

/// The three recipes for taking a snapshot of `dir` every `schedule`, run from `workdir`
/// with the labtrail binary at `exe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronRecipes {
    /// One crontab line.
    pub crontab: String,
    /// `~/.config/systemd/user/labtrail-snapshot.service`.
    pub systemd_service: String,
    /// `~/.config/systemd/user/labtrail-snapshot.timer`.
    pub systemd_timer: String,
    /// One `scrontab` entry (with its `#SCRON` options line).
    pub scrontab: String,
}

/// Builds the recipes. `interval` is a crontab schedule's period in minutes (60: hourly).
pub fn recipes(
    exe: &Path,
    workdir: &Path,
    dir: &Path,
    commit: bool,
    interval_min: u32,
) -> CronRecipes {
    let _ = (exe, workdir, dir, commit, interval_min);
    todo!("lane A2")
}
