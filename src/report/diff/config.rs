//! Config: the experiment file's flattened dotted keys, added / removed / changed.

use super::{field, new_section};
use crate::report::archive::model::{Archive, DiffSection};
use std::cmp::Ordering;

/// The `config` section: one entry per dotted key of either experiment file.
pub fn section(a: &Archive, b: &Archive) -> DiffSection {
    let mut s = new_section("config");
    // Both maps are sorted: one merge walk, no lookups.
    let mut left = a.config.flat.iter().peekable();
    let mut right = b.config.flat.iter().peekable();
    loop {
        let order = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
        };
        let entry = match order {
            Ordering::Less => {
                let (k, v) = left.next().expect("peeked");
                field(k.as_str(), Some(v.clone()), None)
            }
            Ordering::Greater => {
                let (k, v) = right.next().expect("peeked");
                field(k.as_str(), None, Some(v.clone()))
            }
            Ordering::Equal => {
                let (k, va) = left.next().expect("peeked");
                let (_, vb) = right.next().expect("peeked");
                field(k.as_str(), Some(va.clone()), Some(vb.clone()))
            }
        };
        s.entries.push(entry);
    }
    s
}
