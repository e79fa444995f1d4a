//! Issue 10, item 3: a WAL left by a SIGKILLed runner, damaged, is found before SQLite replays
//! it; a torn tail is not damage; a live runner's WAL is never judged.

mod common;
use common::*;
use labtrail::store::wal;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TASKS: usize = 400;

/// Many small tasks, each appending its number to `ledger.txt` when it is done; a short sleep
/// spreads them over many of the runner's commits.
fn small_tasks() -> Exp {
    let values: Vec<String> = (0..TASKS).map(|i| i.to_string()).collect();
    Exp::new(&format!(
        "[experiment]\nname = \"w\"\ncommand = \"sleep 0.02; echo {{i}} >> ledger.txt\"\n[params]\ni = [{}]\n[run]\nworkers = 4\n",
        values.join(", ")
    ))
}

/// Starts the run and SIGKILLs the runner once its WAL holds `commits` committed transactions
/// (the runner commits task changes in batches): its WAL stays, as a crash leaves it.
fn killed_after(exp: &Exp, commits: usize) {
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
struct Cleanup(u32, PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for pid in std::iter::once(self.0).chain(processes_of_store(&self.1)) {
            // SAFETY: kill(2) on our runner child and its tasks; a gone pid is ignored.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

fn wal_path(exp: &Exp) -> PathBuf {
    exp.file(".labtrail/labtrail.db-wal")
}

fn be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// The frames of a WAL's current generation, which lead the file.
struct WalShape {
    /// Bytes of a frame: its 24-byte header and a page.
    frame: u64,
    /// Number of frames of the current generation.
    frames: u64,
    /// 0-based indexes of its commit frames.
    commits: Vec<u64>,
    /// The page number of each frame.
    pages: Vec<u32>,
}

impl WalShape {
    /// Offset of byte `at` of frame `index`'s page.
    fn page_byte(&self, index: u64, at: u64) -> u64 {
        32 + index * self.frame + 24 + at
    }

    /// The first frame of a transaction in the middle, with committed transactions after it
    /// and the run's creation before it.
    fn middle_frame(&self) -> u64 {
        self.commits[self.commits.len() / 2] + 1
    }

    /// A frame after the first transaction whose page a later committed frame writes again (so
    /// a live connection never reads it).
    fn superseded_frame(&self) -> Option<u64> {
        let last_commit = *self.commits.last()?;
        (self.commits[0] + 1..last_commit).find(|&i| {
            self.pages[i as usize + 1..=last_commit as usize].contains(&self.pages[i as usize])
        })
    }
}

fn wal_shape(wal: &Path) -> WalShape {
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

fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(bytes).unwrap();
}

fn wal_copies(exp: &Exp) -> Vec<PathBuf> {
    std::fs::read_dir(exp.file(".labtrail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("-wal.damaged-"))
        .collect()
}

/// Issue 10, item 3: bytes of a frame in the middle of a killed runner's WAL overwritten. The
/// first `status` finds it before SQLite replays the WAL, keeps a copy of it as it was, says how
/// many committed transactions are lost; `check` fails; the next `run` records it in the store,
/// and `check` fails until `check --repair`.
#[test]
fn a_damaged_wal_is_found_kept_and_reported() {
    let exp = small_tasks();
    killed_after(&exp, 8);
    let wal = wal_path(&exp);
    let shape = wal_shape(&wal);
    let victim = shape.middle_frame();
    overwrite(&wal, shape.page_byte(victim, 200), &[0xee; 32]);
    let damaged = std::fs::read(&wal).unwrap();
    let db = exp.file(".labtrail/labtrail.db");
    let lost = wal::scan(&wal, &db)
        .unwrap()
        .damage
        .expect("damage")
        .lost_commits;

    let status = exp.run(&["status"]);
    assert_eq!(status.code(), 0, "{}", status.stderr());
    let err = status.stderr();
    assert!(err.contains("write-ahead log"), "{err}");
    assert!(
        err.contains(&format!("damaged at frame {}", victim + 1)),
        "{err}"
    );
    assert!(
        err.contains(&format!("{lost} committed transaction(s)")),
        "{err}"
    );
    let copies = wal_copies(&exp);
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(err.contains(&copies[0].display().to_string()), "{err}");
    assert!(
        std::fs::read(&copies[0]).unwrap() == damaged,
        "the copy is the WAL as found"
    );

    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 3, "{}{}", check.stdout(), check.stderr());
    assert!(
        check.stdout().contains("write-ahead log was found damaged"),
        "{}",
        check.stdout()
    );
    assert_eq!(wal_copies(&exp).len(), 1, "the same damage is kept once");

    // The next run replays what can be replayed, records the damage and finishes the run.
    let run = exp.run(&["run", "exp.toml", "-q", "--no-progress"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let kinds: Vec<String> = exp.column("SELECT kind FROM records WHERE run_id IS NULL");
    assert_eq!(kinds, ["wal_damage"]);
    assert_eq!(exp.count("done"), TASKS);
    let check = exp.run(&["check"]);
    assert_eq!(
        check.code(),
        3,
        "recorded damage stays a problem until repaired"
    );
    assert!(check.stdout().contains(&copies[0].display().to_string()));

    // A repair marks it repaired: `check` passes again, every task still done. The kept copy is
    // older than what the run wrote since: none of its rows replaces one the store has.
    let history = "SELECT run_id || ' ' || task_key || ' ' || number || ' ' || started_at || ' ' || COALESCE(outcome, '-') FROM attempts UNION ALL SELECT run_id || ' ' || key || ' ' || state || ' ' || attempts FROM tasks UNION ALL SELECT id || ' ' || kind || ' ' || COALESCE(detail, '') FROM events ORDER BY 1";
    let before: Vec<String> = exp.column(history);
    let repair = exp.run(&["check", "--repair", "--yes"]);
    assert_eq!(repair.code(), 0, "{}{}", repair.stdout(), repair.stderr());
    assert_eq!(exp.column::<String>(history), before, "{}", repair.stdout());
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
    assert_eq!(exp.count("done"), TASKS);
}

/// Issue 10, item 3: the torn last frame a crash leaves is an ordinary unclean stop.
#[test]
fn a_torn_final_frame_is_not_damage() {
    let exp = small_tasks();
    killed_after(&exp, 4);
    let wal = wal_path(&exp);
    let shape = wal_shape(&wal);
    // Half of the last frame of the current generation overwritten, as a cut-short write.
    let half = (shape.frame - 24) / 2;
    overwrite(
        &wal,
        shape.page_byte(shape.frames - 1, half),
        &vec![0x11; half as usize],
    );
    let status = exp.run(&["status"]);
    assert_eq!(status.code(), 0, "{}", status.stderr());
    assert!(!status.stderr().contains("damaged"), "{}", status.stderr());
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
    assert!(wal_copies(&exp).is_empty());
}

/// A live runner's WAL is its own: a reader never judges it, even when its bytes look damaged
/// (the runner still holds every frame in its index). Once the runner is gone, it is judged.
#[test]
fn a_live_runners_wal_is_not_judged() {
    let exp = Exp::new(
        "[experiment]\nname = \"l\"\ncommand = \"sleep 0.02; echo {i} >> ledger.txt; [ {i} -lt 40 ] || sleep 600\"\n[params]\ni = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40]\n[run]\nworkers = 2\n",
    );
    let child = exp.spawn(&["run", "exp.toml", "-q", "--no-progress"]);
    let _cleanup = Cleanup(child.id(), exp.file(".labtrail"));
    wait_until("the sleeping task", Duration::from_secs(60), || {
        exp.ledger("ledger.txt").len() >= 41
    });
    let wal = wal_path(&exp);
    wait_until(
        "a superseded frame in the WAL",
        Duration::from_secs(60),
        || {
            let shape = wal_shape(&wal);
            shape.commits.len() >= 2 && shape.superseded_frame().is_some()
        },
    );
    let shape = wal_shape(&wal);
    let victim = shape.superseded_frame().expect("waited for");
    overwrite(&wal, shape.page_byte(victim, 100), &[0xdd; 16]);
    let status = exp.run(&["status"]);
    assert_eq!(status.code(), 0, "{}", status.stderr());
    assert!(!status.stderr().contains("damaged"), "{}", status.stderr());
    assert!(wal_copies(&exp).is_empty());
    signal(&child, libc::SIGKILL);
    finish(child);
    let store = exp.file(".labtrail");
    for pid in processes_of_store(&store) {
        // SAFETY: kill(2) on the sleeping task the killed runner left.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    let status = exp.run(&["status"]);
    assert!(
        status.stderr().contains("damaged at frame"),
        "{}",
        status.stderr()
    );
}

/// Issue 10, item 3: when a reading command found the damage first (and cannot record it) and
/// still has the store open, the next run, which then cannot judge the WAL itself, records the
/// copy that reader kept.
#[test]
fn damage_found_by_a_reader_is_recorded_by_the_next_run() {
    let exp = small_tasks();
    killed_after(&exp, 8);
    let wal = wal_path(&exp);
    let shape = wal_shape(&wal);
    overwrite(
        &wal,
        shape.page_byte(shape.middle_frame(), 200),
        &[0xee; 32],
    );
    let watcher = exp.spawn(&["status", "--watch", "0.2"]);
    let _cleanup = Cleanup(watcher.id(), exp.file(".labtrail"));
    wait_until(
        "the reader's copy of the WAL",
        Duration::from_secs(30),
        || wal_copies(&exp).len() == 1,
    );
    let run = exp.run(&["run", "exp.toml", "-q", "--no-progress"]);
    signal(&watcher, libc::SIGKILL);
    finish(watcher);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let copies: Vec<String> =
        exp.column("SELECT json_extract(json, '$.copy') FROM records WHERE kind = 'wal_damage'");
    assert_eq!(copies, [wal_copies(&exp)[0].display().to_string()]);
}

/// Finished attempts, events and done tasks of the database at `db` (with its WAL beside it,
/// which SQLite replays as far as it can), read from a scratch copy so that nothing changes.
fn committed(db: &Path) -> [i64; 3] {
    let tmp = tempfile::tempdir().unwrap();
    let to = tmp.path().join("labtrail.db");
    std::fs::copy(db, &to).unwrap();
    let wal = db.with_file_name("labtrail.db-wal");
    if wal.exists() {
        std::fs::copy(&wal, tmp.path().join("labtrail.db-wal")).unwrap();
    }
    let c = rusqlite::Connection::open(&to).unwrap();
    let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    [
        n("SELECT COUNT(*) FROM attempts WHERE outcome IS NOT NULL"),
        n("SELECT COUNT(*) FROM events"),
        n("SELECT COUNT(*) FROM tasks WHERE state = 'done'"),
    ]
}

/// Issue 10, item 3 ("keep every record that can be kept"): a killed runner's WAL damaged in
/// the middle; `status` keeps a copy; `check --repair` brings back the attempts, events and done
/// tasks committed behind the damage from that copy; the next `run` resumes without running a
/// recovered task again, and `check` passes.
#[test]
fn a_repair_recovers_the_rows_committed_behind_wal_damage() {
    let exp = small_tasks();
    killed_after(&exp, 24);
    let db = exp.file(".labtrail/labtrail.db");
    let wal = wal_path(&exp);
    let full = committed(&db);
    let shape = wal_shape(&wal);
    overwrite(
        &wal,
        shape.page_byte(shape.middle_frame(), 200),
        &[0xee; 32],
    );
    let prefix = committed(&db);
    let status = exp.run(&["status"]);
    assert!(status.stderr().contains("damaged at frame"), "{}", status.stderr());
    assert_eq!(wal_copies(&exp).len(), 1);

    // As the message says: no --yes needed, the kept copy makes the store one to repair.
    let repair = exp.run(&["check", "--repair"]);
    assert_eq!(repair.code(), 0, "{}{}", repair.stdout(), repair.stderr());
    assert!(repair.stdout().contains("kept the damaged database"), "{}", repair.stdout());
    println!("{}", repair.stdout());
    let after = committed(&db);
    let names = ["finished attempts", "events", "done tasks"];
    let mut fractions = [0.0; 3];
    for i in 0..3 {
        let behind = full[i] - prefix[i];
        let back = after[i] - prefix[i];
        fractions[i] = back as f64 / behind.max(1) as f64;
        println!(
            "{}: {back} of {behind} committed behind the damage recovered ({:.2}); {} before the damage, {} after the repair",
            names[i], fractions[i], prefix[i], after[i]
        );
        assert!(behind > 0, "{}: nothing behind the damage ({full:?} {prefix:?})", names[i]);
    }
    assert!(
        fractions.iter().all(|f| *f >= 0.8),
        "{}",
        repair.stdout()
    );
    assert!(
        repair.stdout().contains("kept copy(ies) of a damaged write-ahead log"),
        "{}",
        repair.stdout()
    );
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());

    // The next run resumes: a task whose successful attempt came back does not run again.
    let recovered_done: Vec<i64> = exp.column(
        "SELECT json_extract(params, '$.i') FROM tasks WHERE state = 'done'",
    );
    let before = exp.ledger("ledger.txt").len();
    let run = exp.run(&["run", "exp.toml", "-q", "--no-progress"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let again: Vec<String> = exp.ledger("ledger.txt")[before..]
        .iter()
        .filter(|i| recovered_done.contains(&i.parse().unwrap()))
        .cloned()
        .collect();
    assert!(again.is_empty(), "done tasks ran again: {again:?}");
    assert_eq!(exp.count("done"), TASKS);
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
}
