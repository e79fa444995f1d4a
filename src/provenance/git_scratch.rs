//! The code capture's temporary folder (an index, new objects, the patch: up to the size of
//! the work tree) and what a run's capture must stop and remove when the run ends first.
//!
//! A run's folder lives under the store's own folder (`tmp/git-<pid>-<n>`), never in the
//! system's temporary folder: a labtrail killed during capture (SIGKILL, a node going down)
//! leaves it where the next capture of the same store finds it, and removes it once the
//! process that made it is gone.

use crate::exec::command::ProcessGroups;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a run's git commands leave while they run: their process groups and temporary
/// folders. [`Leftovers::clear`] kills and removes them (the run ended before the capture).
#[derive(Debug)]
pub struct Leftovers {
    /// The store's folder, whose `tmp/` holds the temporary folders.
    store: PathBuf,
    pub(super) groups: ProcessGroups,
    folders: Mutex<Vec<PathBuf>>,
}

impl Leftovers {
    /// Nothing left yet, for a run whose store is in `store`.
    pub fn new(store: &Path) -> Leftovers {
        Leftovers {
            store: store.to_path_buf(),
            groups: ProcessGroups::new(),
            folders: Mutex::new(Vec::new()),
        }
    }

    /// Kills every git command still running (and any started later) and removes the
    /// temporary folders.
    pub fn clear(&self) {
        self.groups.kill_all();
        let folders = std::mem::take(&mut *self.folders.lock().unwrap_or_else(|p| p.into_inner()));
        for folder in folders {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

/// A private temporary folder (mode 0700: it holds the patch), removed with everything in it
/// when dropped.
pub(super) struct Scratch(pub PathBuf);

impl Scratch {
    /// A new folder: under the store's `tmp/` for a run (stale ones of dead processes removed
    /// first), else in the system's temporary folder.
    pub fn new(leftovers: Option<&Leftovers>) -> Result<Scratch, String> {
        use std::os::unix::fs::DirBuilderExt;
        let pid = std::process::id();
        let (base, prefix) = match leftovers {
            Some(l) => {
                let base = l.store.join("tmp");
                std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
                remove_stale(&base);
                (base, "git")
            }
            None => (std::env::temp_dir(), "labtrail-git"),
        };
        for n in 0..1000u32 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let dir = base.join(format!("{prefix}-{pid}-{nanos}-{n}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    if let Some(l) = leftovers {
                        let mut folders = l.folders.lock().unwrap_or_else(|p| p.into_inner());
                        folders.push(dir.clone());
                    }
                    return Ok(Scratch(dir));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("temporary folder in {}: {e}", base.display())),
            }
        }
        Err(format!(
            "no temporary folder could be made in {}",
            base.display()
        ))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the `git-<pid>-…` folders in `base` whose process is gone (a labtrail killed during
/// capture). A folder of a live process is another capture's, still working.
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("git-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<i32>().ok());
        let Some(pid) = pid else { continue };
        let gone = matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        );
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
