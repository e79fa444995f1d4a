//! What tasks leave running: processes still in an ended task's process group, and processes of
//! a run outside every task's group (a task's `setsid` child, or whatever a runner that died
//! left), found through `/proc`.
//!
//! A process group outlives its leader while any member lives, and the kernel gives its id to no
//! new process until the last member is gone: a group found alive is still the task's.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every pid in `/proc`.
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
}

/// The state letter and process group of process `pid`, from `/proc/PID/stat`.
fn state_and_group(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces and parentheses: fields follow the last.
    let mut fields = stat.rsplit_once(") ")?.1.split(' ');
    let state = fields.next()?.chars().next()?;
    let _parent = fields.next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// The live processes (zombies aside) of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    pids()
        .filter(|&pid| state_and_group(pid).is_some_and(|(state, g)| g == pgid && state != 'Z'))
        .collect()
}

/// Whether anything but zombies is left in process group `pgid`: one system call when the group
/// is gone (the usual case), a look through `/proc` otherwise. A zombie counts as gone: reaping it
/// is up to its parent (or the system's init), not to labtrail.
pub fn group_alive(pgid: u32) -> bool {
    pgid > 1 && killpg(Pid::from_raw(pgid as i32), None).is_ok() && !group_members(pgid).is_empty()
}

/// The canonical form of `path`, or `path` itself if it cannot be resolved.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Processes on this host that belong to `run` of the store at `store_dir`, found by the
/// variables labtrail gives every task, which their descendants inherit. The store is compared
/// by its canonical path: a runner that reached it through a symbolic link gave its tasks the
/// linked path, and its orphans must be found through any other path too (issue 9).
pub fn find_orphans(store_dir: &Path, run: &str) -> Vec<u32> {
    use crate::protocol::{RUN_ID, STORE};
    let run_var = format!("{RUN_ID}={run}");
    let store_var = format!("{STORE}=");
    let store = canonical(store_dir);
    let same_store = |value: &[u8]| {
        let value = Path::new(OsStr::from_bytes(value));
        value == store_dir || value == store || canonical(value) == store
    };
    let me = std::process::id();
    pids()
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            let vars = || env.split(|b| *b == 0);
            vars().any(|v| v == run_var.as_bytes())
                && vars()
                    .filter_map(|v| v.strip_prefix(store_var.as_bytes()))
                    .any(same_store)
        })
        .collect()
}

/// Stops the processes [`find_orphans`] finds: SIGTERM, up to `grace`, then SIGKILL; returns
/// every one it signalled. `pause` waits between looks, and returns true to cut the grace period
/// short (a second stop signal).
///
/// Each is signalled with its process group, which reaches what it starts after the look;
/// processes found later (started before the signal came) get their own SIGTERM in turn. A task
/// shell defers its TERM trap until its running command ends, so a command started just after
/// the first round would otherwise keep it for the whole grace period.
pub fn stop_orphans(
    store_dir: &Path,
    run: &str,
    grace: Duration,
    mut pause: impl FnMut(Duration) -> bool,
) -> Vec<u32> {
    let mut orphans = find_orphans(store_dir, run);
    let mut signalled = BTreeSet::new();
    let deadline = Instant::now() + grace;
    while !orphans.is_empty() {
        for &pid in &orphans {
            if signalled.insert(pid) {
                stop_orphan(pid, Signal::SIGTERM);
            }
        }
        let now_please = pause(Duration::from_millis(50));
        orphans = find_orphans(store_dir, run);
        if now_please || Instant::now() >= deadline {
            break;
        }
    }
    // What is left is killed; it is gone once the kernel has run its exit, awaited (briefly) so
    // that whoever looks next does not find it.
    let killed_at = Instant::now();
    while !orphans.is_empty() && killed_at.elapsed() < Duration::from_secs(2) {
        for &pid in &orphans {
            signalled.insert(pid);
            stop_orphan(pid, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
        orphans = find_orphans(store_dir, run);
    }
    signalled.into_iter().collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    /// A group is alive while a member that is not a zombie is in it, even once its leader is
    /// gone; a zombie member does not keep it alive.
    #[test]
    fn a_group_lives_while_a_member_does() {
        let mut leader = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 300 > /dev/null & echo $!"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leader.id();
        let mut out = String::new();
        std::io::Read::read_to_string(leader.stdout.as_mut().unwrap(), &mut out).unwrap();
        let sleeper: u32 = out.trim().parse().unwrap();
        leader.wait().unwrap();
        assert!(group_alive(pgid), "the leader is gone, its child is not");
        assert_eq!(group_members(pgid), [sleeper]);
        killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL).unwrap();
        let start = Instant::now();
        while group_alive(pgid) {
            assert!(start.elapsed() < Duration::from_secs(20), "still alive");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
