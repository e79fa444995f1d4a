//! Issue 14: task labels leave out parameters that have a single value; filters still match on
//! every parameter.

mod common;
use common::Exp;

fn labels(exp: &Exp) -> Vec<String> {
    exp.tasks()
        .iter()
        .map(|t| t["label"].as_str().unwrap().to_string())
        .collect()
}

/// Issue 14: `epochs=25` on every line says nothing: labels leave it out, filters by it still
/// find the tasks (`tasks`, `logs`), and a task with one value of everything is `main`.
#[test]
fn single_valued_parameters_are_left_out_of_labels() {
    let exp = Exp::new("[experiment]\nname = \"l\"\ncommand = \"echo {lr} {epochs} {opt}\"\n[params]\nlr = [0.1, 0.2]\nepochs = [25]\nopt = \"adam\"\n");
    let out = exp.run_ok(&["run", "exp.toml"]);
    assert!(out.stderr().contains("✓ lr=0.1"), "{}", out.stderr());
    assert!(!out.stderr().contains("epochs="), "{}", out.stderr());
    assert_eq!(labels(&exp), ["lr=0.1", "lr=0.2"]);
    let found = exp
        .run_ok(&["tasks", "epochs=25,opt=adam", "--json"])
        .stdout();
    assert_eq!(found.matches("\"key\"").count(), 2, "{found}");
    let logs = exp.run_ok(&["logs", "epochs=25,lr=0.2"]);
    assert!(logs.stdout().contains("0.2 25 adam"), "{}", logs.stdout());

    let one =
        Exp::new("[experiment]\nname = \"l\"\ncommand = \"echo {lr}\"\n[params]\nlr = [0.1]\n");
    one.run_ok(&["run", "exp.toml", "-q"]);
    assert_eq!(labels(&one), ["main"]);
    let staged = Exp::new("[experiment]\nname = \"l\"\n[params]\nlr = [0.1]\nseed = [1, 2]\n[[stage]]\nname = \"prep\"\nparams = [\"lr\"]\ncommand = \"echo {lr}\"\n[[stage]]\nname = \"train\"\ncommand = \"echo {lr} {seed}\"\n");
    staged.run_ok(&["run", "exp.toml", "-q"]);
    assert_eq!(labels(&staged), ["prep", "train/seed=1", "train/seed=2"]);
}

/// Issue 14: a value an `[[include]]` adds makes the parameter vary, so labels show it; adding
/// a value to a single-valued parameter and resuming keeps the done tasks (same keys) under the
/// labels they were recorded with, and the new tasks say their value.
#[test]
fn a_second_value_brings_the_parameter_back() {
    let text = |epochs: &str| {
        format!("[experiment]\nname = \"l\"\ncommand = \"echo {{lr}} {{epochs}}\"\n[params]\nlr = [0.1, 0.2]\nepochs = {epochs}\n")
    };
    let exp = Exp::new(&text("[25]"));
    exp.run_ok(&["run", "exp.toml", "-q"]);
    exp.write(
        "exp.toml",
        &format!("{}\n[[include]]\nlr = 0.3\nepochs = 50\n", text("[25]")),
    );
    let out = exp.run_ok(&["run", "exp.toml"]);
    assert!(
        out.stderr().contains("found 2 of 3 tasks done"),
        "{}",
        out.stderr()
    );
    assert_eq!(
        labels(&exp),
        ["lr=0.1,epochs=25", "lr=0.2,epochs=25", "lr=0.3,epochs=50"]
    );
    exp.write("exp.toml", &text("[25, 50]"));
    exp.run_ok(&["run", "exp.toml", "-q"]);
    let epochs25 = exp.run_ok(&["tasks", "epochs=25", "--json"]).stdout();
    assert_eq!(epochs25.matches("\"key\"").count(), 2, "{epochs25}");
    let all = labels(&exp);
    assert!(all.contains(&"lr=0.1,epochs=50".to_string()), "{all:?}");
    assert_eq!(exp.count("done"), 4);
}
