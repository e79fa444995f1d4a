//! `snapshot --commit` and `snapshots prune --apply`: one commit of the snapshot files only
//! (explicit pathspecs + `--only`), never the user's other files, staged or not; a held `index.lock` is retried,
//! then skipped with a warning (the snapshot itself is already written).
//!
//! The user's own `git` runs (their config, hooks and signing), each command with a time limit.
//! From cron there may be no identity (no `user.name`, a host name git cannot make an e-mail
//! of): then, and only then, one is given on the command line.

use crate::exec::command::{run_timed_command_gently, CommandError};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// What a commit attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Committed: the new commit's id.
    Committed(String),
    /// Nothing in the folder changed.
    NothingToCommit,
    /// The folder is not in a git work tree.
    NotARepository,
    /// Skipped, with the warning to print (e.g. `index.lock` held past the retries).
    Skipped(String),
}

/// Each git command's time limit (a hook or a slow network filesystem may take a while);
/// `LABTRAIL_SNAPSHOT_GIT_TIMEOUT` (a duration, `2s`) changes it (tests, very slow hooks).
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long git has, after SIGTERM at its time limit, to remove its lock files and end.
const GIT_GRACE: Duration = Duration::from_secs(10);

/// How long to wait before each new try while another git holds `index.lock`: ~5 s in all.
const LOCK_RETRIES: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_millis(1500),
    Duration::from_millis(2000),
];

/// The snapshot files, by git's glob (`*` stops at `/`): relative to the folder git runs in.
const SNAPSHOT_PATHSPEC: &str = ":(glob)snapshot_*.json";

/// Commits the snapshot files of `dir` (added, modified, removed `snapshot_*.json`, and the
/// folder's `.gitignore` when it is the one labtrail writes) and nothing else, with `message`.
/// Never anything else of the folder: it may be the work tree's root, or hold the index
/// database. Skipped with a warning on a detached HEAD or while a rebase, merge, cherry-pick,
/// revert or bisect is under way (the commit would land in the user's rewritten history or on
/// no branch). A commit that fails leaves nothing of ours staged.
pub fn commit_folder(dir: &Path, message: &str) -> CommitOutcome {
    match git(dir, &[], &["rev-parse", "--is-inside-work-tree"]) {
        Ok(out) if out.trim() == "true" => {}
        // git refuses a repository owned by someone else: its word says what to do.
        Err(why) if why.contains("dubious ownership") || why.contains("safe.directory") => {
            return CommitOutcome::Skipped(format!(
                "the snapshot folder {} was not committed: {why}",
                dir.display()
            ))
        }
        _ => return CommitOutcome::NotARepository,
    }
    if let Some(why) = busy(dir) {
        return CommitOutcome::Skipped(format!(
            "the snapshot folder {} was not committed: {why}; the next `--commit` commits it",
            dir.display()
        ));
    }
    let mut paths = vec![SNAPSHOT_PATHSPEC.to_string()];
    let ours = std::fs::read_to_string(dir.join(".gitignore"))
        .is_ok_and(|text| text == super::write::GITIGNORE);
    if ours {
        paths.push(":(literal).gitignore".to_string());
    }
    let identity = fallback_identity(dir);
    // A Ctrl+C or SIGTERM now would leave git's hook writing into a closed pipe (the commit
    // fails) and our files staged with nobody to unstage them: the signal waits until the
    // commit is done or undone; `act_on_held_signal` then acts on it.
    let _hold = HoldStop::new();
    let mut last = String::new();
    for wait in std::iter::once(Duration::ZERO).chain(LOCK_RETRIES) {
        std::thread::sleep(wait);
        match attempt(dir, &paths, &identity, message) {
            Ok(outcome) => return outcome,
            Err(why) if why.contains("index.lock") => last = why,
            Err(why) => {
                return CommitOutcome::Skipped(format!(
                    "the snapshot folder {} was not committed: {why}",
                    dir.display()
                ))
            }
        }
    }
    CommitOutcome::Skipped(format!(
        "the snapshot folder {} was not committed: another git command holds the repository's index.lock ({last}); the next `--commit` commits it",
        dir.display()
    ))
}

