//! Tests of opening: copies of a damaged database.

use super::*;
use std::path::PathBuf;

fn damaged_copies(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".damaged-"))
        .collect()
}

/// Issue 10: two opens of a damaged database within the same second keep two copies; the
/// first is never overwritten (it may be the only full copy).
#[test]
fn damaged_copies_are_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(DB_FILE);
    std::fs::write(&db, vec![0x42u8; 8192]).unwrap();
    for access in [Access::ReadOnly, Access::ReadWrite { create: false }] {
        match Store::open_with(&dir, access) {
            Err(StoreError::Corrupt { backup, .. }) => assert!(backup.is_file()),
            Err(e) => panic!("{access:?}: expected Corrupt, got {e}"),
            Ok(_) => panic!("{access:?}: garbage opened"),
        }
    }
    let first = damaged_copies(&dir);
    std::fs::write(&db, vec![0x43u8; 8192]).unwrap();
    assert!(Store::open_read_only(&dir).is_err());
    let copies = damaged_copies(&dir);
    // The first two saw the same damage and share one copy (issue 10, review).
    assert_eq!(copies.len(), 2, "{copies:?}");
    for c in &first {
        assert_eq!(
            std::fs::read(c).unwrap(),
            vec![0x42u8; 8192],
            "{}",
            c.display()
        );
    }
}

/// Issue 10 (review): every read of a damaged store kept another full copy of it (six
/// commands, nine files; `watch labtrail status` could fill the disk). Reads of the same
/// damage keep one copy and name it each time; new damage gets a new copy.
#[test]
fn reads_of_the_same_damage_keep_one_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(DB_FILE);
    let mut garbage = vec![0x42u8; 300 << 10];
    std::fs::write(&db, &garbage).unwrap();
    let backups: Vec<PathBuf> = (0..6)
        .map(|_| match Store::open_read_only(&dir) {
            Err(StoreError::Corrupt { backup, .. }) => backup,
            other => panic!("expected Corrupt, got {:?}", other.err()),
        })
        .collect();
    assert!(backups.iter().all(|b| *b == backups[0]), "{backups:?}");
    assert_eq!(damaged_copies(&dir), vec![backups[0].clone()]);
    // Damage in the middle of the file (neither end) is new damage too: its time differs.
    std::thread::sleep(std::time::Duration::from_millis(20));
    garbage[150 << 10] = 0x43;
    std::fs::write(&db, &garbage).unwrap();
    assert!(Store::open_read_only(&dir).is_err());
    assert_eq!(damaged_copies(&dir).len(), 2);
}
