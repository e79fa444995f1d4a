//! Starting a task process: what `posix_spawn` does, without what labtrail does not need.
//!
//! The child shares the starter's memory until it executes its program (`CLONE_VM |
//! CLONE_VFORK`, as glibc's `posix_spawn` does), so starting costs the same whatever the runner's
//! size. Measured on 2 cores, three things glibc does for every start were a tenth of labtrail's
//! CPU per trivial task, and are done once per run here instead: a stack mapped and unmapped
//! (an unmap in a process with threads stops the other CPUs to flush their TLBs), asking for every
//! one of the 64 signals' handler, and the environment rebuilt from a map.
//!
//! In the child, until `execve`: signals are blocked (it came from a starter that blocked all but
//! glibc's two internal ones, which no thread of labtrail uses), the handlers the runner installed
//! are reset to the default (the child must not run them on the shared memory), SIGPIPE too (the
//! Rust runtime ignores it; programs expect the default), then its own process group, its three
//! standard files, its folder, an empty signal mask, and the program. Only async-signal-safe
//! calls; a failure is left in a slot the starter reads once the child has exited.
//!
//! glibc before 2.25 (RHEL 7, still on many clusters) rewrote the starter thread's cached pid and
//! tid in a `CLONE_VM` child; there the standard library's spawn is used instead.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What every start of one run shares: the inherited environment and the signals with handlers.
/// No signal handler may be installed once it is made (debug builds check at every start).
pub struct Spawner {
    /// The runner's environment, as `NAME=value`.
    base_env: Vec<CString>,
    /// Signals the runner handles (their handlers must not run in the child).
    handled: Vec<libc::c_int>,
    /// Whether the C library allows starting with `clone` here (see the module doc).
    direct: bool,
}

/// One process to start.
pub struct Spawn<'a> {
    pub program: &'a CStr,
    pub args: &'a [CString],
    /// Variables added to (or replacing) the inherited environment.
    pub env: &'a [(String, String)],
    pub workdir: &'a Path,
    /// Its stdin, stdout and stderr.
    pub stdio: [BorrowedFd<'a>; 3],
}

/// What the child needs, in memory it shares with the starter.
struct ChildArgs {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    workdir: *const libc::c_char,
    stdio: [libc::c_int; 3],
    handled: *const libc::c_int,
    handled_len: usize,
    /// The error that stopped the child before `execve` succeeded (0: none).
    errno: libc::c_int,
}

const CHILD_STACK: usize = 64 * 1024;

impl Spawner {
    /// Snapshots the environment and the signal handlers: make it after installing handlers.
    pub fn snapshot() -> Spawner {
        let base_env = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        Spawner {
            base_env,
            handled: handled_signals(),
            direct: glibc_at_least(2, 25),
        }
    }

