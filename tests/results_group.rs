//! Issue 14: `labtrail results --group-by` on a real run: statistics over the seeds, never
//! mixing stages, NaN counted rather than averaged, sorting, and clear refusals.

mod common;
mod results_common;
use common::*;
use results_common::*;
use serde_json::{json, Value};

fn json_of(exp: &Exp, args: &[&str]) -> Value {
    serde_json::from_str(&exp.run_ok(args).stdout()).expect("JSON")
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

/// Issue 14: `--group-by rep,layers --stage train` gives one group per (rep, layers) in plan
/// order, with the mean, the sample standard deviation (n-1) and the count of each numeric
/// result key over the 3 seeds; the group's parameters are its keys.
#[test]
fn groups_aggregate_over_the_remaining_parameters() {
    let exp = ran();
    let groups = json_of(
        &exp,
        &[
            "results",
            "--group-by",
            "rep,layers",
            "--stage",
            "train",
            "--format",
            "json",
        ],
    );
    let groups = groups.as_array().unwrap();
    let keys: Vec<&Value> = groups.iter().map(|g| &g["group"]).collect();
    assert_eq!(
        keys,
        [
            &json!({"rep": "stats", "layers": "low"}),
            &json!({"rep": "stats", "layers": "all"}),
            &json!({"rep": "spectral", "layers": "low"}),
            &json!({"rep": "spectral", "layers": "all"}),
        ]
    );
    let acc = &groups[0]["results"]["val_acc"];
    assert!(close(&acc["mean"], 0.82), "{acc}");
    assert!(close(&acc["std"], 0.02), "sample std, n-1: {acc}");
    assert_eq!((&acc["count"], &groups[0]["tasks"]), (&json!(3), &json!(3)));
    assert_eq!(groups[0]["stage"], "train");
    let loss = &groups[2]["results"]["loss"];
    assert!(
        close(&loss["mean"], 1.0) && close(&loss["std"], 1.0),
        "{loss}"
    );
    // Text is not a number: `note` is not aggregated; `tag` (one number, two strings) is, over
    // the one number, the strings counted as missing.
    assert!(groups[0]["results"].get("note").is_none());
    let tag = &groups[0]["results"]["tag"];
    assert_eq!((&tag["count"], &tag["missing"]), (&json!(1), &json!(2)));
    assert!(
        tag["std"].is_null(),
        "the std of one value is undefined: {tag}"
    );
}

/// Issue 14: a diverged seed's `NaN` is not averaged in (that would make the mean NaN and hide
/// the other seeds) nor silently dropped: it is counted in `nonfinite`, a column of its own in
/// a table, and said on stderr.
#[test]
fn nan_values_are_counted_apart_not_averaged() {
    let exp = ran();
    let groups = json_of(
        &exp,
        &[
            "results",
            "--group-by",
            "rep,layers",
            "--stage",
            "train",
            "--format",
            "json",
        ],
    );
    let acc = &groups[3]["results"]["val_acc"];
    assert!(close(&acc["mean"], 0.92), "{acc}");
    assert_eq!((&acc["count"], &acc["nonfinite"]), (&json!(2), &json!(1)));
    let out = exp.run_ok(&[
        "results",
        "--group-by",
        "rep,layers",
        "--stage",
        "train",
        "--format",
        "csv",
    ]);
    let header = out.stdout().lines().next().unwrap().to_string();
    assert_eq!(
        header,
        "rep,layers,tasks,val_acc:mean,val_acc:std,val_acc:count,val_acc:nonfinite,loss:mean,loss:std,loss:count,tag:mean,tag:std,tag:count"
    );
    assert!(
        out.stdout().lines().nth(4).unwrap().contains(",2,1,"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stderr()
            .contains("val_acc: 1 NaN or infinite value(s) left out"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("not aggregated (no numbers): note"),
        "{}",
        out.stderr()
    );
}

/// Issue 14: without `--stage`, tasks of different stages are never in one group: each stage
/// has its own groups (the stage is a column), and the reader is told how to pick one.
#[test]
fn stages_are_never_mixed() {
    let exp = ran();
    let out = exp.run_ok(&["results", "--group-by", "rep", "--format", "csv"]);
    let stdout = out.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("stage,rep,tasks,"), "{}", lines[0]);
    let firsts: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        firsts,
        [
            "train,stats,6",
            "train,spectral,6",
            "report,stats,1",
            "report,spectral,1"
        ]
    );
    assert!(
        out.stderr()
            .contains("groups are per stage (train, report)"),
        "{}",
        out.stderr()
    );
    let report = json_of(
        &exp,
        &[
            "results",
            "--group-by",
            "rep",
            "--stage",
            "report",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        report[0]["results"],
        json!({"pages": {"mean": 2.0, "std": null, "count": 1, "nonfinite": 0, "missing": 0}})
    );
}

/// Issue 14: `--sort val_acc --desc` sorts groups by the mean (`val_acc:std` by the std), a
/// group without a value last; `--agg` picks the statistics, in the order given.
#[test]
fn sort_by_a_statistic_and_choose_the_statistics() {
    let exp = ran();
    let args = [
        "results",
        "--group-by",
        "rep,layers",
        "--stage",
        "train",
        "--format",
        "csv",
    ];
    let first_columns = |extra: &[&str]| -> Vec<String> {
        let out = exp.run_ok(&[&args[..], extra].concat());
        out.stdout()
            .lines()
            .map(|l| l.split(',').take(2).collect::<Vec<_>>().join("/"))
            .collect()
    };
    assert_eq!(
        first_columns(&["--sort", "val_acc", "--desc"]),
        [
            "rep/layers",
            "spectral/all",
            "stats/low",
            "stats/all",
            "spectral/low"
        ]
    );
    assert_eq!(
        first_columns(&["--sort", "val_acc:std"]),
        [
            "rep/layers",
            "spectral/low",
            "stats/all",
            "stats/low",
            "spectral/all"
        ]
    );
    let out = exp.run_ok(&[&args[..], &["--agg", "min,max,count", "--sort", "rep"]].concat());
    let stdout = out.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("rep,layers,tasks,val_acc:min,val_acc:max,val_acc:count,"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], "spectral,low,3,0.6,0.6,3,0,0.0,2.0,3,,,0");
    assert_eq!(lines[3], "stats,low,3,0.8,0.84,3,0,0.0,2.0,3,7.0,7.0,1");
}

/// Issue 14: what cannot be answered is refused with exit code 2, saying what there is.
#[test]
fn unknown_names_are_refused_with_what_there_is() {
    let exp = ran();
    let refused = |args: &[&str], says: &str| {
        let out = exp.run(args);
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr());
        assert!(out.stderr().contains(says), "{args:?}: {}", out.stderr());
    };
    refused(
        &["results", "--group-by", "rep,lr"],
        "--group-by lr: no done task of run",
    );
    refused(
        &["results", "--group-by", "lr"],
        "parameters: rep, layers, seed, epochs",
    );
    refused(
        &["results", "--group-by", "rep", "--sort", "acc"],
        "--sort acc: no such column; sort by one of: stage, rep, tasks, val_acc:mean",
    );
    refused(&["results", "--stage", "eval"], "its stages: train, report");
    refused(&["results", "--agg", "mean"], "--agg needs --group-by");
    refused(&["results", "--desc"], "--sort");
    refused(
        &["results", "--group-by", "rep", "--agg", "median"],
        "possible values: mean, std, sem, min, max, count",
    );
}

