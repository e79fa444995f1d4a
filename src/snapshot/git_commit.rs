//! `snapshot --commit` and `snapshots prune --apply`: one commit of the snapshot folder only
//! (pathspec + `--only`), never the user's other staged files; a held `index.lock` is retried,
//! then skipped with a warning (the snapshot itself is already written).
//!
//! The user's own `git` runs (their config, hooks and signing), each command with a time limit.
//! From cron there may be no identity (no `user.name`, a host name git cannot make an e-mail
//! of): then, and only then, one is given on the command line.

use crate::exec::command::{run_timed_command, CommandError};
use std::path::Path;
use std::process::{Command, Stdio};
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

/// Each git command's time limit (a hook or a slow network filesystem may take a while).
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long to wait before each new try while another git holds `index.lock`: ~5 s in all.
const LOCK_RETRIES: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_millis(1500),
    Duration::from_millis(2000),
];

/// Commits every change (added, modified, removed files) under `dir` and nothing else, with
/// `message`.
pub fn commit_folder(dir: &Path, message: &str) -> CommitOutcome {
    match git(dir, &[], &["rev-parse", "--is-inside-work-tree"]) {
        Ok(out) if out.trim() == "true" => {}
        _ => return CommitOutcome::NotARepository,
    }
    let identity = fallback_identity(dir);
    let mut last = String::new();
    for wait in std::iter::once(Duration::ZERO).chain(LOCK_RETRIES) {
        std::thread::sleep(wait);
        match attempt(dir, &identity, message) {
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

/// One try: stage the folder's changes, then commit only the folder.
fn attempt(dir: &Path, identity: &[String], message: &str) -> Result<CommitOutcome, String> {
    // `.`: the folder (git runs in it), whatever its path in the work tree.
    // The folder's lock is held while committing (a prune holds it throughout): never staged,
    // even in a folder without labtrail's `.gitignore` (seed 000's own).
    let unlocked = format!(":(exclude){}", super::folder_lock::LOCK_FILE);
    git(dir, &[], &["add", "-A", "--", ".", &unlocked])?;
    let staged = git(
        dir,
        &[],
        &["diff", "--cached", "--name-only", "--", ".", &unlocked],
    )?;
    if staged.trim().is_empty() {
        return Ok(CommitOutcome::NothingToCommit);
    }
    // `--only` with a pathspec commits the folder alone; the user's other staged files stay
    // staged in their index, uncommitted.
    git(
        dir,
        identity,
        &["commit", "--only", "--quiet", "-m", message, "--", "."],
    )?;
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

/// What `git [PRE] ARGS` run in `dir` printed, or why it failed (its first line of stderr).
fn git(dir: &Path, pre: &[String], args: &[&str]) -> Result<String, String> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(pre)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
    match run_timed_command(&mut command, Stdio::piped(), GIT_TIMEOUT) {
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
