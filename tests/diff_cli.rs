//! Issue 12: `labtrail diff A B` with the real binary on archive JSON files (as copied off a
//! cluster): exit 0 same, 1 different, 2 error; text, Markdown and JSON output.

mod common;

use common::Exp;
use serde_json::{json, Value};

/// The committed sample archive (`labtrail.archive/1`, a two-stage run).
const SAMPLE: &str = include_str!("fixtures/archive_run.json");

fn sample() -> Value {
    serde_json::from_str(SAMPLE).expect("the fixture is JSON")
}

/// An experiment folder holding `a.json` and `b.json`.
fn files(a: &Value, b: &Value) -> Exp {
    let exp = Exp::new("");
    exp.write("a.json", &serde_json::to_string_pretty(a).expect("json"));
    exp.write("b.json", &serde_json::to_string_pretty(b).expect("json"));
    exp
}

/// B: a new learning rate, a better loss for one task, torch upgraded.
fn changed() -> Value {
    let mut b = sample();
    b["summary"]["run_id"] = json!("20261130-100000-bbbb");
    b["config"]["flat"]["params.lr"] = json!("0.2");
    b["tasks"][0]["metrics"][0]["best"] = json!(0.40);
    b["provenance"]["value"]["packages"]["value"]["all"][1]["version"] = json!("2.4.0");
    b
}

/// Issue 12: two archives of the same content, differing only in volatile fields (when written,
/// job ids, nodes, start times), are the same: exit 0.
#[test]
fn same_runs_exit_0() {
    let a = sample();
    let mut b = sample();
    b["generated_at"] = json!("2026-12-24T00:00:00Z");
    b["tasks"][0]["job_id"] = json!("987654");
    b["tasks"][0]["node"] = json!("node99");
    b["tasks"][1]["started_at"] = json!("2026-12-24T00:00:01Z");
    b["provenance"]["value"]["captured_at"] = json!("2026-12-24T00:00:00Z");
    let exp = files(&a, &b);
    let out = exp.run(&["diff", "a.json", "b.json"]);
    assert_eq!(out.code(), 0, "{}{}", out.stdout(), out.stderr());
    assert!(out.stdout().contains("no differences"), "{}", out.stdout());
    let all = exp.run(&["diff", "a.json", "b.json", "--all"]);
    assert_eq!(all.code(), 0, "{}", all.stderr());
    assert!(all.stdout().contains("= params.lr"), "{}", all.stdout());
}

/// Issue 12: different runs exit 1, in each format.
#[test]
fn different_runs_exit_1_in_every_format() {
    let exp = files(&sample(), &changed());
    let text = exp.run(&["diff", "a.json", "b.json"]);
    assert_eq!(text.code(), 1, "{}", text.stderr());
    let stdout = text.stdout();
    assert!(stdout.contains("~ params.lr"), "{stdout}");
    assert!(
        stdout.contains("~ torch  2.3.0 → 2.4.0  upgraded"),
        "{stdout}"
    );
    assert!(stdout.contains("better"), "{stdout}");
    assert!(
        !stdout.contains("environment"),
        "only what differs: {stdout}"
    );

    let md = exp.run(&["diff", "a.json", "b.json", "--format", "md"]);
    assert_eq!(md.code(), 1, "{}", md.stderr());
    assert!(md.stdout().contains("### packages"), "{}", md.stdout());
    assert!(
        md.stdout()
            .contains("| torch | changed | 2.3.0 | 2.4.0 | upgraded |"),
        "{}",
        md.stdout()
    );

    let js = exp.run(&["diff", "a.json", "b.json", "--format", "json"]);
    assert_eq!(js.code(), 1, "{}", js.stderr());
    let diff: Value = serde_json::from_str(&js.stdout()).expect("diff json");
    let names: Vec<&str> = diff["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["config", "packages", "metrics"]);
    assert_eq!(diff["a"], "a.json");

    let tolerant = exp.run(&[
        "diff",
        "a.json",
        "b.json",
        "--tolerance",
        "0.1",
        "--format",
        "json",
    ]);
    let diff: Value = serde_json::from_str(&tolerant.stdout()).expect("diff json");
    assert!(
        !diff["sections"]
            .as_array()
            .expect("sections")
            .iter()
            .any(|s| s["name"] == "metrics"),
        "0.42 → 0.40 is within 10 %: {diff}"
    );
}

/// Issue 12: a file that is not a labtrail archive, a missing file, an unknown run id, or a bad
/// tolerance is an error naming it: exit 2, never 0 or 1.
#[test]
fn bad_input_exits_2_naming_it() {
    let mut wrong = sample();
    wrong["schema"] = json!("labtrail.archive/9");
    let exp = files(&sample(), &wrong);
    let out = exp.run(&["diff", "a.json", "b.json"]);
    assert_eq!(out.code(), 2, "{}", out.stdout());
    assert!(
        out.stderr()
            .contains("b.json has schema `labtrail.archive/9`, not `labtrail.archive/1`"),
        "{}",
        out.stderr()
    );

    exp.write("c.json", r#"{"results": []}"#);
    let out = exp.run(&["diff", "a.json", "c.json"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr().contains("c.json has no `schema` field"),
        "{}",
        out.stderr()
    );

    let out = exp.run(&["diff", "a.json", "missing.json"]);
    assert_eq!(out.code(), 2);
    assert!(out.stderr().contains("missing.json"), "{}", out.stderr());

    let out = exp.run(&["diff", "a.json", "a.json", "--tolerance=-1"]);
    assert_eq!(out.code(), 2);
    assert!(out.stderr().contains("--tolerance"), "{}", out.stderr());

    exp.write(
        "exp.toml",
        "[experiment]\nname = \"one\"\ncommand = \"true\"\n",
    );
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    let out = exp.run(&["diff", "a.json", "no-such-run"]);
    assert_eq!(out.code(), 2, "{}", out.stdout());
    assert!(out.stderr().contains("no-such-run"), "{}", out.stderr());
}

/// Issue 12: two runs of the same trivial experiment are the same, though their sub-second
/// times differ by far more than 10 % (here: the second run's task waits half a second longer,
/// the jitter a loaded machine gives): resource figures need an absolute floor (1 s, 16 MiB),
/// in `labtrail diff` and in the archive's "changes vs previous".
#[test]
fn two_runs_of_a_trivial_experiment_differing_only_in_timing_noise_are_the_same() {
    let exp = Exp::new("");
    let jitter = "if [ -e jittered ]; then sleep 0.5; else touch jittered; sleep 0.05; fi";
    exp.write("jitter.sh", jitter);
    let dir = exp.path().display().to_string();
    exp.write(
        "exp.toml",
        &format!("[experiment]\nname = \"trivial\"\ncommand = \"cd {dir} && sh jitter.sh\"\n"),
    );
    exp.run_ok(&["run", "exp.toml", "--id", "one", "--no-progress"]);
    exp.run_ok(&["run", "exp.toml", "--id", "two", "--no-progress"]);
    let out = exp.run(&["diff", "one", "two"]);
    assert_eq!(out.code(), 0, "{}{}", out.stdout(), out.stderr());

    let json = exp
        .run_ok(&["archive", "--run", "two", "--format", "json"])
        .stdout();
    let archive: Value = serde_json::from_str(&json).expect("archive json");
    let changes = &archive["changes"]["value"];
    assert_eq!(changes["previous_run_id"], "one", "{archive}");
    assert!(
        !changes["diff"]["sections"]
            .as_array()
            .expect("sections")
            .iter()
            .any(|s| s["name"] == "resources"),
        "{changes}"
    );
}
