//! A run's folder, held open while its tasks run.
//!
//! Task folders and attempt files are made relative to it (`mkdirat`, `openat`): each then costs
//! a lookup in its own folder, not a walk down the whole store path, which on a short task is a
//! measurable part of what labtrail adds to the spawn (see `bench/compare.sh`). A path outside
//! the folder still works: an absolute path given to an `*at` call ignores the folder.

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// An open run folder (`runs/RUN/`).
pub struct RunDir {
    root: PathBuf,
    fd: OwnedFd,
}

impl RunDir {
    /// Opens `root`, which must exist.
    pub fn open(root: &Path) -> io::Result<RunDir> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(root, flags, Mode::empty())?;
        Ok(RunDir {
            root: root.to_path_buf(),
            fd,
        })
    }

    /// Whether the folder held open was deleted (a deleted folder has no links).
    fn is_deleted(&self) -> bool {
        rustix::fs::fstat(&self.fd).is_ok_and(|st| st.st_nlink == 0)
    }

    /// `path` relative to the folder when it lies inside it; otherwise `path` itself.
    fn rel<'a>(&self, path: &'a Path) -> &'a Path {
        match path.strip_prefix(&self.root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel,
            _ => path,
        }
    }

    fn open_file(&self, path: &Path, flags: OFlags) -> io::Result<File> {
        let mode = Mode::from_raw_mode(0o666);
        let flags = flags | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, self.rel(path), flags, mode) {
            // The folder it goes in is gone: a task deleted it, or the whole run folder (then
            // the folder held open is a deleted one, and so is every path relative to it). The
            // folders are made again, by their full path, and so is the file.
            Err(rustix::io::Errno::NOENT) if flags.contains(OFlags::CREATE) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                Ok(File::from(rustix::fs::open(path, flags, mode)?))
            }
            fd => Ok(File::from(fd?)),
        }
    }

    /// Makes the folder `path`. One that exists is fine; missing parents are made too.
    pub fn make_dir(&self, path: &Path) -> io::Result<()> {
        match rustix::fs::mkdirat(&self.fd, self.rel(path), Mode::from_raw_mode(0o777)) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::EXIST) => Ok(()),
            Err(rustix::io::Errno::NOENT) => std::fs::create_dir_all(path),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates `path` for writing; it must not exist yet (`ErrorKind::AlreadyExists` if it does).
    pub fn create_new(&self, path: &Path) -> io::Result<File> {
        self.open_file(path, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL)
    }

    /// Creates `path` for writing, emptying it if it exists.
    pub fn create(&self, path: &Path) -> io::Result<File> {
        self.open_file(path, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC)
    }

    /// Removes the file `path` if it is empty (a log its attempt wrote nothing to); true if it
    /// was removed. A missing file, or any error, leaves things as they are: an empty log left
    /// behind is harmless.
    pub fn remove_if_empty(&self, path: &Path) -> bool {
        let rel = self.rel(path);
        match rustix::fs::statat(&self.fd, rel, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_size == 0 && FileType::from_raw_mode(st.st_mode).is_file() => {
                rustix::fs::unlinkat(&self.fd, rel, AtFlags::empty()).is_ok()
            }
            _ => false,
        }
    }

    /// Removes the folder `path` if it is empty (`rmdir`: atomic, refused for a folder that holds
    /// anything). `Ok(true)`: removed; `Ok(false)`: it holds something and stays; a missing
    /// folder counts as removed.
    pub fn remove_dir_if_empty(&self, path: &Path) -> io::Result<bool> {
        match rustix::fs::unlinkat(&self.fd, self.rel(path), AtFlags::REMOVEDIR) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(true),
            Err(rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The regular file `path`, opened for reading. Anything else a task may have left there
    /// (a FIFO, a folder, a device) is refused unopened, with an error that says what it is:
    /// opening a FIFO for reading waits for a writer, for ever, and a device may never end.
    /// The caller reads it within its own limits (its size is one `metadata()` away).
    pub fn open_regular(&self, path: &Path) -> io::Result<File> {
        let rel = self.rel(path);
        let mode = match rustix::fs::statat(&self.fd, rel, AtFlags::empty()) {
            Ok(stat) => stat.st_mode,
            // A task deleted the run folder and the next attempt made it again: the folder held
            // open is the deleted one (no links left); the path leads to the new one.
            Err(rustix::io::Errno::NOENT) if self.is_deleted() => return open_regular(path),
            Err(e) => return Err(e.into()),
        };
        refuse_unless_regular(mode)?;
        // Non-blocking: if a FIFO took the file's place since the check, the open does not wait.
        let file = self.open_file(path, OFlags::RDONLY | OFlags::NONBLOCK)?;
        checked(file)
    }

    /// How many bytes the files at `paths` hold together (symbolic links followed, as
    /// [`RunDir::open_regular`] opens them), and whether none of them exists. One lookup each in
    /// its own folder: an attempt that left none of its output files (most do) costs no more.
    /// A file that cannot be looked up for another reason counts as there: its reader says why.
    pub fn sizes(&self, paths: &[&Path]) -> (u64, bool) {
        let mut total = 0u64;
        let mut missing = 0;
        for path in paths {
            match rustix::fs::statat(&self.fd, self.rel(path), AtFlags::empty()) {
                Ok(st) => total = total.saturating_add(st.st_size as u64),
                Err(rustix::io::Errno::NOENT) => missing += 1,
                Err(_) => {}
            }
        }
        // A task deleted the run folder and the next attempt made it again: the folder held open
        // is the deleted one, and the files are looked up by their full paths.
        if missing > 0 && self.is_deleted() {
            return paths.iter().fold((0, true), |(total, none), path| {
                match std::fs::metadata(path) {
                    Ok(m) => (total.saturating_add(m.len()), false),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => (total, none),
                    Err(_) => (total, false),
                }
            });
        }
        (total, missing == paths.len())
    }

    /// The whole content of the regular file `path`, opened as [`RunDir::open_regular`] does.
    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut self.open_regular(path)?, &mut bytes)?;
        Ok(bytes)
    }
}

