//! Local execution: each attempt is `/bin/sh -c COMMAND` in its own process group.
//!
//! The process group lets labtrail signal the whole tree a task starts (SIGTERM, a grace period,
//! then SIGKILL) and keeps a terminal's Ctrl+C from reaching tasks directly. Tasks of a runner
//! that died (SIGKILL, OOM) are found when the run is resumed by [`reap_orphans`], through the
//! `LABTRAIL_RUN_ID` / `LABTRAIL_STORE` variables they and their descendants inherit, and stopped
//! before anything is dispatched, with their process groups. Processes are started the way
//! `posix_spawn` starts them ([`super::spawn`]), whose cost does not grow with the runner's
//! memory (a fork copies the page tables of the whole plan for every task).

use super::spawn::{Spawn, Spawner};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Everything needed to start one attempt.
pub struct Launch<'a> {
    pub command: &'a str,
    pub workdir: &'a Path,
    pub env: Vec<(String, String)>,
    /// The attempt's stdin (`/dev/null`) and its two logs.
    pub stdin: File,
    pub logs: Logs,
}

/// An attempt's open log files.
pub struct Logs {
    pub stdout: File,
    pub stderr: File,
}

/// How a process ended, with what it used.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub max_rss_kb: i64,
    pub user_cpu_s: f64,
    pub sys_cpu_s: f64,
    /// When it was found ended (it may be reported later), on both clocks.
    pub at: Instant,
    pub at_wall: SystemTime,
}

impl Exit {
    /// The end of an attempt that never started, now.
    pub fn never_started() -> Exit {
        Exit {
            code: None,
            signal: None,
            max_rss_kb: 0,
            user_cpu_s: 0.0,
            sys_cpu_s: 0.0,
            at: Instant::now(),
            at_wall: SystemTime::now(),
        }
    }
}

/// Starts an attempt and returns its pid, which is also its process group id. The caller waits
/// for it with [`wait`].
pub fn spawn(spawner: &Spawner, launch: Launch) -> io::Result<u32> {
    let script = format!("{}{}", super::TASK_SHELL_PREFIX, launch.command);
    let script =
        CString::new(script).map_err(|_| io::Error::other("the command holds a NUL character"))?;
    let args = [c"-c".to_owned(), script];
    let spawn = Spawn {
        program: c"/bin/sh",
        args: &args,
        env: &launch.env,
        workdir: launch.workdir,
        stdio: [
            launch.stdin.as_fd(),
            launch.logs.stdout.as_fd(),
            launch.logs.stderr.as_fd(),
        ],
    };
    spawner.spawn(&spawn).map_err(|e| {
        if !launch.workdir.is_dir() {
            io::Error::new(
                e.kind(),
                format!(
                    "working directory {} does not exist",
                    launch.workdir.display()
                ),
            )
        } else {
            e
        }
    })
}

/// Waits for child `pid` to end and reaps it. A pid that cannot be waited for (not our child) is
/// reported as ended with neither code nor signal.
pub fn wait(pid: u32) -> Exit {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = loop {
        let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
        if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break r;
        }
    };
    if r <= 0 {
        return Exit::never_started();
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Exit {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        max_rss_kb: usage.ru_maxrss,
        user_cpu_s: secs(usage.ru_utime),
        sys_cpu_s: secs(usage.ru_stime),
        at: Instant::now(),
        at_wall: SystemTime::now(),
    }
}

/// Sends `signal` to the process group led by `pgid`; a group that is already gone is fine.
/// pgid 0 (an attempt that never started) is ignored: killpg would read it as our own group.
pub fn signal_group(pgid: u32, signal: Signal) {
    if pgid == 0 {
        return;
    }
    let _ = killpg(Pid::from_raw(pgid as i32), signal);
}

fn environ_has(pid: &str, wanted: &[String]) -> bool {
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(env) => wanted
            .iter()
            .all(|w| env.split(|b| *b == 0).any(|var| var == w.as_bytes())),
        Err(_) => false,
    }
}

/// Processes on this host that belong to `run` of the store at `store_dir` (found by the
/// variables labtrail gives every task, which their descendants inherit).
pub fn find_orphans(store_dir: &Path, run: &str) -> Vec<u32> {
    let wanted = [
        format!("LABTRAIL_RUN_ID={run}"),
        format!("LABTRAIL_STORE={}", store_dir.display()),
    ];
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|&pid| pid != me && environ_has(&pid.to_string(), &wanted))
        .collect()
}

/// Stops processes left behind by a runner that died: SIGTERM, up to `grace`, then SIGKILL.
/// Returns how many there were.
///
/// Each is signalled with its process group, which reaches what the task starts after the scan;
/// processes found later (started before the signal came) get their own SIGTERM in turn. A task
/// shell defers its TERM trap until its running command ends, so a command started just after the
/// first round would otherwise keep it for the whole grace period.
pub fn reap_orphans(store_dir: &Path, run: &str, grace: Duration) -> usize {
    let found = find_orphans(store_dir, run);
    if found.is_empty() {
        return 0;
    }
    let deadline = Instant::now() + grace;
    let mut signalled = std::collections::HashSet::new();
    let mut orphans = found.clone();
    while !orphans.is_empty() && Instant::now() < deadline {
        for &pid in &orphans {
            if signalled.insert(pid) {
                stop_orphan(pid, Signal::SIGTERM);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        orphans = find_orphans(store_dir, run);
    }
    for pid in orphans {
        stop_orphan(pid, Signal::SIGKILL);
    }
    found.len()
}

/// Sends `signal` to orphan `pid` and to its process group, unless that group is ours.
fn stop_orphan(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(pid as i32);
    if let Ok(group) = nix::unistd::getpgid(Some(pid)) {
        if group.as_raw() > 1 && group != nix::unistd::getpgrp() {
            let _ = killpg(group, signal);
        }
    }
    let _ = nix::sys::signal::kill(pid, signal);
}
