//! Where a run's experiment file is now, from what the store recorded when the run was made:
//! the base of its working directories for a monitor started from any folder (issue 11).

use std::path::{Path, PathBuf};

/// Where a run's experiment file is, from the path recorded with it. Runs record it absolute
/// (issue 11). A run made before that recorded it as typed, relative to a folder nobody wrote
/// down; and a folder moved with its store (README: "You move or rename the experiment folder")
/// leaves the absolute path behind. Then the best guess is the folder of a store in its default
/// place (`.labtrail` next to the experiment file) when the file is there, else the path as
/// recorded (a relative one from the current folder, as before).
pub fn recorded_spec_path(store_dir: &Path, recorded: &Path) -> PathBuf {
    if recorded.is_absolute() && recorded.is_file() {
        return recorded.to_path_buf();
    }
    let beside_store = store_dir
        .file_name()
        .filter(|n| *n == crate::store::STORE_DIR)
        .and(store_dir.parent())
        .zip(recorded.file_name())
        .map(|(folder, file)| folder.join(file))
        .filter(|p| p.is_file());
    match beside_store {
        Some(p) => std::path::absolute(&p).unwrap_or(p),
        None => recorded.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::recorded_spec_path;
    use std::path::Path;

    /// Issue 11: a run made before spec paths were recorded absolute (`sub/exp.toml`, typed in
    /// the folder above) is found next to its store in the default place, from any folder.
    #[test]
    fn an_old_relative_spec_path_is_looked_for_next_to_a_default_store() {
        let top = tempfile::tempdir().unwrap();
        let sub = top.path().join("sub");
        std::fs::create_dir_all(sub.join(".labtrail")).unwrap();
        std::fs::write(sub.join("exp.toml"), "").unwrap();
        let old = Path::new("sub/exp.toml");
        assert_eq!(
            recorded_spec_path(&sub.join(".labtrail"), old),
            sub.join("exp.toml")
        );
        // A store elsewhere (`--store`), or the file gone: the path as recorded, as before.
        assert_eq!(recorded_spec_path(&top.path().join("store"), old), old);
        std::fs::remove_file(sub.join("exp.toml")).unwrap();
        assert_eq!(recorded_spec_path(&sub.join(".labtrail"), old), old);
        assert_eq!(
            recorded_spec_path(&sub.join(".labtrail"), Path::new("/x/exp.toml")),
            Path::new("/x/exp.toml")
        );
    }

    /// A folder moved with its store: the absolute path recorded before the move is gone, and
    /// the file next to the store is the run's.
    #[test]
    fn a_moved_experiment_folder_is_found_next_to_its_store() {
        let top = tempfile::tempdir().unwrap();
        let here = top.path().join("new");
        std::fs::create_dir_all(here.join(".labtrail")).unwrap();
        std::fs::write(here.join("exp.toml"), "").unwrap();
        let before_the_move = top.path().join("old/exp.toml");
        assert_eq!(
            recorded_spec_path(&here.join(".labtrail"), &before_the_move),
            here.join("exp.toml")
        );
        let there = here.join("exp.toml");
        assert_eq!(recorded_spec_path(&top.path().join("s"), &there), there);
    }
}
