//! Issue 15: `results`, `tasks` and `status` write rows as they read them (and `status` counts
//! in SQL) instead of loading the run; what they print stays byte for byte what the loaded
//! forms print. A run of 31 tasks in two stages, with failures, blocked tasks, results of every
//! shape and tasks that left the plan; each streamed output is compared with the output of the
//! loaded path the library keeps (`Results::load` + `view::write`, `Store::tasks`).

mod common;
use common::*;
use labtrail::report::results::view::{self, Layout, Query};
use labtrail::report::results::Results;
use labtrail::store::{Store, TaskState};

const EXP: &str = r#"
[experiment]
name = "stream"
[params]
opt = ["adam", "sgd", "rms", "old"]
seed = { range = [0, 7] }
[[stage]]
name = "train"
command = "sh train.sh {opt} {seed}"
[[stage]]
name = "report"
params = ["opt"]
command = "echo '{\"pages\": 2}' > \"$LABTRAIL_RESULT\""
"#;

/// Results of every shape: an object (with text that CSV quotes, a field named like a
/// parameter), a number, `null`, nothing, a `NaN`;
/// sgd/6 fails (its report is blocked).
const TRAIN: &str = r#"
case "$1-$2" in
sgd-6) echo "diverged at step 3" >&2; exit 1 ;;
*-5) echo 3 > "$LABTRAIL_RESULT" ;;
*-4) echo null > "$LABTRAIL_RESULT" ;;
*-3) ;;
rms-2) echo '{"acc": NaN, "note": "nan"}' > "$LABTRAIL_RESULT" ;;
*) printf '{"acc": 0.%s, "note": "a,\\"%s\\"\\nz", "%s": 1, "seed": "s"}\n' "$2" "$1" "$1" > "$LABTRAIL_RESULT" ;;
esac
"#;

