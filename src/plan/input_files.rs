//! Which files an `inputs` entry stands for: the files its glob pattern matches, relative to the
//! experiment file's folder, and every file under a matched folder.
//!
//! Left out, because what is in them changes without the experiment changing, and an input that
//! changes on every run reruns everything on every run: the store in use and any `.labtrail`
//! folder, `__pycache__` folders (Python writes them as it imports), `.git`.

use super::glob_walk;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Folder names never looked into.
const SKIPPED: [&str; 3] = [crate::store::STORE_DIR, "__pycache__", ".git"];

/// Why an entry's files could not be listed.
#[derive(Debug)]
pub(super) enum FindError {
    /// The pattern is not a glob pattern.
    Pattern(String),
    /// A path could not be read, or is neither a file nor a folder.
    Path(PathBuf, String),
    /// The search for the pattern's matches gave up (why): too large a tree, or links that
    /// multiply the paths under it.
    CutShort(String),
}

/// Finds files for `inputs` entries, leaving out the store at `store` (canonical) and what
/// [`SKIPPED`] names.
pub(super) struct Finder {
    store: Option<PathBuf>,
    /// Whether the last [`Finder::files`] left something out because it was in a store.
    pub left_out_store: bool,
}

impl Finder {
    /// A finder that leaves out `store` (the store in use, if any) too.
    pub fn new(store: Option<&Path>) -> Finder {
        Finder {
            store: store.and_then(|s| std::fs::canonicalize(s).ok()),
            left_out_store: false,
        }
    }

    /// The files `pattern` stands for, relative to `base`, sorted; links are followed (under
    /// `**` not into a folder the walk is already in: see [`super::glob_walk`]).
    pub fn files(&mut self, base: &Path, pattern: &str) -> Result<Vec<PathBuf>, FindError> {
        self.left_out_store = false;
        // The folder's own name may hold `[`, `*` or `?`: only the pattern is a pattern.
        let found = glob_walk::matches(base, pattern, &glob_walk::Bounds::default())
            .map_err(|e| FindError::Pattern(e.msg.to_string()))?;
        if let Some(cut) = found.cut_short {
            return Err(FindError::CutShort(cut.to_string()));
        }
        if let Some((path, e)) = found.unreadable.into_iter().next() {
            return Err(FindError::Path(path, e.to_string()));
        }
        let mut out = Vec::new();
        for m in found.paths {
            self.walk(&m, &mut out, &mut Vec::new())?;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn skipped(&mut self, path: &Path) -> bool {
        let named = path.components().any(|c| {
            let c = c.as_os_str();
            SKIPPED.iter().any(|s| c == *s)
        });
        let is_store = path
            .components()
            .any(|c| c.as_os_str() == crate::store::STORE_DIR)
            || self
                .store
                .as_ref()
                .is_some_and(|s| std::fs::canonicalize(path).is_ok_and(|p| p.starts_with(s)));
        self.left_out_store |= is_store;
        named || is_store
    }

    /// `path` if it is a file; every file under it if it is a folder. Links to folders are
    /// followed, except to a folder the walk is already in (`ancestors`): a link loop ends, and
    /// the files found do not depend on the order folders are listed in.
    fn walk(
        &mut self,
        path: &Path,
        out: &mut Vec<PathBuf>,
        ancestors: &mut Vec<(u64, u64)>,
    ) -> Result<(), FindError> {
        if self.skipped(path) {
            return Ok(());
        }
        let fail = |e: std::io::Error| FindError::Path(path.to_path_buf(), e.to_string());
        let meta = std::fs::metadata(path).map_err(fail)?;
        if meta.is_file() {
            out.push(path.to_path_buf());
            return Ok(());
        }
        if !meta.is_dir() {
            // A FIFO would block the read for ever; a device has no end.
            return Err(FindError::Path(
                path.to_path_buf(),
                "it is not a regular file or a folder (a FIFO, socket or device)".into(),
            ));
        }
        let id = (meta.dev(), meta.ino());
        if ancestors.contains(&id) {
            return Ok(());
        }
        ancestors.push(id);
        for entry in std::fs::read_dir(path).map_err(fail)? {
            let entry = entry.map_err(fail)?;
            self.walk(&entry.path(), out, ancestors)?;
        }
        ancestors.pop();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(found: &[PathBuf], base: &Path) -> Vec<String> {
        found
            .iter()
            .map(|p| p.strip_prefix(base).unwrap().display().to_string())
            .collect()
    }

    /// Issue 9 (found in review): a folder named with glob characters is a folder, not a
    /// pattern (before, `exp[v2]/train.py` matched `expv/train.py`, a sibling's file).
    #[test]
    fn the_folder_is_not_a_pattern() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("exp[v2]");
        std::fs::create_dir(&base).unwrap();
        std::fs::write(base.join("train.py"), "1").unwrap();
        std::fs::create_dir(tmp.path().join("expv")).unwrap();
        std::fs::write(tmp.path().join("expv/train.py"), "2").unwrap();
        let found = Finder::new(None).files(&base, "train.py").unwrap();
        assert_eq!(found, [base.join("train.py")]);
    }

    /// Issue 9 (found in review): links to folders are followed (once, so a loop ends); a FIFO
    /// is refused, not opened; caches and stores are left out, the store in use whatever its
    /// name.
    #[test]
    fn folders_links_fifos_and_what_is_left_out() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        for d in ["data/real", "data/__pycache__", "data/.git", "mystore"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        for f in [
            "data/real/a",
            "data/__pycache__/m.pyc",
            "data/.git/HEAD",
            "mystore/labtrail.db",
        ] {
            std::fs::write(base.join(f), "x").unwrap();
        }
        std::os::unix::fs::symlink(base.join("data/real"), base.join("data/link")).unwrap();
        std::os::unix::fs::symlink(base.join("data"), base.join("data/real/loop")).unwrap();
        let mut finder = Finder::new(Some(&base.join("mystore")));
        let found = finder.files(base, "data").unwrap();
        assert_eq!(names(&found, base), ["data/link/a", "data/real/a"]);
        let all = finder.files(base, ".").unwrap();
        assert!(!names(&all, base).iter().any(|n| n.contains("mystore")));
        assert!(finder.left_out_store);

        nix::unistd::mkfifo(&base.join("data/pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        match finder.files(base, "data") {
            Err(FindError::Path(p, why)) => {
                assert_eq!(p, base.join("data/pipe"));
                assert!(why.contains("FIFO"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }
}
