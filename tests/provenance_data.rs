//! Issue 12: `[archive] data` snapshots on real files and a real store: one pass per file
//! (bytes, newlines, blake3), a root over the sorted (path, hash) pairs, a cache by file
//! identity in the store, and limits said in `partial`.

use labtrail::provenance::data::{snapshot_cached, Limits};
use labtrail::store::Store;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

/// Writes `text` at `rel` under `dir`, with a modification time a minute ago (settled).
fn write_old(dir: &Path, rel: &str, text: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    let f = std::fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
}

fn snap(
    store: &mut Store,
    base: &Path,
    patterns: &[&str],
    limits: &Limits,
) -> Vec<labtrail::provenance::model::DataSnapshot> {
    let patterns: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
    snapshot_cached(
        Some(store),
        base,
        &patterns,
        limits,
        &AtomicBool::new(false),
    )
}

#[test]
fn snapshot_counts_hashes_and_remembers_by_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    write_old(base, "data/a.jsonl", b"{}\n{}\n");
    write_old(base, "data/sub/b.jsonl", b"x\ny\nz");
    let mut store = Store::open(&base.join(".labtrail"), true).unwrap();
    let first = snap(&mut store, base, &["data"], &Limits::default());
    let s = &first[0];
    assert_eq!((s.files, s.bytes, s.lines), (2, 11, 4));
    let files = s.per_file.as_ref().unwrap();
    assert_eq!(files[0].path, "data/a.jsonl");
    assert_eq!(
        files[1].blake3,
        blake3::hash(b"x\ny\nz").to_hex().to_string()
    );
    assert_eq!(s.partial, None);
    let remembered = store
        .data_digests_under(&base.join("data").to_string_lossy())
        .unwrap();
    assert_eq!(remembered.len(), 2);

    // Unchanged: the same snapshot. A remembered row that lies (same identity, other hash)
    // shows the cache was used rather than the file read again.
    let mut lie = remembered[0].clone();
    lie.blake3 = "0".repeat(64);
    store.remember_data_digests(&[lie]).unwrap();
    let cached = snap(&mut store, base, &["data"], &Limits::default());
    assert_eq!(
        cached[0].per_file.as_ref().unwrap()[0].blake3,
        "0".repeat(64)
    );

    // A changed file (new size and mtime) is read again; the root changes with it.
    write_old(base, "data/a.jsonl", b"{}\n{}\n{}\n");
    let changed = snap(&mut store, base, &["data"], &Limits::default());
    assert_eq!(changed[0].lines, 5);
    assert_eq!(
        changed[0].per_file.as_ref().unwrap()[0].blake3,
        blake3::hash(b"{}\n{}\n{}\n").to_hex().to_string()
    );
    assert_ne!(changed[0].root, first[0].root);
}

#[test]
fn a_just_written_file_is_not_remembered() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    std::fs::write(base.join("new.txt"), "1\n").unwrap();
    let mut store = Store::open(&base.join(".labtrail"), true).unwrap();
    let s = snap(&mut store, base, &["*.txt"], &Limits::default());
    assert_eq!(s[0].files, 1);
    assert!(store
        .data_digests_under(&base.to_string_lossy())
        .unwrap()
        .is_empty());
}

#[test]
fn limits_are_said_in_partial() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    for i in 0..5 {
        write_old(base, &format!("d/{i}.txt"), b"1\n");
    }
    let mut store = Store::open(&base.join(".labtrail"), true).unwrap();
    let limits = Limits {
        max_files: 3,
        list_up_to: 2,
        ..Limits::default()
    };
    let s = &snap(&mut store, base, &["d/*.txt"], &limits)[0];
    assert_eq!(s.files, 3);
    assert!(s.per_file.is_none());
    let why = s.partial.as_deref().unwrap();
    assert!(
        why.contains("file cap: 5 files match") && why.contains("per-file list left out"),
        "{why}"
    );
    let none = &snap(
        &mut store,
        base,
        &["d/*.txt"],
        &Limits {
            budget: Duration::ZERO,
            ..Limits::default()
        },
    )[0];
    assert_eq!(none.files, 0);
    assert!(
        none.partial.as_deref().unwrap().contains("time budget"),
        "{none:?}"
    );
}
