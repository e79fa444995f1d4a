//! Where a job works, as its paths (output file, working directory) tell: the one rule for
//! "this store's job" (issue 11). Finding a submission's job again is strict (only a job that
//! works here, or does not say where, can be an intent's); adopting or cancelling a job by the
//! task's name only spares another store's job (a copy of the experiment folder with a run of
//! the same id), since a user may well submit a job with the task's name from anywhere. A job
//! whose `runs/RUN/` folder no longer exists is this store's: the store was moved since.

use super::Monitor;
use std::path::Path;

/// Where a job works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// In this store's folder of the run (through any mount or link).
    Here,
    /// In an existing folder `runs/RUN/` of this run's id that is not this store's (a copy).
    AnotherStore,
    /// In a folder `runs/RUN/` of this run's id that no longer exists: this store's old place,
    /// moved since it submitted the job (issue 11).
    MovedFrom,
    /// Somewhere else (a job submitted by hand from another folder).
    Elsewhere,
    /// Its paths are not known.
    Unknown,
}

impl Place {
    /// Whether it works here: `None` when the scheduler does not say.
    pub(super) fn is_here(self) -> Option<bool> {
        match self {
            Place::Here | Place::MovedFrom => Some(true),
            Place::Unknown => None,
            Place::AnotherStore | Place::Elsewhere => Some(false),
        }
    }
}

impl Monitor<'_> {
    /// Where a job whose paths are `paths` works.
    pub(super) fn place_of(&self, paths: &[Option<&str>]) -> Place {
        use std::os::unix::fs::MetadataExt;
        let run_dir = self.folders.run_dir();
        let id = std::fs::metadata(run_dir).ok().map(|m| (m.dev(), m.ino()));
        let given: Vec<&Path> = paths.iter().flatten().map(|d| Path::new(*d)).collect();
        if given.is_empty() {
            return Place::Unknown;
        }
        // A path reaching the run's folder through another mount or a link is still its.
        let here = given.iter().any(|d| {
            d.starts_with(run_dir)
                || id.is_some_and(|id| {
                    d.ancestors()
                        .any(|a| std::fs::metadata(a).is_ok_and(|m| (m.dev(), m.ino()) == id))
                })
        });
        // The folder `runs/RUN` a path lies in, if any.
        let run_folder = |p: &Path| -> Option<std::path::PathBuf> {
            p.ancestors()
                .find(|a| {
                    a.file_name() == Some(std::ffi::OsStr::new(&self.run))
                        && a.parent().and_then(Path::file_name)
                            == Some(std::ffi::OsStr::new("runs"))
                })
                .map(Path::to_path_buf)
        };
        let folders: Vec<std::path::PathBuf> = given.iter().filter_map(|p| run_folder(p)).collect();
        if here {
            Place::Here
        } else if folders.iter().any(|f| f.is_dir()) {
            Place::AnotherStore
        } else if !folders.is_empty() {
            Place::MovedFrom
        } else {
            Place::Elsewhere
        }
    }

    /// Whether a job with these paths is another store's (see [`Place::AnotherStore`]).
    pub(super) fn of_another_store(&self, paths: &[Option<&str>]) -> bool {
        self.place_of(paths) == Place::AnotherStore
    }
}
