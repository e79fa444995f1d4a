//! Issue 11: a submission accepted by `sbatch` is never lost and never made twice, whatever
//! happens to the monitor between `sbatch` and its record (a crash, Ctrl+C), against a real SLURM
//! cluster. Each task appends its name to `ledger.txt` when its job starts, so that job starts
//! can be counted against the attempts the store records.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

/// An experiment of `n` tasks that each append their name to `ledger.txt`, then sleep a second.
fn ledgered(name: &str, n: usize, array: bool) -> Exp {
    let xs: Vec<String> = (1..=n).map(|i| format!("\"t{i}\"")).collect();
    Exp::new(&format!(
        r#"
[experiment]
name = "{name}"
command = "echo {{x}} >> ledger.txt; sleep 1"
[params]
x = [{}]
{FAST}array = {array}
"#,
        xs.join(", ")
    ))
}

/// Job ids SLURM knows for the run (squeue and sacct, by the run's job names), live or ended.
fn slurm_jobs_of(run: &str) -> BTreeSet<String> {
    let prefix = format!("lt.{run}.");
    let queued = sh("squeue -h -r -o '%i|%j'");
    let since = sh("date -d '-2 hours' +%Y-%m-%dT%H:%M:%S");
    let acct = sh(&format!(
        "sacct -X -n -P -S {} -E now -o JobID,JobName",
        since.trim()
    ));
    queued
        .lines()
        .chain(acct.lines())
        .filter_map(|l| l.split_once('|'))
        .filter(|(_, name)| name.starts_with(&prefix))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Every job SLURM knows for the run is an attempt of the store, every task started once per
/// attempt, and each of the `n` tasks is done after exactly one attempt.
fn assert_nothing_twice_and_nothing_unknown(exp: &Exp, n: usize) {
    let run = run_id(exp);
    let mut starts: BTreeMap<String, usize> = BTreeMap::new();
    for x in exp.ledger("ledger.txt") {
        *starts.entry(x).or_default() += 1;
    }
    let attempts: Vec<String> = exp.column("SELECT job_id FROM attempts WHERE job_id IS NOT NULL");
    let total: usize = starts.values().sum();
    assert_eq!(
        total,
        attempts.len(),
        "job starts {starts:?} against attempts {attempts:?}"
    );
    assert_eq!(starts.len(), n, "every task ran: {starts:?}");
    assert!(
        starts.values().all(|&c| c == 1),
        "a task ran twice: {starts:?}"
    );
    assert_eq!(exp.count("done"), n);
    let known: BTreeSet<String> = attempts.into_iter().collect();
    let slurm = slurm_jobs_of(&run);
    let unknown: Vec<&String> = slurm.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "jobs SLURM has for run {run} that the store does not know: {unknown:?} (store: {known:?})"
    );
}

/// No job of the run is pending, running or completing.
fn nothing_live(run: &str) -> bool {
    jobs_of(run).iter().all(|l| {
        !["|PENDING", "|RUNNING", "|COMPLETING", "|CONFIGURING"]
            .iter()
            .any(|s| l.contains(s))
    })
}