/// Issue 14: every example of `results --help` works on the demo (its own comment's
/// `--group-by rep,layers` among them), and the demo's 2 seeds make one group per rep and
/// layer set.
#[test]
fn help_examples_work_on_the_demo() {
    let exp = Exp::new("");
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    for f in ["experiment.toml", "demo_task.py"] {
        std::fs::copy(demo.join(f), exp.file(f)).unwrap();
    }
    exp.run_ok(&["run", "experiment.toml", "--no-progress"]);
    let help = exp.run_ok(&["results", "--help"]).stdout();
    let examples: Vec<&str> = help
        .lines()
        .filter_map(|l| l.trim().strip_prefix("labtrail results"))
        .map(|l| l.split(['#', '>', '|']).next().unwrap().trim())
        .collect();
    assert!(examples.len() >= 5, "{help}");
    for e in examples {
        let e = e.replace("exp.toml", "experiment.toml");
        let mut args = vec!["results"];
        args.extend(e.split_whitespace());
        let out = exp.run(&args);
        assert_eq!(out.code(), 0, "`labtrail results {e}`: {}", out.stderr());
        assert!(
            !out.stdout().is_empty(),
            "`labtrail results {e}` printed nothing"
        );
    }
    let groups = json_of(
        &exp,
        &[
            "results",
            "experiment.toml",
            "--group-by",
            "rep,layers",
            "--stage",
            "train",
        ],
    );
    let counts: Vec<&Value> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["results"]["val_acc"]["count"])
        .collect();
    assert_eq!(counts, [&json!(2); 4]);
}
