//! The working state of a repository as a tree hash and a patch that replays it: staged,
//! unstaged, deleted and binary changes and untracked, non-ignored files (each ≤ 1 MiB), in one
//! `git diff-tree --binary --full-index` from `HEAD` to the tree of a temporary index, so that a
//! clean checkout of the commit plus `git apply` gives the same tree.
//!
//! The temporary index is a copy of the user's with its modification time kept (git trusts an
//! entry's stat data only when the file is older than the index: a copy made now would hide a
//! change written in the same second as the commit). New blobs and trees go to a temporary
//! object folder, removed afterwards; the repository's objects are only read, and only by the
//! commands that must (the diff), so that none of them has its time "freshened" either.

use super::git::{Git, Head};
use super::git_scratch::Scratch;
use super::model::{DirtyFile, OmittedFile, Patch, Redaction};
use super::redact::{redact_bytes, redact_text};
use crate::spec::archive::UNTRACKED_FILE_CAP;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What [`working_state`] found.
pub(super) struct WorkingState {
    pub tree: String,
    pub dirty_files: Vec<DirtyFile>,
    pub patch: Patch,
    /// The patch as stored (redacted), when there is one under the cap.
    pub bytes: Option<Vec<u8>>,
    pub redactions: Vec<Redaction>,
}

/// Stages the working state into a temporary index (untracked files over 1 MiB left out and
/// listed as omitted), writes its tree and the patch from `HEAD` to it; the patch is kept when
/// it is at most `cap` bytes. The reason on failure.
pub(super) fn working_state(git: &Git, head: &Head, cap: u64) -> Result<WorkingState, String> {
    let scratch = Scratch::new(git.leftovers())?;
    let index = scratch.0.join("index");
    let objects = scratch.0.join("objects");
    // Every path but the store's folder (its database and logs are not the experiment's code).
    let mut specs: Vec<Vec<u8>> = vec![b".".to_vec()];
    if let Some(store) = &head.exclude {
        specs.push([&b":(exclude,literal)"[..], store.as_os_str().as_bytes()].concat());
    }
    let specs_args: Vec<String> = specs.iter().map(|s| lossy(s)).collect();
    // The untracked files (a walk of the work tree) while the index is copied.
    let (untracked, copied) = std::thread::scope(|s| {
        let listing = s.spawn(|| {
            let list = ["ls-files", "-z", "--others", "--exclude-standard", "--"];
            let specs: Vec<&str> = specs_args.iter().map(String::as_str).collect();
            git.run(&[&list[..], &specs].concat())
        });
        let copied = copy_keeping_mtime(&head.index, &index)
            .and_then(|()| std::fs::create_dir(&objects).map_err(|e| format!("{e}")));
        (joined(listing.join()), copied)
    });
    let (untracked, ()) = (untracked?, copied?);
    let untracked: BTreeSet<&[u8]> = nul_split(&untracked).collect();
    let mut omitted = Vec::new();
    for path in &untracked {
        let meta = std::fs::symlink_metadata(head.root.join(OsStr::from_bytes(path)));
        let bytes = meta.map_or(0, |m| if m.is_file() { m.len() } else { 0 });
        if bytes > UNTRACKED_FILE_CAP {
            omitted.push(OmittedFile {
                path: lossy(path),
                bytes,
                why: format!("untracked file over {}", size(UNTRACKED_FILE_CAP)),
            });
            // Left out before staging, so that a 10 GB checkpoint is never hashed.
            specs.push([&b":(exclude,literal)"[..], path].concat());
        }
    }
    let mut add = vec!["add".to_string(), "-A".to_string()];
    if specs.len() > 1 {
        let file = scratch.0.join("pathspecs");
        let list: Vec<u8> = specs
            .iter()
            .flat_map(|s| s.iter().chain(&[0]))
            .copied()
            .collect();
        std::fs::write(&file, list).map_err(|e| format!("{}: {e}", file.display()))?;
        add.push(format!("--pathspec-from-file={}", file.display()));
        add.push("--pathspec-file-nul".to_string());
    }
    let add: Vec<&str> = add.iter().map(String::as_str).collect();

    let staging = git
        .with_env("GIT_INDEX_FILE", &index)
        .with_env("GIT_OBJECT_DIRECTORY", &objects);
    let mut alternates = head.objects.clone().into_os_string();
    if let Some(more) = std::env::var_os("GIT_ALTERNATE_OBJECT_DIRECTORIES") {
        alternates.push(":");
        alternates.push(more);
    }
    let reading = staging.with_env("GIT_ALTERNATE_OBJECT_DIRECTORIES", alternates);
    // Staged without the repository's objects in sight: `git add` writes again the blob of each
    // file whose stat data it cannot trust, and git "freshens" (touches) an object it writes
    // that exists. A sparse index needs them to expand: only then are they in sight.
    staging.run(&add).or_else(|_| reading.run(&add))?;
    // With them in sight: the index's cached subtrees are reused only if their objects exist
    // (writing every tree again cost 40 ms at 10^4 files). A subtree computed again that the
    // repository already has (a folder changed back) has its time freshened, never its content.
    let tree = reading.run(&["write-tree", "--missing-ok"])?;
    let tree = String::from_utf8_lossy(&tree).trim().to_string();

    let plain = [
        "diff-tree",
        "-r",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
    ];
    let both = [&head.commit[..], &tree[..]];
    let patch_file = scratch.0.join("patch");
    let out =
        std::fs::File::create(&patch_file).map_err(|e| format!("{}: {e}", patch_file.display()))?;
    let patch_args = ["-p", "--binary", "--full-index", "--no-color"];
    let prefixes = ["--src-prefix=a/", "--dst-prefix=b/"];
    let (listed, patched) = std::thread::scope(|s| {
        let listed =
            s.spawn(|| reading.run(&[&plain[..], &["-z", "--raw", "--numstat"], &both].concat()));
        let patched = reading.run_into(&[&plain[..], &patch_args, &prefixes, &both].concat(), out);
        (joined(listed.join()), patched)
    });
    let changes = Changes::parse(&listed?);
    patched?;
    let (bytes, checksum) = hash_file(&patch_file)?;

    let mut redactions = Vec::new();
    let mut dirty_files: Vec<DirtyFile> = changes
        .status
        .iter()
        .map(|(path, status)| DirtyFile {
            path: redact_text(&lossy(path), "patch", &mut redactions),
            change: match status {
                b'A' if untracked.contains(&path[..]) => "?",
                b'A' => "A",
                b'D' => "D",
                _ => "M",
            }
            .to_string(),
        })
        .collect();
    dirty_files.extend(omitted.iter().map(|o| DirtyFile {
        path: o.path.clone(),
        change: "?".to_string(),
    }));
    dirty_files.sort_by(|a, b| a.path.cmp(&b.path));
    let diffstat = changes
        .numstat
        .iter()
        .map(|line| redact_text(line, "patch", &mut redactions))
        .collect();
    let over_cap = bytes > cap;
    let stored = if bytes == 0 || over_cap {
        None
    } else {
        let raw = std::fs::read(&patch_file).map_err(|e| format!("patch: {e}"))?;
        Some(redact_bytes(&raw, "patch", &mut redactions))
    };
    if over_cap {
        omitted.extend(changes.status.iter().map(|(path, _)| {
            OmittedFile {
                path: lossy(path),
                bytes: std::fs::symlink_metadata(head.root.join(OsStr::from_bytes(path)))
                    .map_or(0, |m| m.len()),
                why: format!("patch over the {} cap", size(cap)),
            }
        }));
    }
    Ok(WorkingState {
        tree,
        dirty_files,
        patch: Patch {
            blob: None,
            bytes,
            checksum,
            diffstat,
            omitted,
            over_cap,
            missing: None,
        },
        bytes: stored,
        redactions,
    })
}

