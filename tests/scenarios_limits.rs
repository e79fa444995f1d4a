//! Issue 9: a task that makes its result or metrics file huge (`truncate -s 2G`, sparse: no
//! disk used) costs the runner a `fstat` and a bounded read, not gigabytes of memory.

mod common;
use common::*;

/// The metrics records stored, in order.
fn stored_metrics(exp: &Exp) -> Vec<String> {
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let mut query = db
        .prepare("SELECT record FROM metrics ORDER BY line")
        .unwrap();
    let rows = query.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// Issue 9: a result file over the limit fails the attempt, unread, with a reason that names
/// the file, its size and the limit; the run ends.
#[test]
fn a_result_file_over_the_limit_fails_the_attempt_unread() {
    let exp = Exp::new(
        r#"
[experiment]
name = "bigresult"
command = "truncate -s 2G \"$LABTRAIL_RESULT\""
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let task = &exp.tasks()[0];
    assert_eq!(task["state"], "failed", "{task}");
    let reason = task["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("result file ")
            && reason.contains("result.json is 2147483648 bytes (2.0 GiB), over the limit of 16777216 bytes (16.0 MiB)"),
        "{reason}"
    );
}

/// Issue 9: a metrics file over the limit is read up to it: its lines before the limit are
/// kept, the rest is skipped with a warning naming the file, its size and the limit; a line
/// over the line limit (2 MiB here) is skipped and counted, the lines around it kept; the line
/// the limit cuts (2 GB of zeros) is part of the rest.
#[test]
fn a_metrics_file_over_the_limits_keeps_what_fits() {
    let exp = Exp::new(
        r#"
[experiment]
name = "bigmetrics"
command = "sh write.sh"
"#,
    );
    exp.write(
        "write.sh",
        r#"
m="$LABTRAIL_METRICS"
echo '{"step": 1}' > "$m"
head -c 2097152 /dev/zero | tr '\0' 'a' >> "$m"
printf '\n{"step": 2}\n' >> "$m"
truncate -s 2G "$m"
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.tasks()[0]["state"], "done");
    assert_eq!(stored_metrics(&exp), [r#"{"step":1}"#, r#"{"step":2}"#]);
    let events = exp.run(&["events"]).stdout();
    assert!(
        events.contains("1 metrics line skipped in ")
            && events.contains(".metrics.jsonl: line 2: longer than the limit of 1048576 bytes (1.0 MiB)")
            && events.contains(".metrics.jsonl is 2147483648 bytes (2.0 GiB), over the limit of 67108864 bytes (64.0 MiB)"),
        "{events}"
    );
}
