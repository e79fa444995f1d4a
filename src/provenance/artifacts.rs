//! The files a stage's `artifacts` patterns name in a done task's folder (checkpoints, exports):
//! referenced, never copied. Each with its size, modification time and the step in its name;
//! the newest is tagged `last`, the one at the best metric's step (or the one the task names in
//! its result, `"archive": {"best_checkpoint": "ckpt_3.pt"}`) `best`.

use super::model::Artifact;
use crate::plan::glob_walk::{self, Bounds};
use crate::report::archive::model::MetricSummary;
use crate::report::metrics::direction::{direction, is_eval};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The most files recorded per attempt; more matches are left out (and said so).
pub const MAX_ARTIFACTS: usize = 1_000;
/// The most entries summed into a matched folder's size (a Hugging Face `checkpoint-500/`).
const MAX_FOLDER_ENTRIES: usize = 10_000;
/// How long the search for an attempt's artifacts may take, all patterns together.
pub const SEARCH_TIME: Duration = Duration::from_secs(30);

/// What the patterns matched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// At most [`MAX_ARTIFACTS`], ordered by step (files without one last), then path.
    pub artifacts: Vec<Artifact>,
    /// Whether more files matched than were recorded, or the search for them was cut short.
    pub over_cap: bool,
}

/// Finds the files `patterns` match in `task_dir` (relative patterns; absolute ones as they
/// are) and tags them. `best_step`: the step of the task's best metric value; `best_name`: the
/// file the task named as its best (wins over the step).
pub fn collect(
    task_dir: &Path,
    patterns: &[String],
    best_step: Option<f64>,
    best_name: Option<&str>,
) -> Found {
    let mut paths = BTreeSet::new();
    let mut over_cap = false;
    // The attempt has ended: its artifacts are looked for in bounded time (a folder of links
    // back into itself used to keep the worker busy for ever).
    let bounds = Bounds {
        deadline: Some(Instant::now() + SEARCH_TIME),
        ..Bounds::default()
    };
    'patterns: for p in patterns {
        // The folder's own path is matched literally, whatever characters it holds.
        let Ok(found) = glob_walk::matches(task_dir, p, &bounds) else {
            continue; // validated with the experiment file
        };
        over_cap |= found.cut_short.is_some();
        for m in found.paths {
            if paths.len() == MAX_ARTIFACTS && !paths.contains(&m) {
                over_cap = true;
                break 'patterns;
            }
            paths.insert(m);
        }
    }
    let mut found: Vec<(Artifact, SystemTime)> = paths
        .into_iter()
        .filter_map(|path| artifact(task_dir, path))
        .collect();
    let order = |a: &Artifact| (a.step.is_none(), a.step, a.path.clone());
    found.sort_by_key(|(a, _)| order(a));
    // The newest; of files written in the same instant, the one of the larger step.
    let last = found
        .iter()
        .enumerate()
        .max_by_key(|(_, (a, t))| (*t, a.step))
        .map(|(i, _)| i);
    let mut artifacts: Vec<Artifact> = found.into_iter().map(|(a, _)| a).collect();
    if let Some(i) = last {
        artifacts[i].tags.push("last".into());
    }
    tag_best(&mut artifacts, best_step, best_name);
    Found {
        artifacts,
        over_cap,
    }
}

fn artifact(task_dir: &Path, path: PathBuf) -> Option<(Artifact, SystemTime)> {
    let meta = std::fs::metadata(&path).ok()?;
    let bytes = if meta.is_dir() {
        folder_bytes(&path)
    } else {
        meta.len()
    };
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let mtime = jiff::Timestamp::try_from(modified)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let name = if meta.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    };
    let step = name.and_then(|n| last_number(&n.to_string_lossy()));
    let shown = path.strip_prefix(task_dir).unwrap_or(&path);
    let a = Artifact {
        path: shown.to_string_lossy().into_owned(),
        bytes,
        mtime,
        step,
        tags: Vec::new(),
    };
    Some((a, modified))
}

