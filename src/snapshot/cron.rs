//! What `labtrail snapshot cron` prints: a crontab line, a systemd user timer (service + timer
//! units) and an `scrontab` entry, each with absolute paths so that it works from cron's bare
//! environment.
//!
//! cron runs a line with `sh`, `PATH=/usr/bin:/bin`, the home folder as the working folder, and
//! no terminal: so each recipe changes to the work folder, sets a `PATH` that finds labtrail,
//! git and the SLURM commands as they are found now, and appends the output to a log file in the
//! snapshot folder (kept out of git by its `.gitignore`), which the crontab line makes first (a
//! redirection into a missing folder fails before labtrail starts; `snapshot cron` makes it too,
//! for the scrontab entry's `--output`).

use std::path::{Path, PathBuf};

/// The log file the recipes append to, in the snapshot folder.
pub const LOG_FILE: &str = ".snapshot-cron.log";

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

/// The crontab schedule (5 fields) and the systemd `OnCalendar=` value for a period of
/// `interval_min` minutes, or why there is none: cron can only repeat a divisor of an hour or of
/// a day, starting at the full hour or midnight.
pub fn schedule(interval_min: u32) -> Result<(String, String), String> {
    let m = interval_min;
    match m {
        1..=59 if 60 % m == 0 => Ok((format!("*/{m} * * * *"), format!("*:0/{m}"))),
        60 => Ok(("0 * * * *".into(), "hourly".into())),
        61..=1439 if m % 60 == 0 && 1440 % m == 0 => {
            let h = m / 60;
            Ok((format!("0 */{h} * * *"), format!("*-*-* 0/{h}:00:00")))
        }
        1440 => Ok(("0 0 * * *".into(), "daily".into())),
        _ => Err(format!(
            "a schedule of every {m} minutes cannot be written for cron: use a divisor of an hour (1m, 5m, 10m, 15m, 20m, 30m), of a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or 1d"
        )),
    }
}

/// Builds the recipes. `interval` is a crontab schedule's period in minutes (60: hourly).
/// Panics on a period [`schedule`] refuses (check it first).
pub fn recipes(
    exe: &Path,
    workdir: &Path,
    dir: &Path,
    commit: bool,
    interval_min: u32,
) -> CronRecipes {
    let (cron_when, calendar) = schedule(interval_min).unwrap_or_else(|e| panic!("{e}"));
    let path = search_path(exe);
    let log = dir.join(LOG_FILE);
    let mut command = format!("{} snapshot --dir {}", sh(exe), sh(dir));
    if commit {
        command.push_str(" --commit");
    }
    // cron turns a bare `%` into a new line.
    let crontab = format!(
        "{cron_when} cd {} && mkdir -p {} && PATH={} {command} >> {} 2>&1",
        sh(workdir),
        sh(dir),
        sh_str(&path),
        sh(&log)
    )
    .replace('%', r"\%");
    let systemd_service = format!(
        "[Unit]\nDescription=labtrail snapshot of {dir}\n\n[Service]\nType=oneshot\nWorkingDirectory={work}\nEnvironment={env}\nExecStart={exec}\n",
        // systemd expands `%` specifiers in every one of these, and `$` in ExecStart.
        dir = dir.display().to_string().replace('%', "%%"),
        exec = command.replace('%', "%%").replace('$', "$$"),
        work = workdir.display().to_string().replace('%', "%%"),
        env = systemd_quote(&format!("PATH={path}")),
    );
    let systemd_timer = format!(
        "[Unit]\nDescription=labtrail snapshot of {dir} ({calendar})\n\n[Timer]\nOnCalendar={calendar}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
        dir = dir.display().to_string().replace('%', "%%"),
    );
    let scrontab = format!(
        "#SCRON --job-name=labtrail-snapshot --time=00:15:00 --chdir=\"{}\" --output=\"{}\" --open-mode=append\n{cron_when} PATH={} {command}",
        // Quoted (a space would end the option); `%` in --output is a Slurm file-name pattern.
        workdir.display(),
        log.display().to_string().replace('%', "%%"),
        sh_str(&path),
    );
    CronRecipes {
        crontab,
        systemd_service,
        systemd_timer,
        scrontab,
    }
}

/// The `PATH` the recipes set: labtrail's folder, then the folders where git, squeue and sacct
/// are found now, then the system's.
fn search_path(exe: &Path) -> String {
    let mut dirs: Vec<PathBuf> = exe.parent().map(Path::to_path_buf).into_iter().collect();
    for program in ["git", "squeue", "sacct"] {
        if let Some(found) = find_on_path(program) {
            dirs.extend(found.parent().map(Path::to_path_buf));
        }
    }
    for system in ["/usr/local/bin", "/usr/bin", "/bin"] {
        dirs.push(PathBuf::from(system));
    }
    let mut seen = Vec::new();
    for d in dirs {
        if !seen.contains(&d) {
            seen.push(d);
        }
    }
    let parts: Vec<String> = seen.iter().map(|d| d.display().to_string()).collect();
    parts.join(":")
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .filter(|d| d.is_absolute())
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// `path` quoted for `sh`.
fn sh(path: &Path) -> String {
    sh_str(&path.display().to_string())
}

/// `text` quoted for `sh` (single quotes unless it is plain).
fn sh_str(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:+=,@".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// `text` as one systemd unit-file word (double quotes, `\` and `"` escaped, `%` doubled).
fn systemd_quote(text: &str) -> String {
    let escaped = text
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_cron_can_write() {
        assert_eq!(schedule(60).unwrap().0, "0 * * * *");
        assert_eq!(
            schedule(15).unwrap(),
            ("*/15 * * * *".into(), "*:0/15".into())
        );
        assert_eq!(schedule(360).unwrap().0, "0 */6 * * *");
        assert_eq!(schedule(1440).unwrap().1, "daily");
        assert!(schedule(7).unwrap_err().contains("divisor"));
        assert!(schedule(0).is_err());
    }

    #[test]
    fn a_path_with_a_space_or_a_percent_is_quoted_for_cron() {
        assert_eq!(sh_str("/home/me/my exp"), "'/home/me/my exp'");
        assert_eq!(sh_str("/data/it's"), r"'/data/it'\''s'");
        let r = recipes(
            Path::new("/opt/bin/labtrail"),
            Path::new("/data/100%"),
            Path::new("/data/100%/snaps"),
            true,
            60,
        );
        assert!(r.crontab.contains(r"cd '/data/100\%'"), "{}", r.crontab);
        assert!(r.systemd_service.contains("/data/100%%/snaps"));
        // Issue 13 (review r1 M6, M7): every systemd field escapes `%`; scrontab quotes its
        // options and doubles `%` in --output.
        assert!(r.systemd_service.contains("WorkingDirectory=/data/100%%\n"));
        assert!(r
            .systemd_service
            .contains("Description=labtrail snapshot of /data/100%%/snaps\n"));
        assert!(r.systemd_timer.contains("of /data/100%%/snaps"));
        assert!(
            r.scrontab.contains(
                "--chdir=\"/data/100%\" --output=\"/data/100%%/snaps/.snapshot-cron.log\""
            ),
            "{}",
            r.scrontab
        );
        assert_eq!(sh_str("/plain/path"), "/plain/path");
    }
}