/// How many snapshot files (`snapshot_*.json`) of `dir` the last commit has and the folder no
/// longer does (0 outside git): what a commit of the folder removes, including the removals of
/// an earlier, interrupted prune.
pub fn removed_since_commit(dir: &Path) -> usize {
    let args = [
        "diff",
        "--no-renames",
        "--name-only",
        "--diff-filter=D",
        "HEAD",
        "--",
        ".",
    ];
    git(dir, &[], &args).map_or(0, |out| {
        out.lines()
            .filter_map(|l| l.rsplit('/').next())
            .filter(|name| name.starts_with("snapshot_") && name.ends_with(".json"))
            .count()
    })
}

/// Whether a stop signal may end the process at once (no commit under way), and which one
/// came while it could not (0: none); the handlers are installed once, for the signals that had
/// their default action then.
fn stop_state() -> &'static (Arc<AtomicBool>, Arc<AtomicUsize>) {
    static STATE: OnceLock<(Arc<AtomicBool>, Arc<AtomicUsize>)> = OnceLock::new();
    STATE.get_or_init(|| {
        let free = Arc::new(AtomicBool::new(true));
        let held = Arc::new(AtomicUsize::new(0));
        for &sig in crate::exec::signals::stop_signals() {
            if default_disposition(sig) {
                let _ = signal_hook::flag::register_conditional_default(sig, free.clone());
                let _ = signal_hook::flag::register_usize(sig, held.clone(), sig as usize);
            }
        }
        (free, held)
    })
}

/// While alive, SIGINT/SIGTERM/SIGHUP of a process that had no handler for them (a plain
/// `labtrail snapshot`, `snapshots prune`) are held instead of ending it at once. A process with
/// its own handler (the `--every` loop) gets them as before: its flag is set, and it stops
/// between snapshots.
struct HoldStop;

impl HoldStop {
    fn new() -> HoldStop {
        stop_state().0.store(false, Ordering::SeqCst);
        HoldStop
    }
}

impl Drop for HoldStop {
    fn drop(&mut self) {
        stop_state().0.store(true, Ordering::SeqCst);
    }
}

/// Whether `sig` has its default action in this process now.
fn default_disposition(sig: libc::c_int) -> bool {
    // SAFETY: a query (no new action); `old` is plain data the call fills.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    r == 0 && old.sa_sigaction == libc::SIG_DFL
}

/// Ends the process as the stop signal held during a commit would have (exit by that signal),
/// once the caller has released what it held (the folder's lock) and said what it did; nothing
/// when none came.
pub fn act_on_held_signal() {
    let sig = stop_state().1.swap(0, Ordering::SeqCst);
    if sig != 0 {
        let _ = signal_hook::low_level::emulate_default_handler(sig as i32);
    }
}

