//! Issue 14: what `labtrail results` prints in each format: an aligned table on a terminal,
//! today's JSON when piped, Markdown that renders, CSV at full precision, grouped output in
//! every format.

mod common;
mod results_common;
use common::*;
use results_common::*;
use serde_json::Value;

/// Issue 14: on a terminal, `results` is a table: parameters that vary and result keys as
/// columns, numbers right-aligned to 4 significant digits, `NaN` as written; the constant
/// `epochs` is left out and named on stderr (which `script` shows after the table).
#[test]
fn a_terminal_gets_an_aligned_table() {
    let exp = ran();
    let (text, code) = on_terminal(&exp, &["results", "--stage", "train"], &[]);
    assert_eq!(code, 0, "{text}");
    let expected = "\
rep       layers  seed  val_acc  loss  note         tag
stats     low        0   0.8000     0  ok|stats     7
stats     low        1   0.8200     1  ok|stats     x
";
    assert!(text.starts_with(expected), "{text}");
    assert!(
        text.contains("\nspectral  all        2      NaN     2  ok|spectral  x\n"),
        "{text}"
    );
    assert!(text.ends_with("\nsame in every row: epochs=25\n"), "{text}");
}

/// Issue 14: a grouped table on a terminal, sorted by the mean, largest first; a narrow
/// terminal (`COLUMNS`) cuts text cells with `…`, never a number.
#[test]
fn a_terminal_gets_a_grouped_table_cut_to_its_width() {
    let exp = ran();
    let args = [
        "results",
        "--group-by",
        "rep,layers",
        "--stage",
        "train",
        "--agg",
        "mean,std",
        "--sort",
        "val_acc",
        "--desc",
    ];
    let (text, code) = on_terminal(&exp, &args, &[]);
    assert_eq!(code, 0, "{text}");
    // No `\` line continuation: it would eat the first line's leading spaces.
    let expected = "                         val_acc                     loss          tag
rep       layers  tasks    mean      std  nonfinite   mean    std   mean  std
spectral  all         3  0.9200  0.02828          1  1.000  1.000      -    -
stats     low         3  0.8200  0.02000          0  1.000  1.000  7.000    -
stats     all         3  0.7100  0.01000          0  1.000  1.000      -    -
spectral  low         3  0.6000        0          0  1.000  1.000      -    -
";
    assert!(text.starts_with(expected), "{text}");
    let (narrow, _) = on_terminal(
        &exp,
        &["results", "--stage", "train", "--sort", "rep"],
        &[("COLUMNS", "52")],
    );
    let first = narrow.lines().nth(1).unwrap();
    assert_eq!(first, "spectral  low        0   0.6000     0  ok|spec…  x");
    assert!(
        narrow.lines().take(13).all(|l| l.chars().count() <= 52),
        "{narrow}"
    );
}

/// Issue 14: values reach the terminal escaped: a result holding an escape sequence cannot
/// clear the screen or forge a line.
#[test]
fn terminal_cells_are_escaped() {
    let exp =
        Exp::new("[experiment]\nname = \"esc\"\ncommand = \"sh t.sh\"\n[params]\nx = [1, 2]\n");
    exp.write(
        "t.sh",
        "printf '{\"note\": \"a\\\\u001b[2J\\\\nb\"}' > \"$LABTRAIL_RESULT\"\n",
    );
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    let (text, _) = on_terminal(&exp, &["results"], &[]);
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("1  a\\u{1b}[2J\\nb\n"), "{text:?}");
}

/// Issue 14: piped, `results` prints the JSON it always printed (scripts depend on it): the
/// same bytes as `--format json`, records with the same fields in the same order.
#[test]
fn a_pipe_gets_todays_json() {
    let exp = ran();
    let piped = exp.run_ok(&["results"]).stdout();
    assert_eq!(piped, exp.run_ok(&["results", "--format", "json"]).stdout());
    let records: Vec<serde_json::Map<String, Value>> = serde_json::from_str(&piped).unwrap();
    assert_eq!(records.len(), 14);
    let fields: Vec<&str> = records[0].keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "key",
            "stage",
            "label",
            "params",
            "result",
            "attempts",
            "finished_at"
        ]
    );
    assert_eq!(records[11]["result"]["val_acc"], "NaN");
    assert!(
        piped.starts_with("[\n  {\n    \"key\": \""),
        "pretty-printed as before"
    );
}

/// Issue 14: `--format md` is a GitHub table: a header, an alignment row (numbers to the
/// right), `|` inside a value escaped, so that it renders and pastes.
#[test]
fn markdown_renders_and_escapes_pipes() {
    let exp = ran();
    let md = exp
        .run_ok(&[
            "results",
            "--group-by",
            "rep",
            "--stage",
            "train",
            "--agg",
            "mean,count",
            "--format",
            "md",
        ])
        .stdout();
    assert_eq!(
        md,
        "\
| rep | tasks | val_acc:mean | val_acc:count | val_acc:nonfinite | loss:mean | loss:count | tag:mean | tag:count |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| stats | 6 | 0.7650 | 6 | 0 | 1.000 | 6 | 7.000 | 1 |
| spectral | 6 | 0.7280 | 5 | 1 | 1.000 | 6 | - | 0 |
"
    );
    let rows = exp
        .run_ok(&["results", "--stage", "train", "--format", "md"])
        .stdout();
    assert!(
        rows.contains("| stats | low | 0 | 0.8000 | 0 | ok\\|stats | 7 |"),
        "{rows}"
    );
}

