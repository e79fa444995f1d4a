//! Code: the commit each run was made from, its branch and remote, and the uncommitted changes
//! (compared by the patch's checksum: the same checksum is the same working state).

use super::values::short;
use super::{both, field, new_section};
use crate::provenance::model::Code;
use crate::report::archive::model::{Archive, DiffSection};

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
