//! Issue 12: `labtrail archive` over real runs made by the binary: the three formats, the
//! seed-004 sections and checklist, determinism, runs without provenance, the previous run
//! picked for "changes vs previous", the committed JSON Schema, and the repro script.

mod common;

use common::Exp;
use labtrail::report::archive::markdown::SECTIONS;
use labtrail::report::archive::model::Archive;

/// Two stages; `train` writes a loss curve, its `b` task fails once then succeeds (a retry),
/// its `c` task always fails (so `eval/c` is blocked); `eval` writes an `eval` result and a
/// `data_copy` section. `DIR` is replaced by the experiment folder.
const TWO_STAGES: &str = r#"
[experiment]
name = "arch"
[params]
rep = ["a", "b", "c"]
[run]
retries = 1
backoff = "0s"
workers = 2
[[stage]]
name = "train"
command = "sh DIR/train.sh {rep}"
[[stage]]
name = "eval"
command = "sh DIR/eval.sh {rep}"
"#;

const TRAIN: &str = r#"rep=$1
i=1
while [ $i -le 40 ]; do
  echo "{\"step\": $i, \"loss\": $((100 - i)), \"acc\": $i}" >> "$LABTRAIL_METRICS"
  i=$((i + 1))
done
if [ "$rep" = b ] && [ ! -e "$LABTRAIL_TASK_DIR/once" ]; then touch "$LABTRAIL_TASK_DIR/once"; echo "first try fails" >&2; exit 1; fi
if [ "$rep" = c ]; then echo "RuntimeError: c never works" >&2; exit 2; fi
echo '{"final": 1}' > "$LABTRAIL_RESULT"
"#;

const EVAL: &str = r#"cat > "$LABTRAIL_RESULT" <<END
{"eval": {"datasets": ["dev"], "results": {"acc": 0.5}, "script": {"path": "eval.sh"}},
 "archive": {"data_copy": [{"source": "raw/$1", "destination": "pool/$1", "files_copied": 3, "files_skipped": 1}]}}
END
"#;

/// Writes the two-stage experiment (its scripts by absolute path) and its scripts.
fn two_stage_exp() -> Exp {
    let exp = Exp::new("");
    exp.write("train.sh", TRAIN);
    exp.write("eval.sh", EVAL);
    let toml = TWO_STAGES.replace("DIR", &exp.path().display().to_string());
    exp.write("exp.toml", &toml);
    exp
}

/// The two-stage experiment, run once as run `first` (exit 1: a task failed for good).
fn two_stage_run() -> Exp {
    let exp = two_stage_exp();
    let out = exp.run(&["run", "exp.toml", "--id", "first"]);
    assert_eq!(out.code(), 1, "one task fails for good: {}", out.stderr());
    exp
}

fn archive(exp: &Exp, args: &[&str]) -> String {
    let mut all = vec!["archive"];
    all.extend_from_slice(args);
    exp.run_ok(&all).stdout()
}

fn parse(json: &str) -> Archive {
    labtrail::report::archive::json::parse(json).expect("the JSON archive parses back")
}

