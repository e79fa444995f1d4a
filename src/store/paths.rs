//! How attempt file paths are kept: relative to the store folder, so that a store moved or
//! renamed with its experiment folder still finds its logs.
//!
//! Rows written before this (labtrail 0.3 and earlier) hold absolute paths. They are used as
//! they are while they exist; once the store has moved, the same path under the current store
//! (the part from `runs/` on) is used instead.

use std::path::{Component, Path, PathBuf};

/// The text to store for the attempt file `path`: relative to `store_dir` when inside it, as
/// given otherwise.
pub(super) fn stored<'a>(store_dir: &Path, path: &'a str) -> &'a str {
    match Path::new(path).strip_prefix(store_dir) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_str().unwrap_or(path),
        _ => path,
    }
}

/// The path a stored attempt file path stands for now: see the module documentation.
pub(super) fn resolve(store_dir: &Path, stored: String) -> String {
    let path = Path::new(&stored);
    if path.is_relative() {
        return store_dir.join(path).display().to_string();
    }
    if path.exists() {
        return stored;
    }
    // A store that moved: the part from its `runs/` folder on, under the current store.
    let parts: Vec<Component> = path.components().collect();
    let moved = parts
        .iter()
        .rposition(|c| c.as_os_str() == "runs")
        .map(|i| store_dir.join(parts[i..].iter().collect::<PathBuf>()))
        .filter(|p| p.exists());
    match moved {
        Some(p) => p.display().to_string(),
        None => stored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_the_store_are_stored_relative_and_resolved_against_it() {
        let store = Path::new("/exp/.labtrail");
        let log = "/exp/.labtrail/runs/r/attempts/k-1.stdout.log";
        assert_eq!(stored(store, log), "runs/r/attempts/k-1.stdout.log");
        assert_eq!(stored(store, "/elsewhere/x.log"), "/elsewhere/x.log");
        let moved = Path::new("/moved/.labtrail");
        assert_eq!(
            resolve(moved, stored(store, log).to_string()),
            "/moved/.labtrail/runs/r/attempts/k-1.stdout.log"
        );
    }

    /// Issue 9: an absolute path of an older row is kept while it exists; once the store moved,
    /// the same file under the current store is found.
    #[test]
    fn an_old_absolute_path_follows_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
        let log = |store: &Path| store.join("runs/r/attempts/k-1.stdout.log");
        std::fs::create_dir_all(log(&old).parent().unwrap()).unwrap();
        std::fs::write(log(&old), "x").unwrap();
        let abs = log(&old).display().to_string();
        assert_eq!(resolve(&new, abs.clone()), abs, "it still exists");
        std::fs::rename(&old, &new).unwrap();
        assert_eq!(resolve(&new, abs.clone()), log(&new).display().to_string());
        let gone = "/nowhere/runs/r/attempts/k-9.stdout.log".to_string();
        assert_eq!(
            resolve(&new, gone.clone()),
            gone,
            "not under the store either"
        );
    }
}
