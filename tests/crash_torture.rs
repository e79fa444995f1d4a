//! Crash torture: a 1,000-task experiment whose runner is SIGKILLed at 50 random moments and
//! restarted each time, then allowed to finish.
//!
//! Every task sleeps a little, writes `{"i": N}` to `$LABTRAIL_RESULT` and, as its very last
//! action, appends `KEY ATTEMPT PID` to `ledger.txt` with one `echo >>` (a single `write` with
//! `O_APPEND`, so lines never interleave). `PID` is the task shell's `$$`, which is the pid the
//! store records for the attempt, so every ledger line names exactly one recorded attempt.
//!
//! What must hold at the end:
//! - the last run exits 0; all 1,000 tasks are done, each with a stored result whose `i` matches
//!   its parameters, and exactly one attempt with a stored result;
//! - no task recorded as done ever started again: the successful attempt is the last attempt of
//!   its task, and no ledger line of the task follows the successful attempt's line;
//! - every process that ran to its end is on record: each ledger line matches a recorded attempt
//!   (key, number, pid) that either succeeded or was interrupted; so the ledger lines of a key
//!   minus one are exactly its interrupted attempts that had completed their work. (A start the
//!   runner died before recording is recorded, without a pid, when a later runner starts the
//!   task again.)
//! - `labtrail check` passes, and no process of the run is left behind.
//!
//! `LABTRAIL_TORTURE_SEED=N` replays another sequence of kill moments.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const TASKS: usize = 1000;
const KILLS: usize = 50;
const WORKERS: usize = 4;
/// Kill moments, in milliseconds after the runner was started.
const KILL_AFTER_MS: (u64, u64) = (20, 300);
const DEFAULT_SEED: u64 = 0x1ab7_2a11_c0ff_ee01;

/// splitmix64: small, deterministic, good enough to pick kill moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// The experiment file. Half the tasks (by `i * 7919 % 100`) sleep 50 to 99 ms, so that kills
/// land in the middle of tasks; the other half do not sleep at all and run only shell builtins,
/// about a millisecond: less than it takes the runner to record a start, so kills also land
/// between a task's start and its record. Then the task writes its result, and appends its
/// ledger line as its last action.
fn experiment_toml() -> String {
    let values: Vec<String> = (0..TASKS).map(|i| i.to_string()).collect();
    format!(
        r#"[experiment]
name = "torture"
command = '''ms=$(( {{i}} * 7919 % 100 )); [ $ms -lt 50 ] || sleep 0.0$ms; printf '{{{{"i": %d}}}}\n' {{i}} > "$LABTRAIL_RESULT"; echo "$LABTRAIL_TASK_KEY $LABTRAIL_ATTEMPT $$" >> ledger.txt'''

[params]
i = [{}]

[run]
workers = {WORKERS}
retries = 0
grace = "2s"
"#,
        values.join(", ")
    )
}

/// A `labtrail` command in the experiment folder, with no LABTRAIL_* variables of our own.
fn labtrail(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_labtrail"));
    c.current_dir(dir).args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LABTRAIL_") {
            c.env_remove(k);
        }
    }
    c
}

