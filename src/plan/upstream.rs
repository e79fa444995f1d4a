//! What a task is told about its upstream tasks: one `LABTRAIL_UPSTREAM_<STAGE>` per stage it
//! runs after, so that it reads what they wrote without rebuilding their paths by hand.
//!
//! The shape follows the experiment, never the data: when a task's stage varies over every
//! parameter of the upstream stage, exactly one upstream task matches, and the variable is that
//! task's folder (`$LABTRAIL_UPSTREAM_PREPARE/data.npz`). Otherwise (a fan-in: `eval` over every
//! `train/lr=…`) the variable is a folder of links, one per upstream task, each named by the
//! parameters that tell them apart (`$LABTRAIL_UPSTREAM_TRAIN/lr=0.1/model.pt`), in the run's
//! folder at `runs/RUN/upstream/KEY/STAGE/`. A task's key covers its upstream keys, so the links
//! of a key never change: they are made once and found again by later attempts.

use super::Plan;
use crate::protocol::UPSTREAM_PREFIX;
use crate::spec::Spec;
use crate::store::RunFolders;
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

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
    /// Makes what the variable points to (the links folder; nothing for a task folder, which
    /// its own task made) and returns the variable.
    pub fn materialize(&self) -> io::Result<(String, String)> {
        match self {
            UpstreamDir::Task { var, dir } => Ok((var.clone(), dir.display().to_string())),
            UpstreamDir::Links { var, dir, links } => {
                std::fs::create_dir_all(dir)?;
                for (name, target) in links {
                    match std::os::unix::fs::symlink(target, dir.join(name)) {
                        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                        _ => {}
                    }
                }
                Ok((var.clone(), dir.display().to_string()))
            }
        }
    }
}

impl Plan {
    /// The upstream variables of task `i`, one per stage its stage runs after, in `after` order.
    pub fn upstream(&self, spec: &Spec, i: usize, folders: &RunFolders) -> Vec<UpstreamDir> {
        let task = &self.tasks[i];
        if task.deps.is_empty() {
            return Vec::new();
        }
        let index = self.key_index.get_or_init(|| {
            self.tasks
                .iter()
                .enumerate()
                .map(|(i, t)| (t.key.clone(), i))
                .collect::<HashMap<_, _>>()
        });
        let stage = &spec.stages[task.stage];
        stage
            .after
            .iter()
            .filter_map(|name| {
                let si = spec.stages.iter().position(|s| &s.name == name)?;
                let up = &spec.stages[si];
                let var = format!("{UPSTREAM_PREFIX}{}", name.to_uppercase());
                let tasks: Vec<usize> = task
                    .deps
                    .iter()
                    .filter_map(|d| index.get(d).copied())
                    .filter(|&u| self.tasks[u].stage == si)
                    .collect();
                if up.params.iter().all(|p| stage.params.contains(p)) {
                    let &[u] = tasks.as_slice() else {
                        return None;
                    };
                    let dir = folders.task_dir(&self.tasks[u].key);
                    return Some(UpstreamDir::Task { var, dir });
                }
                let links = tasks
                    .iter()
                    .map(|&u| {
                        let t = &self.tasks[u];
                        let name: Vec<String> = up
                            .params
                            .iter()
                            .zip(&t.values)
                            .filter(|(p, _)| !stage.params.contains(p))
                            .map(|(p, v)| format!("{p}={}", link_safe(&v.to_string())))
                            .collect();
                        (name.join(","), folders.task_dir(&t.key))
                    })
                    .collect();
                let dir = folders.upstream_links(&task.key, name);
                Some(UpstreamDir::Links { var, dir, links })
            })
            .collect()
    }
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
    use super::link_safe;

    /// Values become names, never paths.
    #[test]
    fn values_are_names() {
        assert_eq!(link_safe("0.1"), "0.1");
        assert_eq!(link_safe("a/b%c"), "a%2Fb%25c");
        assert_eq!(link_safe(".."), "%2E%2E");
    }
}