/// The run: 4 optimisers × 7 seeds + 4 reports, then `old` leaves the plan (its 8 tasks are
/// kept, out of the plan): 21 + 3 tasks in the plan.
fn ran() -> Exp {
    let exp = Exp::new(EXP);
    exp.write("train.sh", TRAIN);
    assert_eq!(exp.run(&["run", "exp.toml", "--no-progress"]).code(), 1);
    exp.write("exp.toml", &EXP.replace(r#", "old"]"#, "]"));
    assert_eq!(exp.run(&["run", "exp.toml", "--no-progress"]).code(), 1);
    exp
}

fn store(exp: &Exp) -> Store {
    Store::open_read_only(&exp.path().join(".labtrail")).unwrap()
}

/// What the loaded path writes for `query` in `layout`, of `stage` or every stage.
fn loaded(exp: &Exp, stage: Option<&str>, query: &Query, layout: Layout) -> String {
    let store = store(exp);
    let mut results = Results::load(&store, None).unwrap();
    if let Some(stage) = stage {
        results.only_stage(&store, stage).unwrap();
    }
    let mut out = Vec::new();
    view::write(&results, query, layout, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Issue 15: CSV, JSON and JSON lines of every done task, of one stage, and grouped, are what
/// the loaded path writes; the shapes are pinned on the way (CSV's columns, JSON's indent).
#[test]
fn results_stream_what_the_loaded_path_writes() {
    let exp = ran();
    let plain = Query::default();
    let cases: [(&[&str], Option<&str>, Layout); 5] = [
        (&["--format", "csv"], None, Layout::Csv),
        (&["--format", "json"], None, Layout::Json),
        (&["--format", "jsonl"], None, Layout::Jsonl),
        (
            &["--format", "csv", "--stage", "report"],
            Some("report"),
            Layout::Csv,
        ),
        (&["--stage", "train"], Some("train"), Layout::Json),
    ];
    for (args, stage, layout) in cases {
        let out = exp.run_ok(&[&["results"], args].concat()).stdout();
        assert_eq!(out, loaded(&exp, stage, &plain, layout), "results {args:?}");
    }
    let csv = exp.run_ok(&["results", "--format", "csv"]).stdout();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("key,stage,opt,seed,acc,note,adam,result.seed,sgd,rms,pages,result")
    );
    assert!(csv.contains(",\"a,\"\"sgd\"\"\nz\","), "{csv}");
    let json = exp.run_ok(&["results"]).stdout();
    assert!(json.starts_with("[\n  {\n    \"key\": \""), "{json}");
    assert!(json.ends_with("\n  }\n]\n"), "{json}");

    let grouped = Query {
        group_by: vec!["opt".into()],
        ..Query::default()
    };
    for (format, layout) in [
        ("json", Layout::Json),
        ("csv", Layout::Csv),
        ("jsonl", Layout::Jsonl),
    ] {
        let args = ["results", "--group-by", "opt", "--format", format];
        let out = exp.run_ok(&args).stdout();
        assert_eq!(out, loaded(&exp, None, &grouped, layout), "{args:?}");
    }
}

/// Issue 15: the per-task table (`--format table`, cut to `COLUMNS` or not) and Markdown,
/// of every stage and of one, are written in two passes (the columns and their widths, then
/// the rows) and are what the loaded path writes: same columns, widths, alignment and cuts
/// (tests/results_formats.rs pins the constant parameters left out and named on stderr).
#[test]
fn the_task_table_and_markdown_stream_what_the_loaded_path_writes() {
    let exp = ran();
    let plain = Query::default();
    for stage in [None, Some("train"), Some("report")] {
        let only: Vec<&str> = stage.iter().flat_map(|s| ["--stage", *s]).collect();
        for (format, layout, columns) in [
            ("md", Layout::Markdown, None),
            ("table", Layout::Table(None), None),
            ("table", Layout::Table(Some(40)), Some("40")),
        ] {
            let args = [&["results", "--format", format][..], &only].concat();
            let mut cmd = exp.cmd(&args);
            match columns {
                Some(c) => cmd.env("COLUMNS", c),
                None => cmd.env_remove("COLUMNS"),
            };
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "{args:?}");
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert_eq!(stdout, loaded(&exp, stage, &plain, layout), "{args:?}");
        }
    }
    let md = exp.run_ok(&["results", "--format", "md", "--stage", "train"]);
    assert!(
        md.stdout().starts_with("| opt | seed | acc | note | adam | result.seed | result | sgd | rms |\n| --- | ---: | ---: | --- |"),
        "{}",
        md.stdout()
    );
}

/// Issue 15: `--sort` without `--group-by` reads the records back in sorted order instead of
/// holding them, and writes in every format what the loaded path writes: numbers by value,
/// ties in plan order, `NaN` after the numbers, texts after them, missing values last (both
/// ways), each stage's rows together, `result.KEY` and the stage as columns.
#[test]
fn sorted_results_stream_what_the_loaded_path_writes() {
    let exp = ran();
    let formats = [
        ("csv", Layout::Csv),
        ("json", Layout::Json),
        ("jsonl", Layout::Jsonl),
        ("md", Layout::Markdown),
        ("table", Layout::Table(None)),
    ];
    for column in [
        "acc",
        "note",
        "seed",
        "result.seed",
        "result",
        "stage",
        "opt",
    ] {
        for desc in [false, true] {
            for stage in [None, Some("train")] {
                for (format, layout) in formats {
                    let mut args = vec!["results", "--format", format, "--sort", column];
                    args.extend(desc.then_some("--desc"));
                    args.extend(stage.iter().flat_map(|s| ["--stage", *s]));
                    let out = exp.cmd(&args).env_remove("COLUMNS").output().unwrap();
                    let query = Query {
                        sort: Some(column.to_string()),
                        desc,
                        ..Query::default()
                    };
                    if column == "stage" && stage.is_some() {
                        assert_eq!(out.status.code(), Some(2), "{args:?}: one stage, no column");
                        continue;
                    }
                    assert!(out.status.success(), "{args:?}");
                    let stdout = String::from_utf8(out.stdout).unwrap();
                    assert_eq!(stdout, loaded(&exp, stage, &query, layout), "{args:?}");
                }
            }
        }
    }
    let out = exp.run(&["results", "--sort", "nope"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr().contains("--sort nope: no such column"),
        "{}",
        out.stderr()
    );
}

/// Issue 15: a run with no done task streams what the loaded path wrote: `[]`, a bare header.
#[test]
fn results_of_no_done_task_are_an_empty_array_and_a_header() {
    let exp = Exp::new(EXP);
    exp.write("train.sh", "exit 1");
    assert_eq!(exp.run(&["run", "exp.toml", "--no-progress"]).code(), 1);
    assert_eq!(exp.run_ok(&["results"]).stdout(), "[]\n");
    assert_eq!(
        exp.run_ok(&["results", "--format", "csv"]).stdout(),
        "key,stage\n"
    );
    assert_eq!(exp.run_ok(&["results", "--format", "jsonl"]).stdout(), "");
}

/// Issue 15: `tasks --json` (all, and by state) is the pretty array of the stored tasks, and
/// the text table is aligned on every row, with the failed task's error line.
#[test]
fn tasks_stream_what_the_loaded_path_writes() {
    let exp = ran();
    let store = store(&exp);
    let run = store.resolve_run(None).unwrap();
    for state in [
        None,
        Some(TaskState::Failed),
        Some(TaskState::Done),
        Some(TaskState::Blocked),
    ] {
        let mut args = vec!["tasks", "--json"];
        args.extend(state.iter().flat_map(|s| ["--state", s.as_str()]));
        let expected = serde_json::to_string_pretty(&store.tasks(&run, state).unwrap()).unwrap();
        assert_eq!(
            exp.run_ok(&args).stdout(),
            format!("{expected}\n"),
            "{args:?}"
        );
    }

    let tasks = store.tasks(&run, None).unwrap();
    assert_eq!(tasks.len(), 24, "old's tasks left the plan");
    let rows: Vec<[String; 5]> = tasks
        .iter()
        .map(|t| {
            let mut reason = t.reason.clone().unwrap_or_default();
            if t.state == TaskState::Failed {
                reason = format!("{reason}: diverged at step 3");
            }
            let row = [
                &t.key,
                t.state.as_str(),
                &t.attempts.to_string(),
                &t.label,
                &reason,
            ];
            row.map(|c| c.to_string())
        })
        .collect();
    let header = ["KEY", "STATE", "ATTEMPTS", "LABEL", "REASON"].map(String::from);
    let width = |c: usize| {
        let cells = std::iter::once(&header).chain(&rows);
        cells.map(|r| r[c].chars().count()).max().unwrap()
    };
    let widths: Vec<usize> = (0..4).map(width).collect();
    let line = |r: &[String; 5]| {
        let padded: Vec<String> = (0..4)
            .map(|c| format!("{:<w$}", r[c], w = widths[c]))
            .collect();
        format!("{}  {}", padded.join("  "), r[4])
            .trim_end()
            .to_string()
            + "\n"
    };
    let expected: String = std::iter::once(&header).chain(&rows).map(line).collect();
    assert_eq!(exp.run_ok(&["tasks"]).stdout(), expected);
    assert!(expected.contains("failed"), "{expected}");
    assert!(expected.contains(": diverged at step 3\n"), "{expected}");
}

/// Issue 15: `status` counts in SQL: per state, per stage (plan order), per group of the
/// parameter with fewest values, without the tasks that left the plan.
#[test]
fn status_counts_states_stages_and_groups_of_the_plan() {
    let exp = ran();
    let json: serde_json::Value =
        serde_json::from_str(&exp.run_ok(&["status", "--json"]).stdout()).unwrap();
    let counts = |total, done, failed, blocked| {
        serde_json::json!({"total": total, "done": done, "running": 0, "pending": 0,
            "failed": failed, "interrupted": 0, "blocked": blocked})
    };
    assert_eq!(json["counts"], counts(24, 22, 1, 1));
    let stages = &json["stages"];
    assert_eq!(
        stages.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["train", "report"]
    );
    assert_eq!(stages["train"], counts(21, 20, 1, 0));
    assert_eq!(stages["report"], counts(3, 2, 0, 1));
    assert_eq!(json["group_by"], serde_json::json!(["opt"]));
    let groups = json["groups"].as_object().unwrap();
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["opt=adam", "opt=sgd", "opt=rms"]
    );
    assert_eq!(groups["opt=sgd"], counts(8, 6, 1, 1));
    assert_eq!(groups["opt=adam"], counts(8, 8, 0, 0));

    let by_seed = exp
        .run_ok(&["status", "--by", "seed", "--by", "opt", "--json"])
        .stdout();
    let by_seed: serde_json::Value = serde_json::from_str(&by_seed).unwrap();
    let groups = by_seed["groups"].as_object().unwrap();
    assert_eq!(
        groups.len(),
        3 * 7 + 3,
        "train tasks by seed and opt, reports by opt"
    );
    assert_eq!(groups["seed=6 opt=sgd"], counts(1, 0, 1, 0));
    assert_eq!(groups["opt=sgd"], counts(1, 0, 0, 1));

    let text = exp.run(&["status"]).stdout();
    assert!(
        text.starts_with("run ") && text.contains(": 22/24 done, 1 failed, 1 blocked (91.7%)\n"),
        "{text}"
    );
    assert!(text.contains("  stage train"), "{text}");
    assert!(
        text.contains("  opt=sgd   6/8 done, 1 failed, 1 blocked\n"),
        "{text}"
    );
}
