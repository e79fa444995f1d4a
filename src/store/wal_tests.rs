//! Tests of the WAL scan on WALs written by SQLite itself.

use super::*;
use std::path::PathBuf;

/// A database in WAL mode with `n` one-row transactions that were never checkpointed, copied
/// (database and WAL) to `into` while the writer was still open: what a SIGKILL leaves.
fn wal_with_commits(tmp: &Path, n: usize) -> (PathBuf, PathBuf) {
    let live = tmp.join("live.db");
    let conn = rusqlite::Connection::open(&live).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute_batch("CREATE TABLE t (i INTEGER PRIMARY KEY, pad TEXT)")
        .unwrap();
    for i in 0..n {
        conn.execute(
            "INSERT INTO t VALUES (?1, printf('%.500c', 'x'))",
            [i as i64],
        )
        .unwrap();
    }
    let db = tmp.join("copy.db");
    let wal = tmp.join("copy.db-wal");
    std::fs::copy(&live, &db).unwrap();
    std::fs::copy(tmp.join("live.db-wal"), &wal).unwrap();
    drop(conn);
    (db, wal)
}

fn page_size_of(wal: &Path) -> u64 {
    let b = std::fs::read(wal).unwrap();
    be(&b, 8) as u64
}

fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(bytes).unwrap();
}

fn rows(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_intact_wal_has_no_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, wal) = wal_with_commits(tmp.path(), 40);
    let s = scan(&wal, &db).unwrap();
    assert_eq!(s.damage, None);
    // The CREATE TABLE and 40 inserts.
    assert_eq!(s.replayed_commits, 41);
    assert_eq!(rows(&db), 40);
}

/// Issue 10: the torn tail a crash leaves (the last frame half written) is not damage.
#[test]
fn a_torn_last_frame_is_not_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, wal) = wal_with_commits(tmp.path(), 40);
    let len = std::fs::metadata(&wal).unwrap().len();
    let frame = FRAME_HEADER_LEN as u64 + page_size_of(&wal);
    // Garbage over the second half of the last frame, as a write cut short would leave.
    overwrite(&wal, len - frame / 2, &vec![0x5a; (frame / 2) as usize]);
    let s = scan(&wal, &db).unwrap();
    assert_eq!(s.damage, None, "{s:?}");
    assert_eq!(s.replayed_commits, 40);
    // And a file cut in the middle of its last frame.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len - frame / 3)
        .unwrap();
    assert_eq!(scan(&wal, &db).unwrap().damage, None);
}

/// Issue 10: bytes of a frame in the middle overwritten: SQLite silently drops every later
/// transaction; the scan says how many, and keeps their pages for repair.
#[test]
fn a_damaged_middle_frame_is_found_with_the_commits_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, wal) = wal_with_commits(tmp.path(), 40);
    let frame = FRAME_HEADER_LEN as u64 + page_size_of(&wal);
    let frames = (std::fs::metadata(&wal).unwrap().len() - HEADER_LEN as u64) / frame;
    let victim = frames / 2;
    // Into the page data of frame `victim` (0-based), past its header.
    let at = HEADER_LEN as u64 + victim * frame + FRAME_HEADER_LEN as u64 + 100;
    overwrite(&wal, at, &[0xff; 64]);
    let s = scan(&wal, &db).unwrap();
    let damage = s.damage.clone().expect("damage found");
    assert_eq!(damage.first_bad_frame as u64, victim + 1);
    assert!(damage.lost_commits >= 10, "{s:?}");
    assert_eq!(s.replayed_commits + damage.lost_commits, 41, "{s:?}");
    let salvage = pages_after_damage(&wal, &db).unwrap();
    assert!(!salvage.pages.is_empty());
    assert!(salvage
        .pages
        .values()
        .all(|p| p.len() == salvage.page_size as usize));
    // What SQLite itself then shows: only the transactions before the damage.
    assert_eq!(rows(&db), s.replayed_commits as i64 - 1);
}

/// A damaged WAL header hides every frame from SQLite; the frames still name their generation.
#[test]
fn a_damaged_header_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, wal) = wal_with_commits(tmp.path(), 10);
    overwrite(&wal, 24, &[0, 0, 0, 0]);
    let damage = scan(&wal, &db).unwrap().damage.expect("damage");
    assert_eq!(damage.first_bad_frame, 0);
    assert!(damage.lost_commits >= 10);
}

/// The checksum matches SQLite's for both byte orders of the magic number.
#[test]
fn checksum_follows_the_magic_byte_order() {
    let bytes: Vec<u8> = (0u8..16).collect();
    let le = checksum(false, &bytes, [0, 0]);
    let be_ = checksum(true, &bytes, [0, 0]);
    assert_ne!(le, be_);
    // s0 = w0 + 0; s1 = w1 + s0; s0 += w2 + s1; s1 += w3 + s0.
    let w = |i: usize, big: bool| {
        let a = [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
        if big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    for big in [false, true] {
        let s0 = w(0, big);
        let s1 = w(4, big).wrapping_add(s0);
        let s0 = s0.wrapping_add(w(8, big)).wrapping_add(s1);
        let s1 = s1.wrapping_add(w(12, big)).wrapping_add(s0);
        assert_eq!(checksum(big, &bytes, [0, 0]), [s0, s1]);
    }
}