/// Why the repository is in no state for a commit of ours (detached HEAD, an operation under
/// way), or None.
fn busy(dir: &Path) -> Option<String> {
    if git(dir, &[], &["symbolic-ref", "-q", "HEAD"]).is_err() {
        return Some("HEAD is detached (no branch is checked out)".to_string());
    }
    let states = [
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase or `git am`"),
        ("MERGE_HEAD", "a merge"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
        ("BISECT_LOG", "a bisect"),
    ];
    for (name, what) in states {
        let Ok(path) = git(dir, &[], &["rev-parse", "--git-path", name]) else {
            continue;
        };
        // Relative to the folder git ran in.
        if dir.join(path.trim_end_matches('\n')).exists() {
            return Some(format!("{what} is under way in the repository"));
        }
    }
    None
}

/// One try: stage the snapshot files' changes, then commit only them; a failed commit unstages
/// them again (the user's next own commit must not carry them).
fn attempt(
    dir: &Path,
    paths: &[String],
    identity: &[String],
    message: &str,
) -> Result<CommitOutcome, String> {
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string())
            .chain(std::iter::once("--".to_string()))
            .chain(paths.iter().cloned())
            .collect()
    };
    // A pathspec that matches nothing (no snapshot yet, nothing tracked) is nothing to commit.
    let tracked = git_owned(dir, &[], &with(&["ls-files"]))?;
    let present = super::write::list(dir).map_err(|e| e.to_string())?;
    if tracked.trim().is_empty() && present.is_empty() {
        return Ok(CommitOutcome::NothingToCommit);
    }
    git_owned(dir, &[], &with(&["add", "-A"]))?;
    let staged = git_owned(dir, &[], &with(&["diff", "--cached", "--name-only"]))?;
    if staged.trim().is_empty() {
        return Ok(CommitOutcome::NothingToCommit);
    }
    // `--only` with a pathspec commits these files alone; the user's other staged files stay
    // staged in their index, uncommitted.
    let commit = with(&["commit", "--only", "--quiet", "-m", message]);
    if let Err(why) = git_owned(dir, identity, &commit) {
        let _ = git_owned(dir, &[], &with(&["reset", "-q"]));
        return Err(why);
    }
    let id = git(dir, &[], &["rev-parse", "HEAD"])?;
    Ok(CommitOutcome::Committed(id.trim().to_string()))
}

/// `-c user.name=... -c user.email=...` when git cannot make an identity by itself (cron's bare
/// environment, a fresh account), else nothing: the user's own identity wins.
fn fallback_identity(dir: &Path) -> Vec<String> {
    let has = |var: &str| git(dir, &[], &["var", var]).is_ok();
    if has("GIT_AUTHOR_IDENT") && has("GIT_COMMITTER_IDENT") {
        return Vec::new();
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| nix::unistd::getuid().to_string());
    let host = crate::exec::process::hostname();
    let mut args = Vec::new();
    if git(dir, &[], &["config", "user.name"]).is_err() {
        args.extend(["-c".to_string(), format!("user.name={user} (labtrail)")]);
    }
    if git(dir, &[], &["config", "user.email"]).is_err() {
        args.extend(["-c".to_string(), format!("user.email={user}@{host}")]);
    }
    args
}

fn git_owned(dir: &Path, pre: &[String], args: &[String]) -> Result<String, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    git(dir, pre, &args)
}

/// The time limit of each git command.
fn git_timeout() -> Duration {
    std::env::var("LABTRAIL_SNAPSHOT_GIT_TIMEOUT")
        .ok()
        .and_then(|t| crate::spec::parse_duration(&t).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(GIT_TIMEOUT)
}

/// What `git [PRE] ARGS` run in `dir` printed, or why it failed (its first line of stderr).
/// Past its time limit git gets SIGTERM (it removes its lock files) and only later SIGKILL;
/// it runs in a process group of its own, so a Ctrl+C meant for labtrail lets it finish.
fn git(dir: &Path, pre: &[String], args: &[&str]) -> Result<String, String> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(pre)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
    match run_timed_command_gently(&mut command, Stdio::piped(), git_timeout(), GIT_GRACE) {
        Ok(out) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Err(CommandError::NotRun { absent: true, .. }) => Err("git not found".to_string()),
        Err(CommandError::NotRun { detail, .. }) => Err(format!("git could not start: {detail}")),
        Err(CommandError::TimedOut { seconds, .. }) => {
            Err(format!("git {} did not answer within {seconds} s", args[0]))
        }
        Err(CommandError::Failed { stderr, .. }) => {
            let said = stderr
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
                .or_else(|| stderr.lines().next())
                .unwrap_or("")
                .trim()
                .to_string();
            Err(format!("git {} failed: {said}", args[0]))
        }
    }
}