/// Issue 14: grouped CSV and JSON lines carry full precision (a table to read rounds); each
/// JSON line is one group with its keys and statistics.
#[test]
fn grouped_csv_and_jsonl_keep_full_precision() {
    let exp = ran();
    let csv = exp
        .run_ok(&[
            "results",
            "--group-by",
            "rep,layers",
            "--stage",
            "train",
            "--agg",
            "std",
            "--format",
            "csv",
        ])
        .stdout();
    let spectral_all = csv.lines().nth(4).unwrap();
    assert!(
        spectral_all.starts_with("spectral,all,3,0.02828427124746"),
        "{csv}"
    );
    let jsonl = exp
        .run_ok(&[
            "results",
            "--group-by",
            "rep",
            "--stage",
            "train",
            "--format",
            "jsonl",
        ])
        .stdout();
    let groups: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[1]["group"], serde_json::json!({"rep": "spectral"}));
    assert_eq!(groups[1]["results"]["val_acc"]["mean"], 0.728);
    // Ungrouped CSV is as before: key and stage first, every parameter, every field.
    let plain = exp.run_ok(&["results", "--format", "csv"]).stdout();
    assert!(
        plain.starts_with("key,stage,rep,layers,seed,epochs,val_acc,loss,note,tag,pages\n"),
        "{plain}"
    );
}

/// Issue 14 (review): a numeric parameter is shown as written in a table to read, as a user
/// types it in `--only lr=0.001`: not rounded to 4 digits (`0.001000`), which would also make
/// two learning rates that differ further on look alike; in the text of the labels (`1000000`,
/// not JSON's `1000000.0`). Result values are still rounded.
#[test]
fn numeric_parameters_are_shown_as_written() {
    let exp = Exp::new(
        "[experiment]\nname = \"lr\"\n\
         command = \"echo '{\\\"acc\\\": 0.123456}' > \\\"$LABTRAIL_RESULT\\\"\"\n\
         [params]\nlr = [0.1, 0.001, 0.00012341, 0.00012344, 1e6]\nseed = [1, 2]\n",
    );
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    let md = exp.run_ok(&["results", "--format", "md"]).stdout();
    for row in [
        "| 0.1 | 1 | 0.1235 |",
        "| 0.001 | 2 | 0.1235 |",
        "| 0.00012341 | 1 | 0.1235 |",
        "| 0.00012344 | 1 | 0.1235 |",
        "| 1000000 | 1 | 0.1235 |",
    ] {
        assert!(md.contains(row), "{row} in\n{md}");
    }
    let grouped = exp
        .run_ok(&["results", "--group-by", "lr", "--format", "md"])
        .stdout();
    assert!(
        grouped.contains("| 0.00012341 | 2 | 0.1235 |") && grouped.contains("| 0.1 | 2 |"),
        "{grouped}"
    );
}

/// Issue 14 (review): `--sort` keeps each stage's rows together, stages in plan order, in every
/// format: sorted across stages, a `report` group landed between two `train` groups.
#[test]
fn sorting_keeps_the_stages_apart() {
    let exp = ran();
    let csv = exp
        .run_ok(&[
            "results",
            "--group-by",
            "rep",
            "--sort",
            "rep",
            "--desc",
            "--format",
            "csv",
        ])
        .stdout();
    let firsts: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join("/"))
        .collect();
    assert_eq!(
        firsts,
        [
            "train/stats",
            "train/spectral",
            "report/stats",
            "report/spectral"
        ],
        "{csv}"
    );
    let records = exp
        .run_ok(&["results", "--sort", "rep", "--format", "jsonl"])
        .stdout();
    let stages: Vec<String> = records
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["stage"].to_string())
        .collect();
    let report_from = stages.iter().position(|s| s.contains("report")).unwrap();
    assert!(
        stages[report_from..].iter().all(|s| s.contains("report")),
        "{stages:?}"
    );
}

/// Issue 14 (review): with no done task, a grouped table or Markdown table prints nothing (not
/// a lone header), as the ungrouped one does, and stderr says why.
#[test]
fn no_done_task_prints_no_lone_header() {
    let exp = Exp::new(
        "[experiment]\nname = \"f\"\ncommand = \"exit 1\"\n[params]\nseed = [1, 2]\n[run]\nretries = 0\n",
    );
    assert_eq!(exp.run(&["run", "exp.toml", "--no-progress"]).code(), 1);
    for args in [
        &["results", "--group-by", "seed", "--format", "md"][..],
        &["results", "--group-by", "seed", "--format", "table"][..],
    ] {
        let out = exp.run_ok(args);
        assert_eq!(out.stdout(), "", "{args:?}");
        assert!(out.stderr().contains("no done task"), "{}", out.stderr());
    }
}