/// The regular file `path`, opened for reading as [`RunDir::open_regular`] opens it.
pub fn open_regular(path: &Path) -> io::Result<File> {
    refuse_unless_regular(rustix::fs::stat(path)?.st_mode)?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    checked(File::from(rustix::fs::open(path, flags, Mode::empty())?))
}

/// An opened file, after checking again (with `fstat`) that it is a regular file.
fn checked(file: File) -> io::Result<File> {
    refuse_unless_regular(rustix::fs::fstat(&file)?.st_mode)?;
    Ok(file)
}

/// `Ok` for a regular file; otherwise an error naming what the file is.
fn refuse_unless_regular(mode: u32) -> io::Result<()> {
    let what = match FileType::from_raw_mode(mode) {
        FileType::RegularFile => return Ok(()),
        FileType::Fifo => "a FIFO (named pipe)",
        FileType::Directory => "a folder",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Socket => "a socket",
        _ => "an unknown kind of file",
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file; labtrail does not open it"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_made_inside_the_folder_and_absolute_paths_elsewhere_still_work() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("run");
        std::fs::create_dir(&root).unwrap();
        let dir = RunDir::open(&root).unwrap();

        dir.make_dir(&root.join("tasks/abc")).unwrap(); // a missing parent is made too
        dir.make_dir(&root.join("tasks/abc")).unwrap(); // and an existing folder is fine
        assert!(root.join("tasks/abc").is_dir());

        let log = root.join("tasks/abc/1.log");
        io::Write::write_all(&mut dir.create_new(&log).unwrap(), b"one").unwrap();
        let again = dir.create_new(&log).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(dir.read(&log).unwrap(), b"one");
        dir.create(&log).unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), b"");

        let outside = tmp.path().join("elsewhere.json");
        std::fs::write(&outside, "{}").unwrap();
        assert_eq!(dir.read(&outside).unwrap(), b"{}");
        let missing = dir.read(&root.join("nope.json")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn sizes_add_up_the_files_there_and_say_when_none_is() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("run");
        std::fs::create_dir_all(root.join("tasks/abc")).unwrap();
        let dir = RunDir::open(&root).unwrap();
        let (result, metrics) = (
            root.join("tasks/abc/r.json"),
            root.join("tasks/abc/m.jsonl"),
        );
        assert_eq!(dir.sizes(&[&result, &metrics]), (0, true));
        std::fs::write(&metrics, "").unwrap();
        assert_eq!(
            dir.sizes(&[&result, &metrics]),
            (0, false),
            "an empty file is there"
        );
        std::fs::write(&result, "{\"a\": 1}").unwrap();
        std::fs::write(&metrics, "12345").unwrap();
        assert_eq!(dir.sizes(&[&result, &metrics]), (13, false));
        // A symbolic link counts for what it leads to, as open_regular opens it.
        std::fs::remove_file(&result).unwrap();
        let target = tmp.path().join("outside.json");
        std::fs::write(&target, "0123456789").unwrap();
        std::os::unix::fs::symlink(&target, &result).unwrap();
        assert_eq!(dir.sizes(&[&result, &metrics]), (15, false));
        // A file that cannot be looked up (its folder is a file) counts as there.
        let odd = root.join("tasks/abc/m.jsonl/x");
        assert_eq!(dir.sizes(&[&odd]), (0, false));
    }

    #[test]
    fn sizes_follow_the_run_folder_made_again_after_a_task_deleted_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("run");
        std::fs::create_dir(&root).unwrap();
        let dir = RunDir::open(&root).unwrap();
        std::fs::remove_dir(&root).unwrap();
        std::fs::create_dir_all(root.join("tasks/abc")).unwrap();
        let result = root.join("tasks/abc/r.json");
        std::fs::write(&result, "{}").unwrap();
        let missing = root.join("tasks/abc/m.jsonl");
        assert_eq!(dir.sizes(&[&result, &missing]), (2, false));
        assert_eq!(dir.sizes(&[&missing]), (0, true));
    }
}
