//! Code: the commit each run was made from, its branch and remote, and the uncommitted changes
//! (compared by the patch's checksum: the same checksum is the same working state).

use super::values::short;
use super::{both, field, new_section};
use crate::provenance::model::Code;
use crate::report::archive::model::{Archive, DiffSection, RunDiff};

/// The `code` section.
pub fn section(a: &Archive, b: &Archive) -> DiffSection {
    let mut s = new_section("code");
    let Some((pa, pb)) = both(&mut s, "provenance", &a.provenance, &b.provenance) else {
        return s;
    };
    let Some((ca, cb)) = both(&mut s, "repository", &pa.code, &pb.code) else {
        return s;
    };
    let mut commit = field("commit", Some(ca.commit.clone()), Some(cb.commit.clone()));
    if ca.commit != cb.commit {
        commit.note = Some(format!("{}..{}", short(&ca.commit), short(&cb.commit)));
    }
    s.entries.push(commit);
    s.entries
        .push(field("branch", ca.branch.clone(), cb.branch.clone()));
    s.entries.push(field(
        "remote_url",
        ca.remote_url.clone(),
        cb.remote_url.clone(),
    ));
    s.entries
        .push(field("dirty", Some(dirty(ca)), Some(dirty(cb))));
    let mut patch = field("patch", Some(patch_id(ca)), Some(patch_id(cb)));
    if ca.patch.checksum != cb.patch.checksum && (ca.dirty || cb.dirty) {
        patch.note = Some(format!(
            "patch changed ({} → {} files)",
            ca.dirty_files.len(),
            cb.dirty_files.len()
        ));
    }
    s.entries.push(patch);
    s
}

fn dirty(code: &Code) -> String {
    if code.dirty {
        format!("dirty ({} files)", code.dirty_files.len())
    } else {
        "clean".to_string()
    }
}

/// What identifies the working state's changes: their checksum (clean trees have none).
fn patch_id(code: &Code) -> String {
    if code.dirty {
        short(&code.patch.checksum).to_string()
    } else {
        "none".to_string()
    }
}

/// How long counting commits may take: the count is a courtesy, never a wait.
const COUNT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Adds `(N commits)` to the commit entry of `diff` when both commits are in B's repository on
/// this machine (`git rev-list --count A..B`, at most 2 s); leaves it as it is otherwise (an
/// archive copied from elsewhere, a commit not fetched). Kept out of [`super::compare`], which
/// reads only the archives.
pub fn count_commits(diff: &mut RunDiff, a: &Archive, b: &Archive) {
    let (Some(pa), Some(pb)) = (a.provenance.value(), b.provenance.value()) else {
        return;
    };
    let (Some(ca), Some(cb)) = (pa.code.value(), pb.code.value()) else {
        return;
    };
    let hex = |c: &str| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_hexdigit());
    if ca.commit == cb.commit || !hex(&ca.commit) || !hex(&cb.commit) {
        return;
    }
    if !std::path::Path::new(&cb.root).is_dir() {
        return;
    }
    let range = format!("{}..{}", ca.commit, cb.commit);
    let args = [
        "-C",
        cb.root.as_str(),
        "rev-list",
        "--count",
        range.as_str(),
    ];
    let Ok(out) = crate::exec::command::run_timed("git", &args, COUNT_TIMEOUT) else {
        return;
    };
    let Ok(n) = out.trim().parse::<u64>() else {
        return;
    };
    let entry = diff
        .sections
        .iter_mut()
        .filter(|s| s.name == "code")
        .flat_map(|s| s.entries.iter_mut())
        .find(|e| e.key == "commit");
    if let Some(e) = entry {
        let commits = if n == 1 { "commit" } else { "commits" };
        let note = e.note.get_or_insert_with(String::new);
        note.push_str(&format!(" ({n} {commits})"));
    }
}
