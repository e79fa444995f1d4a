//! Data: per `[archive] data` pattern, whether its root hash moved, then which files were
//! added, removed or changed when both snapshots list their files.

use super::values::{bytes, short};
use super::{both, field, new_section, CHANGED, SAME};
use crate::provenance::model::{DataFile, DataSnapshot};
use crate::report::archive::model::{Archive, DiffSection};
use std::collections::BTreeMap;

/// The `data` section.
pub fn section(a: &Archive, b: &Archive) -> DiffSection {
    let mut s = new_section("data");
    let Some((pa, pb)) = both(&mut s, "provenance", &a.provenance, &b.provenance) else {
        return s;
    };
    let mut patterns: BTreeMap<&str, (Option<&DataSnapshot>, Option<&DataSnapshot>)> =
        BTreeMap::new();
    for d in &pa.data {
        patterns.entry(&d.pattern).or_default().0 = Some(d);
    }
    for d in &pb.data {
        patterns.entry(&d.pattern).or_default().1 = Some(d);
    }
    for (pattern, (x, y)) in patterns {
        let mut e = field(pattern, x.map(shown), y.map(shown));
        // The root hash decides; the counts shown beside it only explain.
        if let (Some(x), Some(y)) = (x, y) {
            e.change = if x.root == y.root { SAME } else { CHANGED }.to_string();
            if x.root != y.root {
                e.note = Some(format!("root {}..{}", short(&x.root), short(&y.root)));
            }
        }
        s.entries.push(e);
        if let (Some(x), Some(y)) = (x, y) {
            if let (Some(fa), Some(fb), false) = (&x.per_file, &y.per_file, x.root == y.root) {
                files(&mut s, pattern, fa, fb);
            }
        }
    }
    s
}

fn files(s: &mut DiffSection, pattern: &str, a: &[DataFile], b: &[DataFile]) {
    let mut paths: BTreeMap<&str, (Option<&DataFile>, Option<&DataFile>)> = BTreeMap::new();
    for f in a {
        paths.entry(&f.path).or_default().0 = Some(f);
    }
    for f in b {
        paths.entry(&f.path).or_default().1 = Some(f);
    }
    for (path, (x, y)) in paths {
        let mut e = field(
            format!("{pattern}: {path}"),
            x.map(|f| format!("{} {}", short(&f.blake3), bytes(f.bytes))),
            y.map(|f| format!("{} {}", short(&f.blake3), bytes(f.bytes))),
        );
        if let (Some(x), Some(y)) = (x, y) {
            e.change = if x.blake3 == y.blake3 { SAME } else { CHANGED }.to_string();
        }
        s.entries.push(e);
    }
}

/// `12 files, 3.4 MiB, root a1b2c3d4`.
fn shown(d: &DataSnapshot) -> String {
    format!(
        "{} files, {}, root {}",
        d.files,
        bytes(d.bytes),
        short(&d.root)
    )
}
