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

use super::git_patch::working_state;
use super::model::{Code, Probed, Redaction, Upstream};
use super::redact::redact_text;
use crate::exec::command::{run_timed_command, CommandError};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let git = Git::new(dir, timeout);
    let head = match head(&git) {
        Ok(head) => head,
        Err(reason) => return (Probed::Na(reason), None),
    };
    let git = git.at(&head.root);
    // The working state (several commands in a row) and the rest, side by side.
    let (facts, work) = std::thread::scope(|s| {
        let facts = s.spawn(|| facts(&git, &head));
        let work = working_state(&git, &head, cap);
        (facts.join(), work)
    });
    let facts = facts.unwrap_or_default();
    let work = match work {
        Ok(work) => work,
        Err(reason) => {
            let reason = format!("working state at {} not captured: {reason}", head.commit);
            return (Probed::Na(reason), None);
        }
    };
    let mut remote_url = facts.remote_url;
    if let Some(url) = &mut remote_url {
        *url = redact_text(url, "code", found);
    }
    for r in work.redactions {
        if !found.contains(&r) {
            found.push(r);
        }
    }
    let dirty = !work.dirty_files.is_empty();
    let code = Code {
        root: head.root.to_string_lossy().into_owned(),
        commit: head.commit,
        branch: head.branch,
        describe: facts.describe.map(|d| if dirty { d + "-dirty" } else { d }),
        upstream: facts.upstream,
        remote_url,
        on_remote: facts.on_remote,
        dirty,
        dirty_files: work.dirty_files,
        tree: work.tree,
        patch: work.patch,
    };
    (Probed::Value(code), work.bytes)
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
    })
}

/// What the repository says besides its working state; each fact on its own, `None` when its
/// command fails.
#[derive(Default)]
struct Facts {
    describe: Option<String>,
    upstream: Option<Upstream>,
    remote_url: Option<String>,
    on_remote: Option<bool>,
}

fn facts(git: &Git, head: &Head) -> Facts {
    let text = |args: &[&str]| {
        git.run(args)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
    };
    let describe = text(&["describe", "--tags", "--always", "HEAD"]).filter(|d| !d.is_empty());
    let upstream = head.branch.as_ref().and_then(|b| {
        let format = "--format=%(upstream:short)%00%(upstream:track,nobracket)";
        upstream(&text(&["for-each-ref", format, &format!("refs/heads/{b}")])?)
    });
    // Exit 1 when no remote has a URL.
    let remotes = text(&["config", "-z", "--get-regexp", r"^remote\..*\.url$"]);
    let remote_url = remotes.as_deref().and_then(pick_remote).map(strip_credentials);
    let on_remote = remote_url.as_ref().and_then(|_| {
        let contains = ["for-each-ref", "--count=1", "--contains", "HEAD"];
        text(&[&contains[..], &["--format=%(refname)", "refs/remotes/"]].concat())
            .map(|r| !r.is_empty())
    });
    Facts {
        describe,
        upstream,
        remote_url,
        on_remote,
    }
}

/// `origin/main\0ahead 1, behind 2` (or `gone`, or nothing after the NUL) as an [`Upstream`];
/// `None` without an upstream or when it is gone.
fn upstream(line: &str) -> Option<Upstream> {
    let (name, track) = line.split_once('\0')?;
    if name.is_empty() || track == "gone" {
        return None;
    }
    let count = |word: &str| {
        track
            .split(", ")
            .find_map(|part| part.strip_prefix(word)?.trim().parse().ok())
            .unwrap_or(0)
    };
    Some(Upstream {
        name: name.to_string(),
        ahead: count("ahead "),
        behind: count("behind "),
    })
}

/// `origin`'s URL, else the first remote's, from `git config -z --get-regexp` (`name\nvalue\0`).
fn pick_remote(config: &str) -> Option<String> {
    let urls: Vec<(&str, &str)> = config
        .split('\0')
        .filter_map(|entry| entry.split_once('\n'))
        .collect();
    let (_, url) = urls
        .iter()
        .find(|(key, _)| *key == "remote.origin.url")
        .or(urls.first())?;
    Some(url.to_string())
}

/// `url` without its credentials: `https://user:token@host/x.git` → `https://host/x.git` (a
/// user name on HTTP is often the token itself); an `ssh://` URL keeps its user and loses only a
/// password; `git@host:x.git` and paths are left as they are.
pub fn strip_credentials(url: String) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url;
    };
    let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
    let web = ["http", "https", "ftp", "ftps"].contains(&scheme.to_ascii_lowercase().as_str());
    match (web, userinfo.split_once(':')) {
        (true, _) => format!("{scheme}://{host}"),
        (false, Some((user, _))) => format!("{scheme}://{user}@{host}"),
        (false, None) => url,
    }
}

/// How git is run: which program, in which folder, until when, with what environment.
#[derive(Clone)]
pub(super) struct Git {
    dir: PathBuf,
    deadline: Instant,
    limit: Duration,
    env: Vec<(&'static str, OsString)>,
}

impl Git {
    fn new(dir: &Path, limit: Duration) -> Git {
        Git {
            dir: dir.to_path_buf(),
            deadline: Instant::now() + limit,
            limit,
            env: Vec::new(),
        }
    }

    /// The same, run in `dir`.
    fn at(&self, dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
            ..self.clone()
        }
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
        run_timed_command(&mut command, stdout, left).map_err(|e| match e {
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
        format!("git did not answer within {:.1} s", self.limit.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: credentials never leave with a remote URL; ssh and scp-like forms are kept.
    #[test]
    fn credentials_are_stripped_from_urls() {
        let cases = [
            ("https://user:tok@host/x.git", "https://host/x.git"),
            ("https://ghp_abc@github.com/lab/x.git", "https://github.com/lab/x.git"),
            ("HTTP://u:p@host:8080/x", "HTTP://host:8080/x"),
            ("https://host/x.git", "https://host/x.git"),
            ("https://host/a@b/x.git", "https://host/a@b/x.git"),
            ("ssh://git@host/x.git", "ssh://git@host/x.git"),
            ("ssh://me:pw@host:22/x.git", "ssh://me@host:22/x.git"),
            ("git@github.com:lab/x.git", "git@github.com:lab/x.git"),
            ("/srv/git/x.git", "/srv/git/x.git"),
            ("file:///srv/git/x.git", "file:///srv/git/x.git"),
        ];
        for (url, stripped) in cases {
            assert_eq!(strip_credentials(url.to_string()), stripped, "{url}");
        }
    }

    /// Issue 12: `for-each-ref`'s upstream and track fields.
    #[test]
    fn upstream_and_distance_are_read() {
        let up = |name: &str, ahead, behind| {
            Some(Upstream {
                name: name.into(),
                ahead,
                behind,
            })
        };
        assert_eq!(upstream("origin/main\0ahead 3, behind 2"), up("origin/main", 3, 2));
        assert_eq!(upstream("origin/main\0behind 7"), up("origin/main", 0, 7));
        assert_eq!(upstream("origin/main\0"), up("origin/main", 0, 0));
        assert_eq!(upstream("origin/main\0gone"), None);
        assert_eq!(upstream("\0"), None);
        let config = "remote.fork.url\nhttps://a/fork.git\0remote.origin.url\nhttps://a/x.git\0";
        assert_eq!(pick_remote(config).as_deref(), Some("https://a/x.git"));
        assert_eq!(
            pick_remote("remote.fork.url\nhttps://a/fork.git\0").as_deref(),
            Some("https://a/fork.git")
        );
    }
}