/// Issue 12: Markdown, JSON and HTML of a real 2-stage run with a failure and a retry, the
/// files written with -o; the JSON reads back into an `Archive` holding what the run did.
#[test]
fn all_three_formats_of_a_two_stage_run_with_a_failure_and_a_retry() {
    let exp = two_stage_run();
    for (format, file) in [("md", "a.md"), ("json", "a.json"), ("html", "a.html")] {
        exp.run_ok(&["archive", "--format", format, "-o", file]);
        assert!(exp.file(file).metadata().unwrap().len() > 500, "{file}");
    }
    let md = std::fs::read_to_string(exp.file("a.md")).unwrap();
    let strip = |s: &str| s.replace(|c: char| c.is_ascii_digit(), "");
    assert_eq!(
        strip(&md),
        strip(&archive(&exp, &[])),
        "md is the default, to stdout"
    );
    let a = parse(&std::fs::read_to_string(exp.file("a.json")).unwrap());
    assert_eq!(a.schema, "labtrail.archive/1");
    assert_eq!(a.summary.run_id, "first");
    assert_eq!(a.summary.status, "failed");
    let counts: Vec<(&str, u64)> = a
        .summary
        .counts
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(counts, [("blocked", 1), ("done", 4), ("failed", 1)]);
    let names: Vec<&str> = a.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["train", "eval"]);
    assert_eq!(a.stages[0].retries, 2, "b retried once, c retried once");
    assert_eq!(a.stages[0].status, "failed");
    let b = a.tasks.iter().find(|t| t.label == "train/rep=b").unwrap();
    assert_eq!((b.state.as_str(), b.attempts), ("done", 2));
    let c = a.summary.first_failure.as_ref().expect("a first failure");
    assert_eq!(c.label, "train/rep=c");
    // Curves: the headline key (loss) of each task of train that wrote metrics.
    let curves: Vec<(&str, &str, usize)> = a
        .curves
        .iter()
        .map(|c| (c.label.as_str(), c.key.as_str(), c.points.len()))
        .collect();
    assert_eq!(
        curves,
        [
            ("train/rep=a", "loss", 40),
            ("train/rep=b", "loss", 40),
            ("train/rep=c", "loss", 40)
        ]
    );
    assert_eq!(a.curves[0].points[0], (1.0, 99.0));
    assert_eq!(a.task_sections["data_copy"].len(), 2, "eval/a and eval/b");
    assert!(md.contains("| raw/a | pool/a | 3 | 1 |"), "{md}");
    assert!(md.contains("datasets: [\"dev\"]"), "{md}");
    assert!(
        md.contains("| train/rep=c | train | failed | 2 |"),
        "failures first: {md}"
    );
    let html = std::fs::read_to_string(exp.file("a.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("first"));
    assert!(!html.contains("<script"), "no JavaScript");
}

/// Issue 12: the Markdown has seed 004's sections in its order and every field of its
/// checklist, each with a value or `n/a (reason)`.
#[test]
fn markdown_has_every_seed_004_section_and_checklist_field() {
    let exp = two_stage_run();
    let md = archive(&exp, &[]);
    let headings: Vec<&str> = md.lines().filter_map(|l| l.strip_prefix("## ")).collect();
    assert_eq!(headings, SECTIONS);
    let seed_fields = [
        "experiment",
        "run_id",
        "status",
        "started_at",
        "finished_at",
        "duration_sec",
        "git_commit",
        "git_dirty",
        "host",
        "user",
        "os",
        "python",
        "conda_env",
        "cuda",
        "cuda_driver",
        "torch",
        "gpus",
        "pipeline_config",
        "steps_config_dir",
        "pipeline_resolved",
        "steps_resolved",
        "datapool_root",
        "workdir",
        "logs_root",
        "step_id",
        "name",
        "stage",
        "config",
        "inputs",
        "outputs",
        "params",
        "training",
        "metrics",
        "eval",
        "datasets",
        "results",
        "script",
        "logs",
        "warnings",
        "error",
        "error_stack",
        "retries",
        "prepare",
        "run",
        "env",
        "checkpoints",
        "hf_models",
        "reports",
        "train_time_sec",
        "peak_vram_gb",
        "avg_vram_gb",
        "gpu_util_avg_pct",
        "previous_run_id",
        "config_diff",
    ];
    for f in seed_fields {
        let there = md.lines().any(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            l.starts_with(&format!("{f}:"))
        });
        assert!(there, "field {f} missing:\n{md}");
    }
    let checklist = md.split("## Field Table (Checklist)").nth(1).unwrap();
    for (section, field) in [
        ("Summary", "run_id"),
        ("Summary", "git_commit/git_dirty"),
        ("Environment", "cuda_driver"),
        ("Dependencies", "transformers/megatron/apex/te"),
        ("Data Copy", "files_copied/files_skipped"),
        ("Steps.training", "loss/ppl/throughput/step_time"),
        ("Steps.eval", "datasets/results/script"),
        ("Artifacts", "last/best ckpt"),
        ("Resources", "peak_vram"),
        ("Changes", "config_diff"),
    ] {
        let row = checklist
            .lines()
            .find(|l| l.starts_with(&format!("| {section} | {field} |")))
            .unwrap_or_else(|| panic!("checklist row {section}/{field} missing:\n{checklist}"));
        let value = row.trim_end_matches(" |").rsplit(" | ").next().unwrap();
        assert!(!value.trim().is_empty(), "{row}");
    }
    assert!(checklist.contains("| Summary | run_id | Run identifier | first |"));
    assert!(checklist.contains(
        "| Data Copy | files_copied/files_skipped | Copy stats | 2 rows filled by tasks |"
    ));
    assert!(checklist.contains(
        "| Steps.eval | datasets/results/script | Eval context | datasets=filled, results=filled, script=filled |"
    ));
}

