//! Tests of opening: copies of a damaged database.

use super::*;

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
    assert_eq!(copies.len(), 3, "{copies:?}");
    for c in &first {
        assert_eq!(
            std::fs::read(c).unwrap(),
            vec![0x42u8; 8192],
            "{}",
            c.display()
        );
    }
}
