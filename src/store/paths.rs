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

/// The log names a local attempt is given (`runs/RUN/attempts/KEY-N.stdout.log`, see
/// [`crate::protocol::AttemptFiles`]), relative to the store folder, stdout's then stderr's.
fn default_logs(run: &str, key: &str, attempt: u32) -> [String; 2] {
    let prefix = Path::new("runs").join(run).join("attempts").join(key);
    let files = crate::protocol::AttemptFiles::new(&prefix, attempt);
    [files.stdout, files.stderr].map(|p| p.display().to_string())
}

/// The texts to store for an attempt's two logs (see [`stored`]): empty for the name the
/// attempt gets by default (issue 15: 70 bytes per task), which [`attempt_log`] gives back.
pub(super) fn stored_logs<'a>(
    store_dir: &Path,
    run: &str,
    key: &str,
    attempt: u32,
    logs: [&'a str; 2],
) -> [&'a str; 2] {
    let defaults = default_logs(run, key, attempt);
    let mut out = logs.map(|p| stored(store_dir, p));
    for (text, default) in out.iter_mut().zip(&defaults) {
        if text == default {
            *text = "";
        }
    }
    out
}

/// The path of an attempt's log (`which`: 0 for stdout, 1 for stderr) whose stored text is
/// `stored`: the default name when it is empty (see [`stored_logs`]), else as [`resolve`] says.
/// Every reader of `attempts.stdout_path` and `stderr_path` decodes them here.
pub(super) fn attempt_log(
    store_dir: &Path,
    run: &str,
    key: &str,
    attempt: u32,
    which: usize,
    stored: String,
) -> String {
    if stored.is_empty() {
        let [stdout, stderr] = default_logs(run, key, attempt);
        let default = if which == 0 { stdout } else { stderr };
        return store_dir.join(default).display().to_string();
    }
    resolve(store_dir, stored)
}

/// The path a stored attempt file path stands for now: see the module documentation.
pub(super) fn resolve(store_dir: &Path, stored: String) -> String {
    if let Some(joined) = joined_text(store_dir, &stored) {
        return joined;
    }
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

/// [`resolve`] of a relative `stored` under a store folder whose name is UTF-8, the common
/// case, as one `String` built in place: `store_dir.join(stored).display().to_string()` made
/// two allocations and a formatting pass per path, 2 × 10^5 of them in a monitor's read of its
/// tracked jobs (issue 15). None when it is not that case.
pub(super) fn joined_text(store_dir: &Path, stored: &str) -> Option<String> {
    let base = store_dir.to_str()?;
    if !Path::new(stored).is_relative() {
        return None;
    }
    let mut s = String::with_capacity(base.len() + 1 + stored.len());
    s.push_str(base);
    // As `Path::join`: a separator unless the base is empty or already ends with one.
    if !base.is_empty() && !base.ends_with('/') {
        s.push('/');
    }
    s.push_str(stored);
    Some(s)
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

    /// The in-place join gives `Path::join(..).display()`'s text for every relative path,
    /// and leaves absolute ones to [`resolve`]'s search.
    #[test]
    fn joined_text_is_path_join() {
        for base in [
            "/exp/.labtrail",
            "/exp/.labtrail/",
            "",
            "rel/.labtrail",
            "/",
        ] {
            for rel in ["runs/r/k/stdout.log", "", "./a", "a//b/", "é/ü.log"] {
                let want = Path::new(base).join(rel).display().to_string();
                assert_eq!(joined_text(Path::new(base), rel), Some(want.clone()));
                assert_eq!(resolve(Path::new(base), rel.to_string()), want);
            }
            assert_eq!(joined_text(Path::new(base), "/abs/x.log"), None);
        }
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