/// Issue 12: archiving the same run twice gives the same bytes but for `generated_at`, in
/// every format.
#[test]
fn archiving_twice_gives_the_same_bytes_but_generated_at() {
    let exp = two_stage_run();
    for format in ["md", "json", "html"] {
        let one = archive(&exp, &["--format", format]);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let two = archive(&exp, &["--format", format]);
        assert_eq!(one.lines().count(), two.lines().count(), "{format}");
        let differ: Vec<(&str, &str)> = one
            .lines()
            .zip(two.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            differ.len(),
            1,
            "{format}: exactly one line differs: {differ:?}"
        );
        let stamp = |l: &str| l.matches("2026-").count() + l.matches("20").count() > 0;
        assert!(
            stamp(differ[0].0) && stamp(differ[0].1),
            "{format}: {differ:?}"
        );
        if format == "json" {
            assert!(differ[0].0.contains("\"generated_at\""), "{differ:?}");
        }
    }
}

/// Issue 12: a run with no provenance records (every run before capture) archives, and says
/// why each captured field is missing.
#[test]
fn a_run_without_provenance_records_archives_with_na() {
    // `capture = false` leaves a run as runs were before capture existed: no provenance record.
    let exp = Exp::new(
        "[experiment]\nname = \"old\"\ncommand = \"true\"\n[params]\nx = [1]\n[archive]\ncapture = false\n",
    );
    exp.run_ok(&["run", "exp.toml"]);
    let count: Vec<i64> = exp.column("SELECT COUNT(*) FROM records WHERE kind = 'provenance'");
    assert_eq!(count, [0]);
    let md = archive(&exp, &[]);
    for field in ["git_commit", "host", "python", "cuda_driver", "gpus"] {
        assert!(
            md.contains(&format!("- {field}: n/a (no provenance recorded")),
            "{field}: {md}"
        );
    }
    assert!(md.contains("| torch | n/a (no provenance recorded"), "{md}");
    let a = parse(&archive(&exp, &["--format", "json"]));
    assert!(a.provenance.value().is_none());
    assert_eq!(a.summary.status, "success");
    assert!(a.repro.notes[0].starts_with("code state unknown"));
    assert!(
        a.repro.script.contains("\nlabtrail run "),
        "{}",
        a.repro.script
    );
}

/// Issue 12: "changes vs previous" compares with the latest earlier run of the same experiment
/// file that finished: not a newer run of another experiment, not an unfinished run.
#[test]
fn changes_vs_previous_picks_the_latest_earlier_finished_run_of_the_experiment() {
    let exp =
        Exp::new("[experiment]\nname = \"e\"\ncommand = \"echo {x}\"\n[params]\nx = [1, 2]\n");
    // The same experiment name from another file, and another experiment from the same file.
    exp.write(
        "other.toml",
        "[experiment]\nname = \"e\"\ncommand = \"true\"\n[params]\nx = [1]\n",
    );
    let renamed = "[experiment]\nname = \"o\"\ncommand = \"true\"\n[params]\nx = [1]\n";
    exp.run_ok(&["run", "exp.toml", "--id", "old"]);
    exp.run_ok(&["run", "exp.toml", "--fresh", "--id", "done-earlier"]);
    exp.run_ok(&["run", "other.toml", "--id", "other-file"]);
    std::fs::copy(exp.file("exp.toml"), exp.file("keep.toml")).unwrap();
    exp.write("exp.toml", renamed);
    exp.run_ok(&["run", "exp.toml", "--id", "other-experiment"]);
    // An unfinished run of the same experiment: its runner killed while a task works.
    exp.write(
        "slow.toml",
        "[experiment]\nname = \"e\"\ncommand = \"sleep 600\"\n[params]\nx = [1]\n",
    );
    std::fs::copy(exp.file("slow.toml"), exp.file("exp.toml")).unwrap();
    let child = exp.spawn(&["run", "exp.toml", "--fresh", "--id", "unfinished"]);
    common::wait_until(
        "the slow task runs",
        std::time::Duration::from_secs(60),
        || {
            exp.column::<String>("SELECT state FROM tasks WHERE run_id = 'unfinished'")
                == ["running"]
        },
    );
    common::signal(&child, libc::SIGKILL);
    common::finish(child);
    for pid in common::processes_of_store(&exp.file(".labtrail")) {
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    std::fs::copy(exp.file("keep.toml"), exp.file("exp.toml")).unwrap();
    exp.run_ok(&["run", "exp.toml", "--fresh", "--id", "now"]);
    let a = parse(&archive(&exp, &["--run", "now", "--format", "json"]));
    let changes = a.changes.value().expect("a previous run");
    assert_eq!(changes.previous_run_id, "done-earlier");
    assert_eq!(
        (changes.diff.a.as_str(), changes.diff.b.as_str()),
        ("done-earlier", "now")
    );
    // The first run has none before it.
    let first = parse(&archive(&exp, &["--run", "old", "--format", "json"]));
    assert!(first.changes.value().is_none());
    let md = archive(&exp, &["--run", "now"]);
    assert!(md.contains("- previous_run_id: done-earlier"), "{md}");
}

/// Issue 12: `labtrail archive --schema` prints the committed `docs/archive.schema.json`; when
/// the model changes, this fails until the file is regenerated
/// (`labtrail archive --schema > docs/archive.schema.json`).
#[test]
fn the_committed_schema_matches_the_model() {
    let exp = Exp::new("");
    let printed = exp.run_ok(&["archive", "--schema"]).stdout();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/archive.schema.json"
    ))
    .expect("docs/archive.schema.json is committed");
    assert!(
        printed == committed,
        "docs/archive.schema.json drifted: regenerate it with `labtrail archive --schema > docs/archive.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in [
        "schema",
        "generated_at",
        "summary",
        "provenance",
        "stages",
        "tasks",
        "repro",
    ] {
        assert!(required.contains(&field), "{field} required: {required:?}");
    }
}

