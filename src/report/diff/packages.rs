//! Packages: installed Python packages added, removed, upgraded or downgraded (PEP 440 order,
//! see [`super::pep440`]); a source checkout whose commit moved is `changed`.

use super::pep440::direction;
use super::values::short;
use super::{both, new_section, ADDED, CHANGED, REMOVED, SAME};
use crate::provenance::model::Package;
use crate::report::archive::model::{Archive, DiffEntry, DiffSection};
use std::collections::BTreeMap;

/// The `packages` section: one entry per package either run had.
pub fn section(a: &Archive, b: &Archive) -> DiffSection {
    let mut s = new_section("packages");
    let Some((pa, pb)) = both(&mut s, "provenance", &a.provenance, &b.provenance) else {
        return s;
    };
    let Some((xa, xb)) = both(&mut s, "packages", &pa.packages, &pb.packages) else {
        return s;
    };
    let mut names: BTreeMap<&str, (Option<&Package>, Option<&Package>)> = BTreeMap::new();
    for p in &xa.all {
        names.entry(&p.name).or_default().0 = Some(p);
    }
    for p in &xb.all {
        names.entry(&p.name).or_default().1 = Some(p);
    }
    for (name, (x, y)) in names {
        s.entries.push(entry(name, x, y));
    }
    s
}

fn entry(name: &str, a: Option<&Package>, b: Option<&Package>) -> DiffEntry {
    let (change, note) = match (a, b) {
        (Some(_), None) => (REMOVED, None),
        (None, Some(_)) => (ADDED, None),
        (Some(x), Some(y)) => match direction(&x.version, &y.version) {
            "same" if x.commit != y.commit => (CHANGED, Some("commit changed".to_string())),
            "same" => (SAME, None),
            // Not PEP 440 (`abc` → `def`): no order, but say it changed.
            "changed" => (CHANGED, Some("changed".to_string())),
            moved => (CHANGED, Some(moved.to_string())),
        },
        (None, None) => (SAME, None),
    };
    DiffEntry {
        key: name.to_string(),
        change: change.to_string(),
        a: a.map(shown),
        b: b.map(shown),
        note,
    }
}

/// `2.3.0`, or `2.3.0 @ a1b2c3d4` for a source checkout.
fn shown(p: &Package) -> String {
    match &p.commit {
        Some(c) => format!("{} @ {}", p.version, short(c)),
        None => p.version.clone(),
    }
}