/// Issue 11, cases 1 and 2: the monitor dies right after `sbatch` accepted a job (an array of
/// every task, or the first task's single job) and before it recorded it; the job runs and ends
/// while no monitor watches. The restarted monitor finds it by its name, records it, and submits
/// nothing twice (before: a second array, 6 starts for 3 tasks; the single job submitted again).
fn killed_right_after_sbatch(array: bool) {
    require_slurm();
    let exp = ledgered(if array { "crasharr" } else { "crashone" }, 3, array);
    run_until_crash_after_sbatch(&exp);
    let run = run_id(&exp);
    let accepted = if array { 3 } else { 1 };
    wait_until("the accepted job to run", Duration::from_secs(60), || {
        exp.ledger("ledger.txt").len() == accepted
    });
    wait_until("the accepted job to end", Duration::from_secs(60), || {
        nothing_live(&run)
    });
    assert_eq!(exp.column::<String>("SELECT job_id FROM attempts").len(), 0);
    let out = exp.run(&["monitor", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_nothing_twice_and_nothing_unknown(&exp, 3);
    assert!(
        out.stderr().contains("found again"),
        "the job was found by its name: {}",
        out.stderr()
    );
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn an_array_accepted_but_not_recorded_is_found_again_not_submitted_twice() {
    killed_right_after_sbatch(true);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_single_job_accepted_but_not_recorded_that_ended_is_not_submitted_again() {
    killed_right_after_sbatch(false);
}

/// Issue 11: Ctrl+C at the terminal (SIGINT to the monitor's whole process group) while a slow
/// `sbatch` runs. The `sbatch` is in a group of its own, so it finishes and its job id is
/// recorded; no further `sbatch` starts; after a restart nothing ran twice (before: `sbatch`
/// died with the monitor after SLURM accepted the array, whose id was lost, and the restarted
/// monitor submitted a second one).
fn ctrl_c_during_a_slow_sbatch(array: bool) {
    require_slurm();
    let exp = ledgered(if array { "intarr" } else { "intone" }, 3, array);
    // A site's slow sbatch: SLURM has accepted the job well before the id comes back.
    exp.write(
        "slow-sbatch",
        "#!/bin/sh\nid=$(sbatch \"$@\") || exit $?\ntouch \"$(dirname \"$0\")/sbatch-accepted\"\nsleep 3\necho \"$id\"\n",
    );
    sh(&format!("chmod +x {}", exp.file("slow-sbatch").display()));
    let child = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_SBATCH", exp.file("slow-sbatch"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    wait_until("sbatch to accept a job", Duration::from_secs(60), || {
        exp.file("sbatch-accepted").exists()
    });
    // As a terminal sends it: to every process of the foreground group.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGINT);
    }
    let out = finish(child);
    assert_eq!(out.code(), 130, "stopped by SIGINT: {}", out.stderr());
    let recorded: Vec<String> = exp.column("SELECT job_id FROM attempts");
    assert_eq!(
        recorded.len(),
        if array { 3 } else { 1 },
        "the job of the sbatch under way was recorded, no other was submitted: {recorded:?}"
    );
    let out = exp.run(&["monitor", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_nothing_twice_and_nothing_unknown(&exp, 3);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn ctrl_c_during_sbatch_of_an_array_loses_no_job_id() {
    ctrl_c_during_a_slow_sbatch(true);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn ctrl_c_during_sbatch_of_single_jobs_starts_no_further_sbatch() {
    ctrl_c_during_a_slow_sbatch(false);
}

/// A pseudo-random number below `n` (no generator is needed for spreading kills).
fn below(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (nanos / 1000) % n
}

/// 30 tasks that append `STAGE-X` to the ledger: one stage of 30 single jobs, at most 5 at
/// once, or three stages of 10 (three job arrays, each after the one before, at most 5 elements
/// at once), so that submissions go on while the monitor is killed again and again.
fn torture_exp(array: bool) -> Exp {
    let xs: Vec<String> = (1..=if array { 10 } else { 30 })
        .map(|i| format!("\"t{i}\""))
        .collect();
    let stages = if array {
        ["s1", "s2", "s3"]
            .iter()
            .map(|s| format!("[[stage]]\nname = \"{s}\"\ncommand = \"echo {s}-{{x}} >> ledger.txt; sleep 3\"\n"))
            .collect::<String>()
    } else {
        "[[stage]]\nname = \"s1\"\ncommand = \"echo s1-{x} >> ledger.txt; sleep 1\"\n".to_string()
    };
    Exp::new(&format!(
        "[experiment]\nname = \"torture{}\"\n[params]\nx = [{}]\n{stages}{FAST}array = {array}\nmax_running = 5\n",
        if array { "arr" } else { "one" },
        xs.join(", ")
    ))
}

/// Issue 11, "Done when": 30 tasks, at least 8 SIGKILLs of the monitor (the first three and then
/// every other one at the crash point right after `sbatch` returns, the others at a random
/// instant), then a monitor
/// left to finish: job starts equal the store's attempts, and every job SLURM knows for the run
/// is one of them.
fn crash_torture(array: bool) {
    require_slurm();
    let exp = torture_exp(array);
    let (mut kills, mut after_sbatch) = (0, 0);
    for round in 0..30 {
        if kills >= 10 {
            break;
        }
        let args: &[&str] = if round == 0 {
            &["run", "exp.toml", "--no-progress"]
        } else {
            &["monitor", "--no-progress"]
        };
        let mut cmd = exp.cmd(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // The first three at a submission (each of the three arrays), then every other one.
        let at_sbatch = round < 3 || round % 2 == 0;
        if at_sbatch {
            cmd.env("LABTRAIL_FAULT", AFTER_SBATCH);
        }
        let mut child = cmd.spawn().unwrap();
        // At its next sbatch, else at a random instant.
        let deadline = std::time::Instant::now()
            + Duration::from_millis(if at_sbatch { 2500 } else { 200 + below(1000) });
        while std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let alive = child.try_wait().unwrap().is_none();
        signal(&child, libc::SIGKILL);
        let out = finish(child);
        if out.stderr().contains(AFTER_SBATCH) {
            after_sbatch += 1;
            kills += 1;
            // The monitor comes back later: the job it submitted has likely ended meanwhile.
            std::thread::sleep(Duration::from_secs(3));
        } else if alive {
            kills += 1;
        } else {
            assert_eq!(out.code(), 0, "round {round}: {}", out.stderr());
            break; // the run is over
        }
    }
    eprintln!("{kills} kills, {after_sbatch} right after sbatch");
    assert!(kills >= 8, "only {kills} kills hit a live monitor");
    assert!(
        after_sbatch >= 3,
        "only {after_sbatch} kills right after sbatch returned"
    );
    let out = exp.run(&["monitor", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_nothing_twice_and_nothing_unknown(&exp, 30);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn crash_torture_single_jobs() {
    crash_torture(false);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn crash_torture_job_arrays() {
    crash_torture(true);
}

/// Issue 11 (item 5 of the lane): a job carrying a pending task's name, submitted by hand while
/// no monitor ran and ended before one came back, is adopted as the task's attempt and decides
/// it; the task is not run again (before: only live jobs were adopted, and it ran twice).
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn an_ended_job_with_a_pending_tasks_name_is_adopted() {
    require_slurm();
    let exp = ledgered("handended", 2, false);
    run_until_crash_after_sbatch(&exp);
    let run = run_id(&exp);
    // The monitor died at t1's sbatch; t2 is pending. Its job is submitted by hand.
    let t2 = exp
        .tasks()
        .into_iter()
        .find(|t| t["params"]["x"] == "t2")
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let hand = sh(&format!(
        "cd {} && sbatch --parsable --job-name=lt.{run}.{t2} --output=/dev/null --wrap 'echo t2 >> ledger.txt'",
        exp.path().display()
    ))
    .trim()
    .to_string();
    wait_until("both jobs to end", Duration::from_secs(60), || {
        exp.ledger("ledger.txt").len() == 2 && nothing_live(&run)
    });
    // The monitor comes back once accounting has the ended job (sacct lags it for a moment).
    wait_until(
        "sacct to know the hand-submitted job",
        Duration::from_secs(60),
        || slurm_jobs_of(&run).contains(&hand),
    );
    let out = exp.run(&["monitor", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_nothing_twice_and_nothing_unknown(&exp, 2);
    let a = exp.attempts("x=t2");
    assert!(
        a[0]["job_id"].as_str() == Some(hand.as_str()),
        "the hand-submitted job is t2's attempt: {a:?}"
    );
}