    /// Starts the process in its own process group; returns its pid. The caller waits for it.
    pub fn spawn(&self, s: &Spawn) -> io::Result<u32> {
        debug_assert_eq!(
            self.handled,
            handled_signals(),
            "a handler installed after the snapshot"
        );
        if !self.direct {
            return spawn_std(s);
        }
        let cstr = |b: &[u8]| CString::new(b).map_err(|_| io::Error::other("a NUL byte"));
        let workdir = cstr(s.workdir.as_os_str().as_bytes())?;
        // A name given twice keeps its last value, as with `Command::envs`.
        let extra: Vec<CString> = s
            .env
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| !s.env[i + 1..].iter().any(|(later, _)| later == k))
            .map(|(_, (k, v))| cstr(format!("{k}={v}").as_bytes()))
            .collect::<io::Result<_>>()?;
        let overridden = |kv: &CString| {
            let name = kv
                .as_bytes()
                .split(|&b| b == b'=')
                .next()
                .unwrap_or_default();
            s.env.iter().any(|(k, _)| k.as_bytes() == name)
        };
        let mut envp: Vec<*const libc::c_char> = self
            .base_env
            .iter()
            .filter(|kv| !overridden(kv))
            .chain(&extra)
            .map(|kv| kv.as_ptr())
            .collect();
        envp.push(std::ptr::null());
        let mut argv: Vec<*const libc::c_char> = std::iter::once(s.program)
            .chain(s.args.iter().map(|a| a.as_c_str()))
            .map(|a| a.as_ptr())
            .collect();
        argv.push(std::ptr::null());
        // The child's dup2 calls must not overwrite a descriptor they still read: any below 3 is
        // first copied above.
        let mut lifted: Vec<OwnedFd> = Vec::new();
        let mut stdio = [0; 3];
        for (slot, fd) in stdio.iter_mut().zip(&s.stdio) {
            *slot = fd.as_raw_fd();
            if *slot < 3 {
                // SAFETY: duplicates a descriptor we borrow; the copy is owned by `lifted`.
                let copy = unsafe { libc::fcntl(*slot, libc::F_DUPFD_CLOEXEC, 3) };
                if copy < 0 {
                    return Err(io::Error::last_os_error());
                }
                lifted.push(unsafe { OwnedFd::from_raw_fd(copy) });
                *slot = copy;
            }
        }
        let mut args = ChildArgs {
            program: s.program.as_ptr(),
            argv: argv.as_ptr(),
            envp: envp.as_ptr(),
            workdir: workdir.as_ptr(),
            stdio,
            handled: self.handled.as_ptr(),
            handled_len: self.handled.len(),
            errno: 0,
        };
        let mut stack: Vec<u8> = Vec::with_capacity(CHILD_STACK);
        // SAFETY: the child runs on `stack` (its top, 16-byte aligned) and reads `args`, both
        // alive until clone returns: CLONE_VFORK suspends this thread until the child has
        // executed its program or exited. Signals stay blocked meanwhile (all but glibc's two
        // internal ones, unused here), so no handler of ours runs on the child's stack.
        let pid = unsafe {
            let top = stack.as_mut_ptr().add(CHILD_STACK);
            let top = top.sub(top as usize % 16);
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let pid = libc::clone(
                child,
                top.cast(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&mut args as *mut ChildArgs).cast(),
            );
            let clone_error = io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            if pid < 0 {
                return Err(clone_error);
            }
            pid
        };
        drop(lifted);
        // SAFETY: the child has exited or executed its program: nothing writes `args` any more.
        let errno = unsafe { std::ptr::read_volatile(&args.errno) };
        if errno != 0 {
            let mut status = 0;
            // SAFETY: reaps the child that failed, which has exited.
            while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
            return Err(io::Error::from_raw_os_error(errno));
        }
        Ok(pid as u32)
    }
}

/// The signals that have a handler in this process now.
fn handled_signals() -> Vec<libc::c_int> {
    (1..=libc::SIGRTMAX())
        .filter(|&sig| {
            // SAFETY: a query (no new action); `old` is plain data the call fills.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            let r = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
            r == 0 && old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN
        })
        .collect()
}

/// Whether the C library is glibc `major.minor` or later.
fn glibc_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: returns a static NUL-terminated string such as "2.36".
    let version = unsafe { CStr::from_ptr(libc::gnu_get_libc_version()) };
    let mut parts = version.to_str().unwrap_or("0.0").split('.');
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    (next(), next()) >= (major, minor)
}

/// The standard library's spawn, for an older glibc: the same child, at glibc's price.
fn spawn_std(s: &Spawn) -> io::Result<u32> {
    use std::os::unix::process::CommandExt;
    let program = std::ffi::OsStr::from_bytes(s.program.to_bytes());
    let [stdin, stdout, stderr] = s.stdio;
    let child = std::process::Command::new(program)
        .args(
            s.args
                .iter()
                .map(|a| std::ffi::OsStr::from_bytes(a.to_bytes())),
        )
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .current_dir(s.workdir)
        .stdin(stdin.try_clone_to_owned()?)
        .stdout(stdout.try_clone_to_owned()?)
        .stderr(stderr.try_clone_to_owned()?)
        .process_group(0)
        .spawn()?;
    // The handle is dropped without waiting: the caller waits, with wait4, for the rusage.
    Ok(child.id())
}