/// Issue 12: every field the schema requires is in a real archive's JSON.
#[test]
fn a_real_archive_has_every_field_the_schema_requires() {
    let exp = two_stage_run();
    let json: serde_json::Value =
        serde_json::from_str(&archive(&exp, &["--format", "json"])).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&exp.run_ok(&["archive", "--schema"]).stdout()).unwrap();
    for field in schema["required"].as_array().unwrap() {
        assert!(json.get(field.as_str().unwrap()).is_some(), "{field}");
    }
    assert_eq!(json["schema"], "labtrail.archive/1");
}

/// Issue 12: -o refuses a folder (exit 2, naming it), and replaces a file whole.
#[test]
fn output_refuses_a_folder_and_replaces_a_file() {
    let exp = Exp::new("[experiment]\nname = \"o\"\ncommand = \"true\"\n[params]\nx = [1]\n");
    exp.run_ok(&["run", "exp.toml"]);
    std::fs::create_dir(exp.file("dir")).unwrap();
    let out = exp.run(&["archive", "-o", "dir"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("dir is a folder"), "{}", out.stderr());
    exp.write("a.json", &"x".repeat(100_000));
    exp.run_ok(&["archive", "--format", "json", "-o", "a.json"]);
    parse(&std::fs::read_to_string(exp.file("a.json")).unwrap());
    let leftovers: Vec<_> = std::fs::read_dir(exp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left");
    // Found in review: `-o .labtrail/labtrail.db` replaced the store's database with the
    // archive and exited 0; every run was lost.
    let db_before = std::fs::read(exp.file(".labtrail/labtrail.db")).unwrap();
    for inside in [
        ".labtrail/labtrail.db",
        ".labtrail/new.md",
        "./.labtrail/../.labtrail/x.md",
    ] {
        let out = exp.run(&["archive", "-o", inside]);
        assert_eq!(out.code(), 2, "-o {inside}: {}", out.stderr());
        assert!(
            out.stderr().contains("is inside the store"),
            "{}",
            out.stderr()
        );
    }
    assert_eq!(
        std::fs::read(exp.file(".labtrail/labtrail.db")).unwrap(),
        db_before
    );
    // A file kept private stays private when the archive replaces it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(exp.file("a.json"), std::fs::Permissions::from_mode(0o600)).unwrap();
    exp.run_ok(&["archive", "--format", "json", "-o", "a.json"]);
    let mode = std::fs::metadata(exp.file("a.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let help = exp.run_ok(&["archive", "--help"]).stdout();
    assert!(
        help.contains("--format") && help.contains("Examples:"),
        "{help}"
    );
}

/// Issue 12: each ended attempt records its metric summaries (so an archive reads one record
/// per task, not every metric line); an archive of the same run without those records (a run
/// made before them) is the same, summarised from the lines.
#[test]
fn recorded_metric_summaries_give_the_same_archive_as_the_lines() {
    let exp = two_stage_run();
    let attempts: Vec<i64> = exp.column(
        "SELECT COUNT(*) FROM attempts a WHERE EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = a.run_id AND m.task_key = a.task_key AND m.attempt = a.number)",
    );
    let records: Vec<i64> =
        exp.column("SELECT COUNT(*) FROM records WHERE kind = 'metric_summary'");
    assert_eq!(
        records, attempts,
        "one per ended attempt that wrote metric lines"
    );
    let lines: Vec<i64> = exp.column(
        "SELECT json_extract(json, '$.lines') FROM records WHERE kind = 'metric_summary' ORDER BY id",
    );
    assert!(lines.contains(&40) && !lines.contains(&0), "{lines:?}");
    let with = archive(&exp, &["--format", "json"]);
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("DELETE FROM records WHERE kind = 'metric_summary'", [])
        .unwrap();
    drop(db);
    let without = archive(&exp, &["--format", "json"]);
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.contains("generated_at"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&with), strip(&without));
}

/// Issue 12: a curve carries the previous finished run's curve of the same task, for the grey
/// overlay.
#[test]
fn curves_carry_the_previous_runs_curve_of_the_same_task() {
    let exp = two_stage_run();
    // The second run's train/a writes another curve: its loss starts from 200.
    let train = std::fs::read_to_string(exp.file("train.sh")).unwrap();
    exp.write("train.sh", &train.replace("$((100 - i))", "$((200 - i))"));
    let out = exp.run(&["run", "exp.toml", "--fresh", "--id", "second"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let a = parse(&archive(&exp, &["--run", "second", "--format", "json"]));
    assert_eq!(a.changes.value().unwrap().previous_run_id, "first");
    let c = &a.curves[0];
    assert_eq!(
        (c.label.as_str(), c.points[0]),
        ("train/rep=a", (1.0, 199.0))
    );
    let previous = c.previous.as_ref().expect("the first run's curve");
    assert_eq!((previous.len(), previous[0]), (40, (1.0, 99.0)));
}

/// Issue 12: a runner killed with SIGKILL leaves its tasks `running` in the store; the archive
/// applies the rule `labtrail status` uses (nobody holds the run's lock: the runner is gone), so
/// the tasks and the run are interrupted, probes that never finished say why, and the configured
/// data patterns whose snapshot is missing are reported as partial, not as "no patterns".
#[test]
fn a_runner_killed_with_sigkill_is_archived_as_interrupted() {
    let exp = Exp::new("");
    std::fs::create_dir_all(exp.file("data")).unwrap();
    exp.write("data/a.txt", "one\ntwo\n");
    exp.write(
        "exp.toml",
        "[experiment]\nname = \"killed\"\ncommand = \"sleep 300\"\n[params]\ni = [1, 2]\n\
         [run]\nworkers = 2\n[archive]\ndata = [\"data/*.txt\"]\n",
    );
    let runner = exp.spawn(&["run", "exp.toml", "--id", "k", "--no-progress"]);
    common::wait_until(
        "both tasks running",
        std::time::Duration::from_secs(30),
        || {
            exp.column_once_made::<String>("SELECT state FROM tasks WHERE run_id = 'k'")
                == ["running", "running"]
        },
    );
    common::signal(&runner, libc::SIGKILL);
    common::finish(runner);
    let status = exp.run(&["status"]).stdout();
    assert!(status.contains("interrupted"), "{status}");

    let a = parse(&archive(&exp, &["--format", "json"]));
    assert_eq!(a.summary.status, "interrupted", "{:?}", a.summary);
    assert_eq!(
        a.summary.counts.get("interrupted"),
        Some(&2),
        "{:?}",
        a.summary
    );
    assert!(a.tasks.iter().all(|t| t.state == "interrupted"));
    let md = archive(&exp, &["--format", "md"]);
    assert!(md.contains("- status: interrupted"), "{md}");
    assert!(!md.contains("still being captured"), "{md}");
    assert!(!md.contains("no `[archive] data` patterns"), "{md}");
    // Leave no `sleep` behind: the dead runner's task shells are orphans.
    for pid in common::processes_of_store(&exp.file(".labtrail")) {
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}
