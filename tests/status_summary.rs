//! Issue 14: `labtrail status` on a grid with a parameter of 10^4 values prints a summary, not a
//! line per value; `--by` on such a parameter lists 20 groups and says how many more there are.

mod common;
use common::Exp;

fn grid(seeds: usize) -> Exp {
    let values: Vec<String> = (0..seeds).map(|s| s.to_string()).collect();
    let seeds = values.join(", ");
    Exp::new(&format!(
        r#"
[experiment]
name = "big"
command = "true {{rep}} {{seed}}"
[params]
rep = ["stats", "spectral"]
seed = [{seeds}]
"#
    ))
}

/// Issue 14: 2 × 10^4 tasks: a few lines, grouped by the parameter with few values.
#[test]
fn a_parameter_with_many_values_is_summarised() {
    let exp = grid(10_000);
    // A real run of the whole grid, of which one task ran (a slice): the rest is pending.
    exp.run_ok(&[
        "run",
        "exp.toml",
        "--no-progress",
        "--only",
        "rep=stats,seed=7",
    ]);
    let out = exp.run_ok(&["status"]).stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() <= 5, "{} lines:\n{out}", lines.len());
    assert!(lines[0].contains("1/20000 done, 19999 pending"), "{out}");
    assert!(
        out.contains("rep=stats     1/10000 done, 9999 pending"),
        "{out}"
    );

    let out = exp.run_ok(&["status", "--by", "seed"]).stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1 + 20 + 1, "{out}");
    assert!(lines[21].contains("… and 9980 more groups"), "{out}");

    // --json keeps its shape and has every group asked for.
    let json = exp.run_ok(&["status", "--json", "--by", "seed"]).stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["groups"].as_object().unwrap().len(), 10_000);
    assert_eq!(v["counts"]["total"], 20_000);
    let json = exp.run_ok(&["status", "--json"]).stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["group_by"], serde_json::json!(["rep"]));
}

/// Issue 14: a grid of one parameter with 10^4 values printed 10^4 group lines (the parameter
/// with the fewest values was that one); now one line, and why there are no groups.
#[test]
fn a_single_parameter_with_many_values_is_not_grouped_by() {
    let values: Vec<String> = (0..10_000).map(|s| s.to_string()).collect();
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"seeds\"\ncommand = \"true {{seed}}\"\n[params]\nseed = [{}]\n",
        values.join(", ")
    ));
    exp.run_ok(&["run", "exp.toml", "--no-progress", "--only", "seed=3"]);
    let out = exp.run_ok(&["status"]).stdout();
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("1/10000 done, 9999 pending"), "{out}");
    assert!(
        out.contains("not grouped by seed: more than 20 values"),
        "{out}"
    );
}

/// Issue 14 (review): `--by` with a parameter no task has is a usage error listing the
/// parameters (it printed no group and said nothing); `--by rep --by rep` groups once (it made
/// groups named `rep=stats rep=stats`); `--watch` into a pipe writes no clear-screen codes.
#[test]
fn by_names_a_parameter_once_and_a_typo_is_refused() {
    let exp = grid(3);
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    let out = exp.run(&["status", "--by", "reps"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("--by reps: no task of run big-")
            && out.stderr().contains("help: its parameters are: rep, seed"),
        "{}",
        out.stderr()
    );
    let out = exp
        .run_ok(&["status", "--by", "rep", "--by", "rep"])
        .stdout();
    assert!(out.contains("  rep=stats     3/3 done\n"), "{out}");
    let out = exp.run_ok(&["status", "--watch", "0.2"]).stdout();
    assert!(out.contains("has finished: all 6 tasks done"), "{out}");
    assert!(!out.contains('\u{1b}'), "{out:?}");
}