/// A thread's answer, or why there is none.
pub(super) fn joined<T>(r: std::thread::Result<Result<T, String>>) -> Result<T, String> {
    r.unwrap_or_else(|_| Err("a capture thread panicked".to_string()))
}

/// The paths of a `diff-tree -z --raw --numstat` answer with their status letter, and one
/// `path | +added -deleted` (or `path | binary`) line per path.
struct Changes {
    status: Vec<(Vec<u8>, u8)>,
    numstat: Vec<String>,
}

impl Changes {
    fn parse(out: &[u8]) -> Changes {
        let mut status = Vec::new();
        let mut numstat = Vec::new();
        let mut fields = nul_split(out);
        while let Some(field) = fields.next() {
            if let Some(raw) = field.strip_prefix(b":") {
                // `:100644 100644 OLD NEW M`, then the path.
                let letter = raw.last().copied().unwrap_or(b'M');
                if let Some(path) = fields.next() {
                    status.push((path.to_vec(), letter));
                }
                continue;
            }
            let mut parts = field.splitn(3, |b| *b == b'\t');
            let (Some(added), Some(deleted), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (added, deleted) = (lossy(added), lossy(deleted));
            numstat.push(if added == "-" {
                format!("{} | binary", lossy(path))
            } else {
                format!("{} | +{added} -{deleted}", lossy(path))
            });
        }
        Changes { status, numstat }
    }
}

fn nul_split(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|b| *b == 0).filter(|f| !f.is_empty())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `5 MiB`, `64 KiB`, `100 bytes`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b > 0 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b > 0 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// The size and blake3 (hex) of a file, read in pieces.
fn hash_file(path: &Path) -> Result<(u64, String), String> {
    let why = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(why)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0; 1 << 16];
    let mut total = 0;
    loop {
        let n = file.read(&mut buf).map_err(why)?;
        if n == 0 {
            return Ok((total, hasher.finalize().to_hex().to_string()));
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

/// A copy of the user's index with its modification time (see the module's comment); none when
/// the repository has no index yet (everything is then staged afresh).
fn copy_keeping_mtime(from: &Path, to: &Path) -> Result<(), String> {
    let why = |e: std::io::Error| format!("copying the index {}: {e}", from.display());
    let modified = match std::fs::metadata(from) {
        Ok(m) => m.modified().map_err(why)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(why(e)),
    };
    std::fs::copy(from, to).map_err(why)?;
    let copy = std::fs::File::options().write(true).open(to).map_err(why)?;
    copy.set_modified(modified).map_err(why)
}
