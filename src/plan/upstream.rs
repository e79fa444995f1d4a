//! What a task is told about its upstream tasks: one `LABTRAIL_UPSTREAM_<STAGE>` per stage it
//! runs after, so that it reads what they wrote without rebuilding their paths by hand.
//!
//! The shape follows the experiment, never the data: when a task's stage varies over every
//! parameter of the upstream stage, exactly one upstream task matches, and the variable is that
//! task's folder (`$LABTRAIL_UPSTREAM_PREPARE/data.npz`). Otherwise (a fan-in: `eval` over every
//! `train/lr=…`) the variable is a folder of links, one per upstream task, each named by the
//! parameters that tell them apart (`$LABTRAIL_UPSTREAM_TRAIN/lr=0.1/model.pt`), in the run's
//! folder at `runs/RUN/upstream/KEY/STAGE/`. The links are made anew for every attempt (a link's
//! name follows the order of `[params]`, which the key does not) and point to their targets by
//! relative paths, so that a store moved or copied with its experiment folder links its own
//! folders, never the old ones.

use super::Plan;
use crate::protocol::UPSTREAM_PREFIX;
use crate::spec::Spec;
use crate::store::RunFolders;
use std::io;
use std::path::{Path, PathBuf};

/// Where one `LABTRAIL_UPSTREAM_<STAGE>` points, before anything is made on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamDir {
    /// The one upstream task's folder.
    Task { var: String, dir: PathBuf },
    /// A folder of links to be made: `(name, target folder)` each.
    Links {
        var: String,
        dir: PathBuf,
        links: Vec<(String, PathBuf)>,
    },
}

impl UpstreamDir {
    /// Makes what the variable points to (the links folder, anew) and returns the variable. An
    /// upstream task's folder is made again if it is missing: a task that kept nothing there
    /// leaves none (issue 15), and the task after it still finds a folder, empty. An error
    /// names the path.
    pub fn materialize(&self) -> io::Result<(String, String)> {
        match self {
            UpstreamDir::Task { var, dir } => {
                made_again(dir)?;
                Ok((var.clone(), dir.display().to_string()))
            }
            UpstreamDir::Links { var, dir, links } => {
                let named = |e: io::Error, path: &Path| {
                    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                };
                match std::fs::remove_dir_all(dir) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(named(e, dir)),
                    _ => {}
                }
                std::fs::create_dir_all(dir).map_err(|e| named(e, dir))?;
                for (name, target) in links {
                    let link = dir.join(name);
                    made_again(&dir.join(target))?;
                    std::os::unix::fs::symlink(target, &link).map_err(|e| named(e, &link))?;
                }
                Ok((var.clone(), dir.display().to_string()))
            }
        }
    }
}

/// Makes the folder `dir` unless it exists (one lookup when it does), and its parents: a SLURM
/// run submits a downstream task before any upstream task ran, so the run's `tasks` folder may
/// not exist yet. An error names the path.
fn made_again(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display())))
        }
        _ => Ok(()),
    }
}

impl Plan {
    /// The upstream variables of task `i`, one per stage its stage runs after, in `after` order.
    pub fn upstream(&self, spec: &Spec, i: usize, folders: &RunFolders) -> Vec<UpstreamDir> {
        let task = &self.tasks[i];
        if self.deps(i).is_empty() {
            return Vec::new();
        }
        let stage = &spec.stages[task.stage];
        stage
            .after
            .iter()
            .filter_map(|name| {
                let si = spec.stages.iter().position(|s| &s.name == name)?;
                let up = &spec.stages[si];
                let var = format!("{UPSTREAM_PREFIX}{}", name.to_uppercase());
                let tasks: Vec<usize> = self
                    .deps(i)
                    .iter()
                    .map(|&d| d as usize)
                    .filter(|&u| self.tasks[u].stage == si)
                    .collect();
                if up.params.iter().all(|p| stage.params.contains(p)) {
                    let &[u] = tasks.as_slice() else {
                        return None;
                    };
                    let dir = folders.task_dir(&self.tasks[u].key);
                    return Some(UpstreamDir::Task { var, dir });
                }
                let dir = folders.upstream_links(&task.key, name);
                let links = tasks
                    .iter()
                    .map(|&u| {
                        let t = &self.tasks[u];
                        let name: Vec<String> = up
                            .params
                            .iter()
                            .zip(self.values(u))
                            .filter(|(p, _)| !stage.params.contains(p))
                            .map(|(p, v)| format!("{p}={}", link_safe(&v.to_string())))
                            .collect();
                        let target = relative_to(&dir, &folders.task_dir(&t.key), folders);
                        (short_name(name.join(","), &t.key), target)
                    })
                    .collect();
                Some(UpstreamDir::Links { var, dir, links })
            })
            .collect()
    }
}

/// `target`, a folder of the run, as a path relative to `dir`, another folder of the run: links
/// that stay right when the store is moved or copied.
fn relative_to(dir: &Path, target: &Path, folders: &RunFolders) -> PathBuf {
    let root = folders.run_dir();
    match (dir.strip_prefix(root), target.strip_prefix(root)) {
        (Ok(from), Ok(to)) => {
            let mut rel: PathBuf = from.components().map(|_| "..").collect();
            rel.push(to);
            rel
        }
        _ => target.to_path_buf(),
    }
}

/// The longest link name made whole: file names are at most 255 bytes on the file systems
/// labtrail meets, and parameter values may be up to 1 KiB.
const NAME_MAX: usize = 200;

/// `name`, or when it is too long for a file name, its start and a part of the task's key
/// (`lr=0.1,text=aaaa…~1f2e3d4c`): still unique, still readable.
fn short_name(name: String, key: &str) -> String {
    if name.len() <= NAME_MAX {
        return name;
    }
    let mut end = NAME_MAX - 20;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…~{}", &name[..end], &key[..8.min(key.len())])
}

/// A parameter value as part of a file name: `/` and `%` percent-encoded, and a name that would
/// be `.` or `..` (or empty) encoded too, so that every value is a name and no name is a path.
fn link_safe(value: &str) -> String {
    let encoded = value.replace('%', "%25").replace('/', "%2F");
    match encoded.as_str() {
        "" => "%00".into(),
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => encoded,
    }
}

#[cfg(test)]
mod tests {
    use super::{link_safe, short_name};

    /// Values become names, never paths.
    #[test]
    fn values_are_names() {
        assert_eq!(link_safe("0.1"), "0.1");
        assert_eq!(link_safe("a/b%c"), "a%2Fb%25c");
        assert_eq!(link_safe(".."), "%2E%2E");
    }

    /// Issue 9: a name too long for a file name (values may be 1 KiB) is cut, and keeps a part
    /// of the key so that it stays unique.
    #[test]
    fn long_names_are_cut_and_stay_unique() {
        let long = format!("text={}", "é".repeat(300));
        let a = short_name(long.clone(), "0123456789abcdef");
        let b = short_name(long, "fedcba9876543210");
        assert!(a.len() <= 255 && b.len() <= 255);
        assert_ne!(a, b);
        assert!(a.ends_with("…~01234567"), "{a}");
        assert_eq!(short_name("lr=0.1".into(), "0123456789abcdef"), "lr=0.1");
    }
}
