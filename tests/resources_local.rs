//! Issue 12: what a local attempt's whole process tree used is recorded with its end
//! (`task_resources`), next to `wait4`'s figures for the largest single process.

mod common;
use common::*;

/// The `task_resources` records stored, parsed, with their task keys.
/// Every attempt's `task_resources` document, in attempt order. Issue 15: the record is left out
/// when it would say no more than the attempt's row (no sample, no GPU, no CPU time beyond
/// `wait4`'s); the row's figures then stand for it, as the archive reads them.
fn resources(exp: &Exp) -> Vec<(String, serde_json::Value)> {
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let mut q = db
        .prepare(
            "SELECT a.task_key, r.json, a.number, a.max_rss_kb, a.user_cpu_s + a.sys_cpu_s
             FROM attempts a LEFT JOIN records r ON r.kind = 'task_resources'
               AND r.run_id = a.run_id AND r.task_key = a.task_key
               AND json_extract(r.json, '$.attempt') = a.number
             ORDER BY a.started_event, a.number",
        )
        .unwrap();
    let rows = q
        .query_map([], |r| {
            let json: Option<String> = r.get(1)?;
            let doc = match json {
                Some(j) => serde_json::from_str(&j).unwrap(),
                None => {
                    let rss: Option<i64> = r.get(3)?;
                    let source = match rss {
                        Some(_) => "wait4",
                        None => "unknown (shorter than one sample)",
                    };
                    serde_json::json!({
                        "attempt": r.get::<_, i64>(2)?,
                        "peak_tree_rss_kb": rss,
                        "rss_source": source,
                        "cpu_s": r.get::<_, Option<f64>>(4)?,
                        "gpus": [],
                        "samples": 0,
                    })
                }
            };
            Ok((r.get::<_, String>(0)?, doc))
        })
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// Issue 12: a task forking 4 children that each hold 200 MB for 3 s records a tree peak of at
/// least 800 MB, sampled, while `wait4`'s peak (the largest single process) stays near 200 MB.
/// The 3 s start once all four hold their 200 MB: started one after the other, on 2 busy cores
/// the first could be gone before the last had its memory (a CI run sampled 811,382 KiB).
#[test]
fn a_task_forking_four_200_mb_children_records_the_whole_trees_peak() {
    let exp = Exp::new(
        r#"
[experiment]
name = "tree"
command = "python3 fork4.py"
"#,
    );
    exp.write(
        "fork4.py",
        r#"import os, time
kids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (200 << 20)  # written, so every page is resident
        open("ready.%d" % i, "w").close()
        while not all(os.path.exists("ready.%d" % j) for j in range(4)):
            time.sleep(0.01)
        time.sleep(3)
        os._exit(0 if len(block) else 1)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"#,
    );
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    let max_rss: Vec<i64> = exp.column("SELECT max_rss_kb FROM attempts");
    assert_eq!(max_rss.len(), 1);
    let mb = 1024;
    assert!(
        (200 * mb..400 * mb).contains(&max_rss[0]),
        "wait4 sees the largest single process: {} KiB",
        max_rss[0]
    );
    let rows = resources(&exp);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (key, r) = &rows[0];
    assert_eq!(key, exp.tasks()[0]["key"].as_str().unwrap());
    assert_eq!(r["attempt"], 1);
    assert_eq!(r["rss_source"], "sampled pss", "{r}");
    let peak = r["peak_tree_rss_kb"].as_u64().unwrap();
    assert!(
        peak >= 800 * mb as u64,
        "the whole tree's peak: {peak} KiB; {r}"
    );
    assert!(r["samples"].as_u64().unwrap() >= 2, "{r}");
    assert!(r["cpu_s"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(r["gpus"], serde_json::json!([]), "no GPU here");
}

/// Issue 12: every attempt gets its record, a failed one too. One shorter than a sampling
/// interval has `wait4`'s figure only when it is its own, above the runner's peak: a shell
/// exiting at once is smaller than the runner, so its peak is unknown, and said so.
#[test]
fn every_attempt_gets_a_record_even_a_short_failed_one() {
    let exp = Exp::new(
        r#"
[experiment]
name = "short"
command = "exit 3"

[run]
retries = 1
backoff = "0s"
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let rows = resources(&exp);
    let attempts: Vec<u64> = rows
        .iter()
        .map(|(_, r)| r["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2], "{rows:?}");
    for (_, r) in &rows {
        match r["rss_source"].as_str().unwrap() {
            "unknown (shorter than one sample)" => assert!(r["peak_tree_rss_kb"].is_null()),
            "sampled rss" | "sampled pss" => assert!(r["peak_tree_rss_kb"].as_u64() > Some(0)),
            other => panic!("{other}: {r}"),
        }
    }
}

/// Issue 12: a task is started sharing the runner's memory until `exec`, and the kernel gives
/// it the runner's peak then: `wait4` reported every task at least as large as the runner (an
/// awk of 4 MB as 26-71 MB in a run of 2,000 tasks). The task reads its runner's peak; neither
/// the attempt's `max_rss_kb` nor the tree's peak may be that figure. (The runner's peak grows a
/// little after the spawn, so "below it" is not enough: a shell and an awk take a few MB, the
/// runner over 15 MB; half of it separates them.)
#[test]
fn a_small_task_is_not_recorded_at_the_runners_peak() {
    let exp = Exp::new(
        r#"
[experiment]
name = "small"
command = "awk 'BEGIN { print 1 }' > /dev/null; grep VmHWM /proc/$PPID/status > runner_hwm"
"#,
    );
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    let text = std::fs::read_to_string(exp.file("runner_hwm")).unwrap();
    let runner_kb: i64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        runner_kb > 15 * 1024,
        "a runner this small tells nothing: {runner_kb} KiB"
    );
    let runner_kb = runner_kb / 2;
    let max_rss: Vec<Option<i64>> = exp.column("SELECT max_rss_kb FROM attempts");
    assert_eq!(max_rss.len(), 1);
    assert!(
        max_rss[0].is_none_or(|kb| kb < runner_kb),
        "the attempt's peak {max_rss:?} KiB is the runner's (half its peak: {runner_kb} KiB)"
    );
    let rows = resources(&exp);
    let r = &rows[0].1;
    let peak = r["peak_tree_rss_kb"].as_i64();
    assert!(
        peak.is_none_or(|kb| kb < runner_kb),
        "the tree's peak is the runner's (half its peak: {runner_kb} KiB): {r}"
    );
    if peak.is_none() {
        assert_eq!(r["rss_source"], "unknown (shorter than one sample)", "{r}");
    }
}

/// Issue 12: a parent holding 300 MB forks 4 children that sleep holding its pages, shared
/// (PyTorch's DataLoader workers do so): resident memory counts them once per process (1.5 GB);
/// proportional shares count them once.
#[test]
fn shared_pages_of_forked_children_count_once() {
    let exp = Exp::new(
        r#"
[experiment]
name = "shared"
command = "python3 share4.py"
"#,
    );
    exp.write(
        "share4.py",
        r#"import os, time
block = bytearray(300 << 20)
for i in range(0, len(block), 4096):
    block[i] = 1  # every page resident, then shared by the children
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        time.sleep(4)
        os._exit(0 if len(block) else 1)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"#,
    );
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    let rows = resources(&exp);
    let r = &rows[0].1;
    // The parent's own RSS (`wait4`) may be a little above the PSS sum: then it is the figure.
    assert!(
        ["sampled pss", "wait4"].contains(&r["rss_source"].as_str().unwrap()),
        "{r}"
    );
    assert!(
        r["samples"].as_u64().unwrap() >= 2,
        "seen with its children: {r}"
    );
    let peak = r["peak_tree_rss_kb"].as_u64().unwrap();
    let mb = 1024;
    assert!(
        (300 * mb..600 * mb).contains(&peak),
        "300 MB counted once, not per process: {peak} KiB; {r}"
    );
}
