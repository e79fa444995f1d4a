//! Issue 10, item 3: a WAL left by a SIGKILLed runner, damaged, is found before SQLite replays
//! it; a torn tail is not damage; a live runner's WAL is never judged.

mod common;
mod wal_common;
use common::*;
use labtrail::store::wal;
use std::time::Duration;
use wal_common::*;

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
