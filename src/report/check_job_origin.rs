//! Whose a job named for a run is, when no attempt record knows it: this store's, or another
//! store's run of the same id (two copies of an experiment folder, the same `--id` twice), told
//! by where the job writes (see [`super::check_scheduler`]).

use crate::store::RunRecord;
use std::path::Path;

/// Whose a job no attempt record knows is, from where it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Its output or working directory lies in this store's folder of the run.
    ThisStore,
    /// They lie in an existing folder `runs/RUN/` elsewhere: a run of the same id in another
    /// store (two copies of an experiment folder, or the same `--id` twice).
    OtherStore,
    /// Neither (submitted by hand with other paths, or the scheduler does not say).
    Unknown,
}

/// Where a job named for `run` that writes its output to `stdout` in `workdir` comes from. `run_dir` is the run's folder with its file
/// identity, so that a path reaching it through another mount or a symbolic link is still its.
pub(super) fn origin(
    run: &RunRecord,
    run_dir: &RunDirId,
    stdout: Option<&str>,
    workdir: Option<&str>,
) -> Origin {
    // squeue of SLURM 22 shows `--output`'s `%a` unexpanded: its folder is what counts.
    let stdout_dir = stdout.map(|p| Path::new(p).parent().unwrap_or(Path::new(p)));
    let dirs: Vec<&Path> = stdout_dir
        .into_iter()
        .chain(workdir.map(Path::new))
        .collect();
    if dirs.iter().any(|d| run_dir.contains(d)) {
        return Origin::ThisStore;
    }
    // Only a folder that exists is another store's: one that is gone is this store's old place
    // (moved since it submitted the job), as the monitor rules too (issue 11).
    let of_run = |d: &&Path| {
        d.ancestors().any(|a| {
            a.file_name() == Some(std::ffi::OsStr::new(&run.id))
                && a.parent().and_then(Path::file_name) == Some(std::ffi::OsStr::new("runs"))
                && a.is_dir()
        })
    };
    if dirs.iter().any(of_run) {
        Origin::OtherStore
    } else {
        Origin::Unknown
    }
}

/// A run's folder, by path and by file identity.
pub(super) struct RunDirId {
    path: std::path::PathBuf,
    id: Option<(u64, u64)>,
}

impl RunDirId {
    pub(super) fn of(run: &RunRecord) -> RunDirId {
        use std::os::unix::fs::MetadataExt;
        let path = run.folders.run_dir().to_path_buf();
        let id = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        RunDirId { path, id }
    }

    /// Whether `dir` is this folder or lies inside it.
    fn contains(&self, dir: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        if dir.starts_with(&self.path) {
            return true;
        }
        let Some(id) = self.id else { return false };
        dir.ancestors()
            .any(|a| std::fs::metadata(a).is_ok_and(|m| (m.dev(), m.ino()) == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::Fixture;

    /// Issue 10 (review): a job writing into this store's run folder is this store's; one
    /// writing into a `runs/RUN/` folder elsewhere is another store's; any other is unknown.
    #[test]
    fn where_a_job_writes_tells_whose_it_is() {
        let fx =
            Fixture::new("[experiment]\nname = \"e\"\ncommand = \"true\"\n[params]\nx = [1]\n");
        let runs = fx.store.run_records().unwrap();
        let run = &runs[0];
        let dir = RunDirId::of(run);
        let ours = run.folders.run_dir().join("attempts/k-1.slurm.log");
        assert_eq!(origin(run, &dir, ours.to_str(), None), Origin::ThisStore);
        let elsewhere = tempfile::tempdir().unwrap();
        let theirs = elsewhere.path().join(format!(".labtrail/runs/{}", run.id));
        std::fs::create_dir_all(theirs.join("attempts")).unwrap();
        let other = theirs.join("attempts/k-1.slurm.log");
        let other = other.to_str().unwrap();
        let top = elsewhere.path().to_str().unwrap();
        assert_eq!(
            origin(run, &dir, Some(other), Some(top)),
            Origin::OtherStore
        );
        let array = theirs.join("arrays");
        assert_eq!(origin(run, &dir, None, array.to_str()), Origin::OtherStore);
        // Issue 11: a folder that no longer exists is this store's old place, not a copy's.
        let gone = format!("/gone/.labtrail/runs/{}/attempts/k-1.slurm.log", run.id);
        assert_eq!(origin(run, &dir, Some(&gone), None), Origin::Unknown);
        assert_eq!(
            origin(run, &dir, Some("/dev/null"), Some("/home/u")),
            Origin::Unknown
        );
    }
}
