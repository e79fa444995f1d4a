//! The experiment's code, from the `git` command line (the user's own git: their config,
//! `safe.directory`, worktrees, sparse checkouts; no library, no C build): commit, branch,
//! upstream and how far ahead/behind, `describe`, the remote's URL without credentials, whether
//! a remote has the commit, the dirty files, and the working state as a tree hash plus a patch
//! that replays it (see [`super::git_patch`]).
//!
//! Capture reads the repository and never changes it: every command runs with
//! `GIT_OPTIONAL_LOCKS=0`, and the working state is staged into a temporary index and a
//! temporary object folder (the repository's objects only read through
//! `GIT_ALTERNATE_OBJECT_DIRECTORIES`), so the user's index, its stat data and `.git/objects`
//! stay as they were. Every command shares one time limit; any failure becomes
//! [`Probed::Na`] with the reason, never an error of the run.

use super::git_facts::{facts, Facts};
use super::git_patch::{joined, working_state, WorkingState};
use super::model::{Code, Patch, Probed, Redaction};
use super::redact::redact_text;
use crate::exec::command::{run_timed_command_in, CommandError};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::git_facts::strip_credentials;
pub use super::git_scratch::Leftovers;

/// The code of the repository holding `dir`, and the patch bytes to store (redacted; `None` when
/// the working state is clean or the patch is over `cap` bytes). The caller stores them with
/// [`crate::store::Store::put_blob`] and puts the hash in [`super::model::Patch::blob`].
/// Tokens found in the patch or the remote URL are redacted; [`capture_redacting`] also lists
/// them.
pub fn capture(dir: &Path, cap: u64, timeout: Duration) -> (Probed<Code>, Option<Vec<u8>>) {
    capture_redacting(dir, cap, timeout, &mut Vec::new())
}

/// [`capture`], adding what was redacted (place `patch` or `code`) to `found`. A redacted patch
/// replays to a tree that differs from [`Code::tree`] where the secret was.
pub fn capture_redacting(
    dir: &Path,
    cap: u64,
    timeout: Duration,
    found: &mut Vec<Redaction>,
) -> (Probed<Code>, Option<Vec<u8>>) {
    capture_within(dir, cap, timeout, &Within::default(), found)
}

/// What a run's capture adds to a plain [`capture`].
#[derive(Default)]
pub struct Within<'a> {
    /// The run's store folder: when it is inside the repository, nothing under it is part of
    /// the working state (its database, logs and results are not the experiment's code).
    pub store: Option<&'a Path>,
    /// Where the git commands running and the temporary folder (then under the store's
    /// `tmp/`) are registered, for the run's end to stop and remove them
    /// ([`Leftovers::clear`]).
    pub leftovers: Option<Arc<Leftovers>>,
    /// Told the commit, branch and the other cheap facts as soon as they are known, before the
    /// working state (which may take seconds in a large work tree); its `patch` says why it is
    /// missing.
    pub early: Option<&'a (dyn Fn(Code) + Sync)>,
}

/// [`capture_redacting`] for a run, as `within` says.
pub fn capture_within(
    dir: &Path,
    cap: u64,
    timeout: Duration,
    within: &Within,
    found: &mut Vec<Redaction>,
) -> (Probed<Code>, Option<Vec<u8>>) {
    let mut git = Git::new(dir, timeout);
    git.leftovers = within.leftovers.clone();
    let mut head = match head(&git) {
        Ok(head) => head,
        Err(reason) => return (Probed::Na(reason), None),
    };
    let git = git.at(&head.root);
    // An ignored store is out of the working state already (and `git add` fails on an
    // exclusion naming an ignored folder).
    head.exclude = within
        .store
        .and_then(|s| inside(s, &head.root))
        .filter(|rel| {
            let rel = rel.to_string_lossy();
            git.run(&["check-ignore", "-q", "--", &rel]).is_err()
        });
    // The working state (several commands in a row) and the rest, side by side; the rest is
    // told early (the commit alone is worth recording when the working state takes long).
    let (facts, work) = std::thread::scope(|s| {
        let work = s.spawn(|| working_state(&git, &head, cap));
        let facts = facts(&git, &head);
        if let Some(early) = within.early {
            let mut redacted = Vec::new();
            early(code_of(
                &head,
                &facts,
                None,
                &mut redacted,
                "still being captured",
            ));
        }
        (facts, joined(work.join()))
    });
    match work {
        Ok(work) => {
            for r in &work.redactions {
                if !found.contains(r) {
                    found.push(r.clone());
                }
            }
            let bytes = work.bytes.clone();
            let code = code_of(&head, &facts, Some(work), found, "");
            (Probed::Value(code), bytes)
        }
        Err(reason) => {
            let why = format!("working state not captured: {reason}");
            (
                Probed::Value(code_of(&head, &facts, None, found, &why)),
                None,
            )
        }
    }
}

/// The code record of `head` with `facts` and the working state (`None`: unknown for `why`).
fn code_of(
    head: &Head,
    facts: &Facts,
    work: Option<WorkingState>,
    found: &mut Vec<Redaction>,
    why: &str,
) -> Code {
    let remote_url = facts
        .remote_url
        .as_ref()
        .map(|url| redact_text(url, "code", found));
    let (dirty_files, tree, patch) = match work {
        Some(w) => (w.dirty_files, w.tree, w.patch),
        None => (Vec::new(), String::new(), Patch::missing(why)),
    };
    let dirty = !dirty_files.is_empty();
    Code {
        root: head.root.to_string_lossy().into_owned(),
        commit: head.commit.clone(),
        branch: head.branch.clone(),
        describe: (facts.describe.clone()).map(|d| if dirty { d + "-dirty" } else { d }),
        upstream: facts.upstream.clone(),
        remote_url,
        on_remote: facts.on_remote,
        dirty,
        dirty_files,
        tree,
        patch,
    }
}

