//! Helpers for the tests of damaged write-ahead logs: a killed runner's WAL, its frames, and
//! the copies the store keeps of a damaged one.
#![allow(dead_code)]

use crate::common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const TASKS: usize = 400;

/// Many small tasks, each appending its number to `ledger.txt` when it is done; a short sleep
/// spreads them over many of the runner's commits.
pub fn small_tasks() -> Exp {
    let values: Vec<String> = (0..TASKS).map(|i| i.to_string()).collect();
    Exp::new(&format!(
        "[experiment]\nname = \"w\"\ncommand = \"sleep 0.02; echo {{i}} >> ledger.txt\"\n[params]\ni = [{}]\n[run]\nworkers = 4\n",
        values.join(", ")
    ))
}

/// Starts the run and SIGKILLs the runner once its WAL holds `commits` committed transactions
/// (the runner commits task changes in batches): its WAL stays, as a crash leaves it.
pub fn killed_after(exp: &Exp, commits: usize) {
    let child = exp.spawn(&["run", "exp.toml", "-q", "--no-progress"]);
    let wal = wal_path(exp);
    wait_until("commits in the WAL", Duration::from_secs(120), || {
        wal_shape(&wal).commits.len() >= commits
    });
    signal(&child, libc::SIGKILL);
    finish(child);
    let store = exp.file(".labtrail");
    wait_until("the run's tasks to end", Duration::from_secs(30), || {
        processes_of_store(&store).is_empty()
    });
}

/// Kills a runner (by pid) and the tasks of a store when dropped: a failed assertion leaves no
/// sleeping task behind.
pub struct Cleanup(pub u32, pub PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for pid in std::iter::once(self.0).chain(processes_of_store(&self.1)) {
            // SAFETY: kill(2) on our runner child and its tasks; a gone pid is ignored.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

pub fn wal_path(exp: &Exp) -> PathBuf {
    exp.file(".labtrail/labtrail.db-wal")
}

pub fn be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// The frames of a WAL's current generation, which lead the file.
pub struct WalShape {
    /// Bytes of a frame: its 24-byte header and a page.
    pub frame: u64,
    /// Number of frames of the current generation.
    pub frames: u64,
    /// 0-based indexes of its commit frames.
    pub commits: Vec<u64>,
    /// The page number of each frame.
    pub pages: Vec<u32>,
}

impl WalShape {
    /// Offset of byte `at` of frame `index`'s page.
    pub fn page_byte(&self, index: u64, at: u64) -> u64 {
        32 + index * self.frame + 24 + at
    }

    /// The first frame of a transaction in the middle, with committed transactions after it
    /// and the run's creation before it.
    pub fn middle_frame(&self) -> u64 {
        self.commits[self.commits.len() / 2] + 1
    }

    /// A frame after the first transaction whose page a later committed frame writes again (so
    /// a live connection never reads it).
    pub fn superseded_frame(&self) -> Option<u64> {
        let last_commit = *self.commits.last()?;
        (self.commits[0] + 1..last_commit).find(|&i| {
            self.pages[i as usize + 1..=last_commit as usize].contains(&self.pages[i as usize])
        })
    }
}

pub fn wal_shape(wal: &Path) -> WalShape {
    let b = std::fs::read(wal).unwrap_or_default();
    if b.len() < 32 {
        return WalShape {
            frame: 0,
            frames: 0,
            commits: Vec::new(),
            pages: Vec::new(),
        };
    }
    let frame = 24 + be(&b, 8) as u64;
    let salts = &b[16..24];
    let at = |i: u64| (32 + i * frame) as usize;
    let frames = (0..(b.len() as u64 - 32) / frame)
        .take_while(|&i| &b[at(i) + 8..at(i) + 16] == salts)
        .count() as u64;
    let commits = (0..frames).filter(|&i| be(&b, at(i) + 4) != 0).collect();
    let pages = (0..frames).map(|i| be(&b, at(i))).collect();
    WalShape {
        frame,
        frames,
        commits,
        pages,
    }
}

pub fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(bytes).unwrap();
}

pub fn wal_copies(exp: &Exp) -> Vec<PathBuf> {
    std::fs::read_dir(exp.file(".labtrail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("-wal.damaged-"))
        .collect()
}