/// The child, until `execve`. It shares the starter's memory, stack excepted, with every signal
/// blocked: only async-signal-safe calls, and no allocation.
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the starter's ChildArgs, alive and not touched by the (suspended) starter.
    unsafe {
        let args = &mut *(arg as *mut ChildArgs);
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        let handled = std::slice::from_raw_parts(args.handled, args.handled_len);
        for &sig in handled.iter().chain(&[libc::SIGPIPE]) {
            libc::sigaction(sig, &default, std::ptr::null_mut());
        }
        let ok = libc::setpgid(0, 0) == 0
            && (0..3).all(|i| libc::dup2(args.stdio[i], i as libc::c_int) >= 0)
            && libc::chdir(args.workdir) == 0;
        if ok {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            libc::execve(args.program, args.argv, args.envp);
        }
        args.errno = *libc::__errno_location();
        if args.errno == 0 {
            args.errno = libc::EIO;
        }
        libc::_exit(127)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn wait(pid: u32) -> i32 {
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(
            unsafe { libc::waitpid(pid as i32, &mut status, 0) },
            pid as i32
        );
        libc::WEXITSTATUS(status)
    }

    /// Starts a shell reporting its own state with `start`, and checks what it reported.
    fn check_the_child(start: impl Fn(&Spawn) -> io::Result<u32>) {
        let tmp = tempfile::tempdir().unwrap();
        let out = std::fs::File::create(tmp.path().join("out")).unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();
        let script = CString::new(concat!(
            "echo \"$LABTRAIL_X $HOME\"; pwd; read -r p _ _ _ g _ < /proc/$$/stat; echo $p $g; ",
            "tr '\\0' '\\n' < /proc/$$/environ | grep -c '^LABTRAIL_X='; ",
            "grep -E '^Sig(Blk|Ign)' /proc/self/status"
        ))
        .unwrap();
        let args = [c"-c".to_owned(), script];
        let env = [
            ("LABTRAIL_X".to_string(), "first".to_string()),
            ("LABTRAIL_X".to_string(), "x y".to_string()),
            ("HOME".to_string(), "/replaced".to_string()),
        ];
        let spawn = Spawn {
            program: c"/bin/sh",
            args: &args,
            env: &env,
            workdir: tmp.path(),
            stdio: [null.as_fd(), out.as_fd(), out.as_fd()],
        };
        let pid = start(&spawn).unwrap();
        assert_eq!(wait(pid), 0);
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

    #[test]
    fn the_child_gets_its_group_files_folder_environment_and_a_clean_signal_state() {
        let spawner = Spawner::snapshot();
        assert!(
            spawner.direct,
            "this machine's glibc is recent: the direct start is tested"
        );
        check_the_child(|s| spawner.spawn(s));
    }

    /// The start used with a glibc older than 2.25 gives the child the same state.
    #[test]
    fn the_standard_librarys_start_gives_the_same_child() {
        check_the_child(spawn_std);
    }

    #[test]
    fn a_start_that_fails_is_the_childs_error() {
        let null = std::fs::File::open("/dev/null").unwrap();
        let args = [c"-c".to_owned(), c"true".to_owned()];
        let spawn = Spawn {
            program: c"/bin/sh",
            args: &args,
            env: &[],
            workdir: Path::new("/no/such/folder"),
            stdio: [null.as_fd(), null.as_fd(), null.as_fd()],
        };
        let e = Spawner::snapshot().spawn(&spawn).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let missing = Spawn {
            program: c"/no/such/program",
            workdir: Path::new("/"),
            ..spawn
        };
        let e = Spawner::snapshot().spawn(&missing).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }
}