/// Runs `labtrail ARGS` to completion; returns (exit code, stdout, stderr).
fn output(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = labtrail(dir, args).output().expect("run labtrail");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let (code, out, err) = output(dir, args);
    assert_eq!(code, 0, "labtrail {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("labtrail {args:?}: bad JSON: {e}"))
}

/// A runner process; SIGKILLed if the test ends while it is still alive.
struct Runner(Child);

impl Runner {
    fn start(dir: &Path, log: &Path, n: usize) -> Runner {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the run log");
        writeln!(f, "=== run {n}").expect("write the run log");
        let child = labtrail(dir, &["run", "exp.toml", "--no-progress"])
            .stdout(Stdio::null())
            .stderr(Stdio::from(f))
            .spawn()
            .expect("start labtrail run");
        Runner(child)
    }

    fn sigkill(&mut self) -> ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        // The child is not waited for yet, so the pid is still ours even if it has exited.
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill");
        self.0.wait().expect("wait for labtrail")
    }

    /// Waits up to `limit` for the runner to end by itself.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let until = Instant::now() + limit;
        loop {
            if let Some(st) = self.0.try_wait().expect("try_wait") {
                return st;
            }
            if Instant::now() > until {
                let _ = self.sigkill();
                panic!("the final run did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Pids of live processes whose environment holds `LABTRAIL_RUN_ID=run`.
fn processes_of_run(run: &str) -> Vec<(u32, String)> {
    let wanted = format!("LABTRAIL_RUN_ID={run}");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == wanted.as_bytes()) {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            found.push((pid, cmd));
        }
    }
    found
}

/// One attempt, as `labtrail tasks --attempts --json` shows it.
#[derive(Debug)]
struct Attempt {
    number: u64,
    pid: Option<u64>,
    started_at: String,
    outcome: Option<String>,
}

impl Attempt {
    /// Whether ledger line `l` is this attempt's process. A start the runner died before
    /// recording is recorded later, without a pid.
    fn is(&self, l: &Line) -> bool {
        self.number == l.attempt && (matches!(self.pid, None | Some(0)) || self.pid == Some(l.pid))
    }
}

/// One ledger line: a process that ran to its end.
#[derive(Debug)]
struct Line {
    key: String,
    attempt: u64,
    pid: u64,
}

fn parse_ledger(path: &Path, bad: &mut Vec<String>) -> Vec<Line> {
    let text = std::fs::read_to_string(path).expect("read the ledger");
    let mut lines = Vec::new();
    for (n, l) in text.lines().enumerate() {
        let f: Vec<&str> = l.split(' ').collect();
        let parsed = match f.as_slice() {
            [key, attempt, pid]
                if key.len() >= 8 && key.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                attempt
                    .parse()
                    .ok()
                    .zip(pid.parse().ok())
                    .map(|(a, p)| Line {
                        key: key.to_string(),
                        attempt: a,
                        pid: p,
                    })
            }
            _ => None,
        };
        match parsed {
            Some(line) => lines.push(line),
            None => bad.push(format!("ledger line {}: garbled: {l:?}", n + 1)),
        }
    }
    lines
}

#[test]
fn sigkill_the_runner_50_times_and_lose_nothing() {
    let started = Instant::now();
    let seed = std::env::var("LABTRAIL_TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut rng = Rng(seed);
    let tmp = tempfile::Builder::new()
        .prefix("labtrail-torture-")
        .tempdir()
        .expect("tempdir");
    let dir: PathBuf = tmp.path().to_path_buf();
    std::fs::write(dir.join("exp.toml"), experiment_toml()).expect("write exp.toml");
    let log = dir.join("runs.log");
    let ledger = dir.join("ledger.txt");
    File::create(&ledger).expect("create the ledger");
    eprintln!("crash torture: seed {seed}, folder {}", dir.display());

    // 50 runs, each SIGKILLed at a random moment.
    let mut kills = 0;
    let mut runs = 0;
    while kills < KILLS {
        runs += 1;
        let mut runner = Runner::start(&dir, &log, runs);
        let delay = rng.range(KILL_AFTER_MS.0, KILL_AFTER_MS.1);
        std::thread::sleep(Duration::from_millis(delay));
        let status = runner.sigkill();
        if status.signal() == Some(libc::SIGKILL) {
            kills += 1;
            continue;
        }
        // It ended before the kill.
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            status.code(),
            Some(0),
            "run {runs} ended by itself ({status}) before being killed:\n{log_text}"
        );
        panic!("the experiment finished after only {kills} kills: its tasks are too short for {KILLS} kills");
    }
    let killing = started.elapsed();

    // The last run finishes.
    runs += 1;
    let mut runner = Runner::start(&dir, &log, runs);
    let status = runner.wait(Duration::from_secs(240));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: String = {
        let lines: Vec<&str> = log_text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    assert_eq!(status.code(), Some(0), "the final run failed:\n{tail}");
    let total = started.elapsed();

    // The run, and its processes: none may be left.
    let run_dirs: Vec<String> = std::fs::read_dir(dir.join(".labtrail/runs"))
        .expect("runs folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        run_dirs.len(),
        1,
        "every restart must resume the same run: {run_dirs:?}"
    );
    let run = &run_dirs[0];
    let leftovers = processes_of_run(run);

    let mut bad: Vec<String> = Vec::new();
    if !leftovers.is_empty() {
        bad.push(format!("processes of run {run} left behind: {leftovers:?}"));
    }

    // Tasks: all done, each with the result of its own parameters.
    let tasks = json(&dir, &["tasks", "--json"]);
    if tasks.len() != TASKS {
        bad.push(format!("{} tasks listed, expected {TASKS}", tasks.len()));
    }
    let mut seen_i = HashSet::new();
    let mut attempts_field: HashMap<String, u64> = HashMap::new();
    let mut results_lost = 0;
    for t in &tasks {
        let key = t["key"].as_str().expect("key").to_string();
        let i = t["params"]["i"].as_u64().expect("params.i");
        if !seen_i.insert(i) {
            bad.push(format!("two tasks with i = {i}"));
        }
        if t["state"] != "done" {
            bad.push(format!("task {key} (i={i}) is {}", t["state"]));
        }
        if t["result"]["i"].as_u64() != Some(i) {
            results_lost += 1;
            bad.push(format!(
                "task {key} (i={i}): stored result {} does not match",
                t["result"]
            ));
        }
        attempts_field.insert(key, t["attempts"].as_u64().unwrap_or(0));
    }
    if seen_i.len() != TASKS || seen_i.iter().any(|&i| i as usize >= TASKS) {
        bad.push(format!(
            "the tasks' i values are not 0..{TASKS}: {} distinct",
            seen_i.len()
        ));
    }

    // Attempt history: numbered 1..n, the success is the last one, all others interrupted.
    let mut history: HashMap<String, Vec<Attempt>> = HashMap::new();
    for row in json(&dir, &["tasks", "--attempts", "--json"]) {
        let a = &row["attempt"];
        let key = a["task_key"].as_str().expect("task_key").to_string();
        history.entry(key).or_default().push(Attempt {
            number: a["number"].as_u64().expect("number"),
            pid: a["pid"].as_u64(),
            started_at: a["started_at"].as_str().unwrap_or_default().to_string(),
            outcome: a["outcome"].as_str().map(str::to_string),
        });
    }
    let mut interrupted_attempts = 0;
    let mut rerun_tasks = 0;
    for (key, n) in &attempts_field {
        let Some(h) = history.get_mut(key) else {
            bad.push(format!("task {key} has no attempt"));
            continue;
        };
        h.sort_by_key(|a| a.number);
        if h.len() as u64 != *n || h.iter().zip(1..).any(|(a, k)| a.number != k) {
            let nums: Vec<u64> = h.iter().map(|a| a.number).collect();
            bad.push(format!(
                "task {key}: attempts {nums:?}, but `attempts` = {n}"
            ));
        }
        if h.len() > 1 {
            rerun_tasks += 1;
        }
        let successes: Vec<&Attempt> = h
            .iter()
            .filter(|a| a.outcome.as_deref() == Some("success"))
            .collect();
        let last = h.last().expect("non-empty");
        if successes.len() != 1 || last.outcome.as_deref() != Some("success") {
            bad.push(format!(
                "task {key}: the success is not the one last attempt: {h:?}"
            ));
        }
        if h.iter().any(|a| a.started_at > last.started_at) {
            bad.push(format!(
                "task {key}: an attempt started after the success: {h:?}"
            ));
        }
        for a in &h[..h.len() - 1] {
            match a.outcome.as_deref() {
                Some("interrupted") => interrupted_attempts += 1,
                other => bad.push(format!(
                    "task {key}: attempt {} ended {other:?}, expected interrupted",
                    a.number
                )),
            }
        }
    }
    let attempts_total: usize = history.values().map(Vec::len).sum();
    // Starts the runner died before recording, recorded later (they have no pid).
    let late_recorded = history
        .values()
        .flatten()
        .filter(|a| matches!(a.pid, None | Some(0)))
        .count();

    // Stored results, straight from the database: exactly one per task.
    let db = rusqlite::Connection::open_with_flags(
        dir.join(".labtrail/labtrail.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database");
    let mut st = db
        .prepare(
            "SELECT t.key, (SELECT COUNT(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_key = t.key AND a.result IS NOT NULL) FROM tasks t WHERE t.run_id = ?1",
        )
        .expect("prepare");
    let counts: Vec<(String, i64)> = st
        .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    if counts.len() != TASKS {
        bad.push(format!("{} task rows in the database", counts.len()));
    }
    for (key, n) in &counts {
        if *n != 1 {
            bad.push(format!("task {key}: {n} attempts with a stored result"));
        }
    }
    drop(st);
    drop(db);

    // The ledger: every process that ran to its end.
    let lines = parse_ledger(&ledger, &mut bad);
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    let mut success_seen: HashSet<&str> = HashSet::new();
    let mut completed_interrupted = 0;
    let mut unrecorded = 0;
    for l in &lines {
        *per_key.entry(&l.key).or_default() += 1;
        let recorded = history.get(&l.key).and_then(|h| h.iter().find(|a| a.is(l)));
        if success_seen.contains(l.key.as_str()) {
            bad.push(format!(
                "task {} ran again after its success (attempt {}, pid {})",
                l.key, l.attempt, l.pid
            ));
        }
        match recorded.and_then(|a| a.outcome.as_deref()) {
            Some("success") => {
                success_seen.insert(&l.key);
            }
            Some("interrupted") => completed_interrupted += 1,
            Some(other) => bad.push(format!(
                "ledger {} {} {}: attempt recorded as {other}",
                l.key, l.attempt, l.pid
            )),
            None => {
                unrecorded += 1;
                bad.push(format!(
                    "task {} attempt {} (pid {}) ran to its end but is not in the attempt history{}",
                    l.key,
                    l.attempt,
                    l.pid,
                    match history.get(&l.key) {
                        Some(h) => format!(" ({h:?})"),
                        None => String::new(),
                    }
                ));
            }
        }
    }
    for key in attempts_field.keys() {
        let n = per_key.get(key.as_str()).copied().unwrap_or(0);
        if !success_seen.contains(key.as_str()) {
            bad.push(format!(
                "task {key}: its successful attempt is not in the ledger"
            ));
        }
        let interrupted_done = history.get(key).map_or(0, |h| {
            h.iter()
                .filter(|a| {
                    a.outcome.as_deref() == Some("interrupted")
                        && lines.iter().any(|l| l.key == *key && a.is(l))
                })
                .count()
        });
        if n > 0 && n - 1 != interrupted_done {
            bad.push(format!(
                "task {key}: {n} ledger lines, but {interrupted_done} completed interrupted attempt(s)"
            ));
        }
    }
    let ledger_duplicates = lines.len().saturating_sub(per_key.len());

    // The store's own check.
    let (code, out, err) = output(&dir, &["check"]);
    if code != 0 {
        bad.push(format!("labtrail check failed ({code}): {out}{err}"));
    }

    let orphans_stopped: usize = log_text
        .lines()
        .filter_map(|l| l.strip_prefix("labtrail: stopped "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    println!("crash torture (seed {seed}):");
    println!("  kills (SIGKILL of the runner)        {kills}");
    println!("  runs                                 {runs}");
    println!("  tasks                                {}", tasks.len());
    println!("  attempts                             {attempts_total}");
    println!("  re-runs of interrupted tasks         {interrupted_attempts} attempts, {rerun_tasks} tasks");
    println!("  ledger lines                         {}", lines.len());
    println!("  ledger duplicates                    {ledger_duplicates} (interrupted attempts that had completed: {completed_interrupted})");
    println!("  starts recorded late (no pid)        {late_recorded}");
    println!("  attempts that ran but are unrecorded {unrecorded}");
    println!("  results lost                         {results_lost}");
    println!("  leftover processes at the end        {}", leftovers.len());
    println!("  orphans stopped by restarts          {orphans_stopped}");
    println!(
        "  time                                 {:.1} s killing, {:.1} s in all",
        killing.as_secs_f64(),
        total.as_secs_f64()
    );
    if !bad.is_empty() {
        if std::env::var_os("LABTRAIL_TORTURE_KEEP").is_some() {
            let kept = tmp.keep();
            eprintln!("kept {}", kept.display());
        }
        let shown: Vec<&String> = bad.iter().take(25).collect();
        panic!(
            "{} problem(s), the first ones:\n{}\nlast lines of the run log:\n{tail}",
            bad.len(),
            shown
                .iter()
                .map(|s| format!("  {s}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert_eq!(results_lost, 0);
}