/// Where `HEAD` is, from one `git rev-parse`.
pub(super) struct Head {
    /// The work tree's top folder.
    pub root: PathBuf,
    /// The object folder, read by the temporary index's commands.
    pub objects: PathBuf,
    /// The user's index, copied (never written).
    pub index: PathBuf,
    pub commit: String,
    pub branch: Option<String>,
    /// A folder (relative to `root`) left out of the working state: the store's.
    pub exclude: Option<PathBuf>,
}

/// `folder` relative to `root` when it is under it (symbolic links resolved); `None` outside
/// (or when it is the top folder itself, which cannot be left out).
fn inside(folder: &Path, root: &Path) -> Option<PathBuf> {
    let folder = folder.canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    let rel = folder.strip_prefix(&root).ok()?;
    (!rel.as_os_str().is_empty()).then(|| rel.to_path_buf())
}

fn head(git: &Git) -> Result<Head, String> {
    let args = [
        "rev-parse",
        "--show-toplevel",
        "--git-path",
        "objects",
        "--git-path",
        "index",
        "HEAD",
        "--abbrev-ref",
        "HEAD",
    ];
    let out = match git.run(&args) {
        Ok(out) => out,
        // Not a repository, or one without a commit: the second tells which.
        Err(reason) => {
            return Err(match git.run(&["rev-parse", "--show-toplevel"]) {
                Ok(_) if reason.contains("'HEAD'") => "no commits yet".to_string(),
                Ok(_) => reason,
                Err(why) if why.contains("not a git repository") => {
                    "not in a git repository".to_string()
                }
                Err(why) => why,
            });
        }
    };
    let out = String::from_utf8_lossy(&out);
    let lines: Vec<&str> = out.lines().collect();
    let [root, objects, index, commit, branch] = lines[..] else {
        return Err(format!("git rev-parse said {out:?}"));
    };
    // --git-path answers relative to the folder it ran in.
    let near = |p: &str| git.dir.join(p);
    Ok(Head {
        root: PathBuf::from(root),
        objects: near(objects),
        index: near(index),
        commit: commit.to_string(),
        branch: (branch != "HEAD").then(|| branch.to_string()),
        exclude: None,
    })
}

/// How git is run: which program, in which folder, until when, with what environment.
#[derive(Clone)]
pub(super) struct Git {
    pub(super) dir: PathBuf,
    deadline: Instant,
    limit: Duration,
    env: Vec<(&'static str, OsString)>,
    leftovers: Option<Arc<Leftovers>>,
}

impl Git {
    fn new(dir: &Path, limit: Duration) -> Git {
        Git {
            dir: dir.to_path_buf(),
            deadline: Instant::now() + limit,
            limit,
            env: Vec::new(),
            leftovers: None,
        }
    }

    /// The same, run in `dir`.
    fn at(&self, dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
            ..self.clone()
        }
    }

    /// Where the temporary folder and the running commands are registered, if anywhere.
    pub(super) fn leftovers(&self) -> Option<&Leftovers> {
        self.leftovers.as_deref()
    }

    /// The same, with `name=value` in the environment.
    pub(super) fn with_env(&self, name: &'static str, value: impl Into<OsString>) -> Git {
        let mut git = self.clone();
        git.env.push((name, value.into()));
        git
    }

    /// What `git ARGS` printed, or why it did not answer (the `n/a` reason).
    pub(super) fn run(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        self.spawn(args, Stdio::piped()).map(|o| o.stdout)
    }

    /// `git ARGS` with its output written to `out` (a patch may be larger than memory wants).
    pub(super) fn run_into(&self, args: &[&str], out: File) -> Result<(), String> {
        self.spawn(args, Stdio::from(out)).map(|_| ())
    }

    fn spawn(&self, args: &[&str], stdout: Stdio) -> Result<std::process::Output, String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.too_slow());
        }
        let groups = self.leftovers().map(|l| &l.groups);
        if groups.is_some_and(|g| g.killed()) {
            return Err("stopped: the run ended first".to_string());
        }
        let mut command = Command::new("git");
        // Capture writes nothing the user keeps: no automatic gc or maintenance, no shared
        // index file written next to the user's.
        let quiet = ["-c", "gc.auto=0", "-c", "maintenance.auto=false"];
        command
            .arg("-C")
            .arg(&self.dir)
            .args(quiet)
            .args(["-c", "core.splitIndex=false"])
            .args(args)
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_TERMINAL_PROMPT", "0")
            // A partial clone would fetch a missing blob over the network (git ≥ 2.45).
            .env("GIT_NO_LAZY_FETCH", "1")
            .env("LC_ALL", "C");
        for (name, value) in &self.env {
            command.env(name, value);
        }
        run_timed_command_in(&mut command, stdout, left, groups).map_err(|e| match e {
            CommandError::NotRun { absent: true, .. } => "git not found".to_string(),
            CommandError::NotRun { detail, .. } => format!("git could not start: {detail}"),
            CommandError::TimedOut { .. } => self.too_slow(),
            CommandError::Failed { stderr, .. } => {
                let first = stderr.lines().next().unwrap_or("").trim();
                format!("git {} failed: {first}", args[0])
            }
        })
    }

    fn too_slow(&self) -> String {
        format!(
            "git did not answer within {:.1} s",
            self.limit.as_secs_f64()
        )
    }
}