/// The bytes of the regular files under `dir`, up to [`MAX_FOLDER_ENTRIES`] entries.
fn folder_bytes(dir: &Path) -> u64 {
    let (mut total, mut seen, mut stack) = (0, 0, vec![dir.to_path_buf()]);
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            seen += 1;
            if seen > MAX_FOLDER_ENTRIES {
                return total;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

/// The last run of digits in a name: `ckpt_1200` → 1200, `epoch=3-step=500` → 500.
pub fn last_number(name: &str) -> Option<u64> {
    let end = name.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = name[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    name[start..end].parse().ok()
}

fn tag_best(artifacts: &mut [Artifact], best_step: Option<f64>, best_name: Option<&str>) {
    let named = |a: &Artifact, name: &str| {
        let name = name.trim_start_matches("./");
        a.path == name || Path::new(&a.path).file_name() == Some(std::ffi::OsStr::new(name))
    };
    let by_name = best_name.filter(|n| artifacts.iter().any(|a| named(a, n)));
    for a in artifacts.iter_mut() {
        let best = match (by_name, best_step) {
            (Some(n), _) => named(a, n),
            (None, Some(s)) => a.step.is_some_and(|step| step as f64 == s),
            (None, None) => false,
        };
        if best {
            a.tags.push("best".into());
        }
    }
}

/// The step of the best value of the metric that stands for the task: the first key named in
/// `[archive] minimize` / `maximize`, else the first evaluation key (`val_loss`) with a known
/// direction, else the first key with one.
pub fn best_step(
    summaries: &[MetricSummary],
    minimize: &[String],
    maximize: &[String],
) -> Option<f64> {
    let known =
        |s: &&MetricSummary| direction(&s.key, minimize, maximize).is_some() && s.best.is_some();
    let chosen = minimize
        .iter()
        .chain(maximize)
        .find_map(|k| summaries.iter().filter(known).find(|s| &s.key == k))
        .or_else(|| summaries.iter().filter(known).find(|s| is_eval(&s.key)))
        .or_else(|| summaries.iter().find(known))?;
    chosen.best_step
}

/// The file a result names as the best checkpoint: `"archive": {"best_checkpoint": "..."}`.
pub fn best_checkpoint(result: Option<&str>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(result?).ok()?;
    v.get("archive")?
        .get("best_checkpoint")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str, bytes: usize, age_s: u64) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, vec![0u8; bytes]).unwrap();
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(age_s);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    /// Issue 12: sizes, steps from names, `last` by time, `best` by step or by the result's name.
    #[test]
    fn checkpoints_are_tagged_last_and_best() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        touch(d, "ckpt/ckpt_1.pt", 10, 30);
        touch(d, "ckpt/ckpt_2.pt", 20, 20);
        touch(d, "ckpt/ckpt_10.pt", 30, 10);
        touch(d, "ckpt/notes.txt", 1, 0);
        touch(d, "hf/checkpoint-500/model.bin", 7, 5);
        touch(d, "hf/checkpoint-500/sub/opt.bin", 8, 5);
        let pats = vec![
            "ckpt/*.pt".to_string(),
            "hf/checkpoint-*".into(),
            "ckpt/ckpt_1.pt".into(),
        ];
        let f = collect(d, &pats, Some(2.0), None);
        let paths: Vec<&str> = f.artifacts.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "ckpt/ckpt_1.pt",
                "ckpt/ckpt_2.pt",
                "ckpt/ckpt_10.pt",
                "hf/checkpoint-500"
            ]
        );
        assert_eq!(f.artifacts[1].bytes, 20);
        assert_eq!(f.artifacts[3].bytes, 15, "a folder's size is its files'");
        assert_eq!(f.artifacts[2].step, Some(10));
        assert_eq!(f.artifacts[1].tags, ["best"]);
        assert_eq!(f.artifacts[3].tags, ["last"]);
        assert!(
            f.artifacts[0].mtime.ends_with('Z'),
            "{}",
            f.artifacts[0].mtime
        );
        assert!(!f.over_cap);
        let named = collect(d, &pats, Some(2.0), Some("ckpt_10.pt"));
        assert_eq!(named.artifacts[2].tags, ["best"]);
        assert!(named.artifacts[1].tags.is_empty());
        let abs = collect(
            Path::new("/elsewhere"),
            &[format!("{}/ckpt/*_1.pt", d.display())],
            None,
            None,
        );
        assert_eq!(
            abs.artifacts[0].path,
            format!("{}/ckpt/ckpt_1.pt", d.display())
        );
    }

    /// Issue 12: at most 1,000 files are recorded, and the overflow is said.
    #[test]
    fn the_list_is_capped() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..MAX_ARTIFACTS + 5 {
            std::fs::write(tmp.path().join(format!("f{i}.bin")), b"").unwrap();
        }
        let f = collect(tmp.path(), &["*.bin".into()], None, None);
        assert_eq!(f.artifacts.len(), MAX_ARTIFACTS);
        assert!(f.over_cap);
    }

    /// Issue 12: steps from names, the metric that stands for the task, the result's choice.
    #[test]
    fn steps_best_metric_and_result_choice() {
        for (name, step) in [
            ("ckpt_1200", Some(1200)),
            ("epoch=3-step=500", Some(500)),
            ("last", None),
            ("7", Some(7)),
        ] {
            assert_eq!(last_number(name), step, "{name}");
        }
        let lines = [
            r#"{"step":1,"loss":3,"val_loss":2,"acc":0.1}"#,
            r#"{"step":2,"loss":1,"val_loss":2.5,"acc":0.9}"#,
        ];
        let s = crate::report::metrics::summarize(lines.into_iter(), &[], &[]);
        assert_eq!(best_step(&s, &[], &[]), Some(1.0), "val_loss first");
        assert_eq!(best_step(&s, &[], &["acc".into()]), Some(2.0));
        assert_eq!(
            best_checkpoint(Some(r#"{"archive":{"best_checkpoint":"ckpt_3.pt"}}"#)).as_deref(),
            Some("ckpt_3.pt")
        );
        assert_eq!(best_checkpoint(Some(r#"{"acc":1}"#)), None);
    }
}
