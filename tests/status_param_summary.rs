//! Issue 15: plain `status` chooses its default grouping from a per-run summary of the plan's
//! parameters (`param_summaries`, written by the plan sync), not from a pass over every task's
//! parameters. Whatever a grid edit does to the parameters (one gains or loses values, tasks
//! leave the plan, a parameter appears), `status` prints exactly what the pass over the tasks
//! (what it falls back to when a run has no summary) prints.

mod common;

use common::Exp;

/// `status` and `status --json` as the summary makes them, then as the pass makes them (the
/// run's summary deleted): they must be equal. Returns the `--json` output.
fn status_same_as_the_pass(exp: &Exp, step: &str) -> serde_json::Value {
    let summaries: Vec<i64> = exp.column("SELECT COUNT(*) FROM param_summaries");
    assert_eq!(
        summaries,
        [1],
        "{step}: the plan sync wrote the run's summary"
    );
    let text = exp.run_ok(&["status"]).stdout();
    let json = exp.run_ok(&["status", "--json"]).stdout();
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("DELETE FROM param_summaries", []).unwrap();
    drop(db);
    assert_eq!(exp.run_ok(&["status"]).stdout(), text, "{step}");
    assert_eq!(exp.run_ok(&["status", "--json"]).stdout(), json, "{step}");
    serde_json::from_str(&json).unwrap()
}

fn run_grid(exp: &Exp, params: &str) {
    exp.write(
        "exp.toml",
        &format!("[experiment]\nname = \"sweep\"\ncommand = \"true {{seed}} {{opt}}\"\n[params]\n{params}\n[run]\nworkers = 2\n"),
    );
    exp.run_ok(&["run", "exp.toml", "--no-progress", "-q"]);
}

/// Issue 15: a seed sweep edited four times. The summary follows each plan: tasks that left
/// the plan are not counted (25 seeds cut to 5 makes `seed` the grouping), a parameter that
/// gains a value becomes the grouping, and one that loses it stops being.
#[test]
fn default_grouping_follows_grid_edits_as_the_pass_does() {
    let exp = Exp::new("");
    run_grid(&exp, "seed = { range = [0, 25] }\nopt = [\"adam\"]");
    let s = status_same_as_the_pass(&exp, "25 seeds");
    assert_eq!(s["group_by"], serde_json::json!([]), "{s}");
    let text = exp.run_ok(&["status"]).stdout();
    assert!(
        text.contains("not grouped by seed: more than 20 values"),
        "{text}"
    );

    run_grid(&exp, "seed = { range = [0, 5] }\nopt = [\"adam\"]");
    let s = status_same_as_the_pass(&exp, "5 seeds, 20 tasks out of the plan");
    assert_eq!(s["group_by"], serde_json::json!(["seed"]), "{s}");
    assert_eq!(s["counts"]["total"], 5, "{s}");

    run_grid(
        &exp,
        "seed = { range = [0, 30] }\nopt = [\"adam\", \"sgd\"]",
    );
    let s = status_same_as_the_pass(&exp, "30 seeds, 2 optimisers");
    assert_eq!(s["group_by"], serde_json::json!(["opt"]), "{s}");

    run_grid(
        &exp,
        "lr = [0.1]\nseed = { range = [0, 30] }\nopt = [\"sgd\"]",
    );
    let s = status_same_as_the_pass(&exp, "one optimiser again, lr added");
    assert_eq!(s["group_by"], serde_json::json!([]), "{s}");
    assert_eq!(s["counts"]["total"], 30, "{s}");
}

/// Issue 15: a parameter summary that differs from the run's tasks (a store edited by hand, a
/// bug) is a problem `labtrail check` names, with both summaries.
#[test]
fn check_names_a_summary_that_drifted() {
    let exp = Exp::new("");
    run_grid(&exp, "seed = { range = [0, 25] }\nopt = [\"adam\"]");
    assert_eq!(exp.run(&["check"]).code(), 0, "a fresh summary is exact");
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute(
        "UPDATE param_summaries SET params = replace(params, '\"values\":21', '\"values\":5')",
        [],
    )
    .unwrap();
    drop(db);
    let out = exp.run(&["check"]);
    let said = format!("{}{}", out.stdout(), out.stderr());
    assert_ne!(out.code(), 0, "{said}");
    assert!(said.contains("parameter summary of run sweep"), "{said}");
    assert!(said.contains("\"values\":5"), "{said}");
}

/// Issue 15 (a review of the merged build): the parameters listed in another order keep every
/// key, and the plan sync (here for a value added) wrote the summary in the new order while the
/// stored tasks kept the old one: `check` called a healthy store's summary wrong (exit 1), and the summary and the
/// pass could disagree.
#[test]
fn parameters_listed_in_another_order_keep_the_summary_true() {
    let exp = Exp::new("");
    run_grid(&exp, "seed = [1, 2]\nopt = [\"adam\"]");
    // Listed the other way round, with a seed more (the plan changes, so it is synced).
    run_grid(&exp, "opt = [\"adam\"]\nseed = [1, 2, 3]");
    let checked = exp.run(&["check"]);
    assert_eq!(
        checked.code(),
        0,
        "{}{}",
        checked.stdout(),
        checked.stderr()
    );
    status_same_as_the_pass(&exp, "parameters reordered");
}
