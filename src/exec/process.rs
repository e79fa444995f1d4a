//! Local execution: each attempt is `/bin/sh -c COMMAND` in its own process group.
//!
//! The process group lets labtrail signal the whole tree a task starts (SIGTERM, a grace period,
//! then SIGKILL) and keeps a terminal's Ctrl+C from reaching tasks directly. What a task leaves
//! running, and what a runner that died left, is found by [`super::leftovers`].

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Instant, SystemTime};

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

impl Exit {
    /// `wait4`'s peak with what the runner lent it removed: at `exec` the kernel folds the peak
    /// resident memory of the memory the process had before into its own (`exec_mmap`), and a
    /// process `posix_spawn` starts shares the runner's memory until then (a `fork` would copy
    /// the runner's present pages: the same, a little smaller). So every task's figure is at
    /// least the runner's peak, and no `exec` after can lower it. A figure at or below
    /// `spawner_peak_kb` (the runner's peak, read after the spawn) may be only the runner's: it
    /// becomes 0, unknown (issue 12).
    pub fn without_spawner_peak(mut self, spawner_peak_kb: Option<u64>) -> Exit {
        let own = match (u64::try_from(self.max_rss_kb), spawner_peak_kb) {
            (Ok(kb), Some(spawner)) => kb > spawner,
            _ => false,
        };
        if !own {
            self.max_rss_kb = 0;
        }
        self
    }
}

/// This process's peak resident memory so far, KiB: `getrusage`'s `ru_maxrss`, the high-water
/// mark `VmHWM` of `/proc/self/status` (or what the program this one replaced with `exec` had, if
/// larger). Asked once per task start: one system call, where reading and parsing the status
/// file cost the worker ~10 us per task (issue 15).
pub fn own_peak_rss_kb() -> Option<u64> {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    u64::try_from(usage.ru_maxrss).ok().filter(|&kb| kb > 0)
}

/// Starts an attempt and returns its pid, which is also its process group id. The caller waits
/// for it with [`wait`].
///
/// The standard library starts it with `posix_spawn` (glibc 2.29 and later; a fork before),
/// which shares memory with the child only inside the C library, whose own calls an
/// `LD_PRELOAD` audit shim (XALT, snoopy, common on clusters) cannot reach, so the runner's
/// threads and heap are safe from it; its cost does not grow with the runner's memory.
pub fn spawn(launch: Launch) -> io::Result<u32> {
    if launch.command.contains('\0') {
        return Err(io::Error::other("the command holds a NUL character"));
    }
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "{}{}",
            super::LOCAL_TASK_SHELL_PREFIX,
            launch.command
        ))
        .envs(launch.env)
        .current_dir(launch.workdir)
        .stdin(launch.stdin)
        .stdout(launch.logs.stdout)
        .stderr(launch.logs.stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| {
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
        })?;
    // The handle is dropped without waiting: the caller waits, with wait4, for the rusage.
    Ok(child.id())
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

/// This machine's name, looked up once: attempts and jobs record where they were started.
pub fn hostname() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
    .clone()
}

/// Sends `signal` to the process group led by `pgid`; a group that is already gone is fine.
/// pgid 0 (an attempt that never started) is ignored: killpg would read it as our own group.
pub fn signal_group(pgid: u32, signal: Signal) {
    if pgid == 0 {
        return;
    }
    let _ = killpg(Pid::from_raw(pgid as i32), signal);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(
        command: &str,
        workdir: &Path,
        out: &File,
        env: Vec<(String, String)>,
    ) -> io::Result<u32> {
        spawn(Launch {
            command,
            workdir,
            env,
            stdin: File::open("/dev/null").unwrap(),
            logs: Logs {
                stdout: out.try_clone().unwrap(),
                stderr: out.try_clone().unwrap(),
            },
        })
    }

    /// A task starts in its own process group, in its folder, with its files and environment
    /// (the last value of a name given twice), nothing blocked and SIGPIPE at its default.
    #[test]
    fn the_child_gets_its_group_files_folder_environment_and_a_clean_signal_state() {
        let tmp = tempfile::tempdir().unwrap();
        let out = File::create(tmp.path().join("out")).unwrap();
        let script = concat!(
            "echo \"$LABTRAIL_X $HOME\"; pwd; read -r p _ _ _ g _ < /proc/$$/stat; echo $p $g; ",
            "tr '\\0' '\\n' < /proc/$$/environ | grep -c '^LABTRAIL_X='; ",
            "grep -E '^Sig(Blk|Ign)' /proc/self/status"
        );
        let env = vec![
            ("LABTRAIL_X".to_string(), "first".to_string()),
            ("LABTRAIL_X".to_string(), "x y".to_string()),
            ("HOME".to_string(), "/replaced".to_string()),
        ];
        let pid = start(script, tmp.path(), &out, env).unwrap();
        let exit = wait(pid);
        assert_eq!(exit.code, Some(0));
        let text = std::fs::read_to_string(tmp.path().join("out")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0], "x y /replaced",
            "the last value of a name wins: {text}"
        );
        let folder = tmp.path().canonicalize().unwrap();
        assert_eq!(Path::new(lines[1]), folder, "{text}");
        let ids: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            ids,
            [pid.to_string(), pid.to_string()],
            "its own process group: {text}"
        );
        assert_eq!(lines[3], "1", "each name once in the environment: {text}");
        // grep, the last program, inherits the shell's state: nothing blocked, SIGPIPE default.
        assert!(text.contains("SigBlk:\t0000000000000000"), "{text}");
        let ignored = text.lines().find(|l| l.starts_with("SigIgn")).unwrap();
        let mask = u64::from_str_radix(ignored.trim_start_matches("SigIgn:\t"), 16).unwrap();
        assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "{text}");
    }

    /// Issue 12: a task started by a runner whose peak is larger than the task's own reports the
    /// runner's peak through `wait4`; that figure is dropped as unknown, a larger one kept.
    #[test]
    fn wait4s_peak_at_or_below_the_runners_is_unknown() {
        let tmp = tempfile::tempdir().unwrap();
        let out = File::create(tmp.path().join("out")).unwrap();
        let pid = start("true", tmp.path(), &out, Vec::new()).unwrap();
        let spawner = own_peak_rss_kb();
        let exit = wait(pid);
        // `true` is far smaller than this test binary, yet its figure is the binary's peak.
        assert!(exit.max_rss_kb as u64 <= spawner.unwrap(), "{exit:?}");
        assert_eq!(exit.without_spawner_peak(spawner).max_rss_kb, 0);
        assert_eq!(exit.without_spawner_peak(None).max_rss_kb, 0);
        let big = Exit {
            max_rss_kb: 1 << 30,
            ..exit
        };
        assert_eq!(big.without_spawner_peak(spawner).max_rss_kb, 1 << 30);
    }

    #[test]
    fn a_start_that_fails_is_the_childs_error() {
        let tmp = tempfile::tempdir().unwrap();
        let out = File::create(tmp.path().join("out")).unwrap();
        let e = start("true", Path::new("/no/such/folder"), &out, Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(
            e.to_string().contains("/no/such/folder does not exist"),
            "{e}"
        );
        let e = start("exec /no/such/program", tmp.path(), &out, Vec::new()).unwrap();
        assert_eq!(
            wait(e).code,
            Some(127),
            "the shell reports a missing program"
        );
        let e = start("a\0b", tmp.path(), &out, Vec::new()).unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
    }
}
