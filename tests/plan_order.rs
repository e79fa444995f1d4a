//! Plan expansion: odometer order, content-derived keys, exclude/include, stage dependencies,
//! shell quoting and a million-task grid.

use labtrail::plan::{expand, Plan};
use labtrail::spec::Spec;
use std::collections::{HashMap, HashSet};
use std::path::Path;

fn spec(text: &str) -> Spec {
    Spec::parse(Path::new("exp.toml"), text.to_string())
        .unwrap_or_else(|e| panic!("test experiment should be valid: {e}\n{text}"))
}

fn labels(spec: &Spec, plan: &Plan) -> Vec<String> {
    (0..plan.len()).map(|i| plan.label(i, spec)).collect()
}

fn keys(plan: &Plan) -> HashSet<String> {
    plan.tasks.iter().map(|t| t.key.to_string()).collect()
}

/// Label -> key.
fn key_by_label(spec: &Spec, plan: &Plan) -> HashMap<String, String> {
    plan.tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (plan.label(i, spec), t.key.to_string()))
        .collect()
}

/// The labels whose keys differ between two expansions (every label must be in both).
fn changed_labels(a: (&Spec, &Plan), b: (&Spec, &Plan)) -> Vec<String> {
    let ka = key_by_label(a.0, a.1);
    let kb = key_by_label(b.0, b.1);
    assert_eq!(
        ka.keys().collect::<HashSet<_>>(),
        kb.keys().collect::<HashSet<_>>(),
        "both plans should have the same labels"
    );
    let mut out: Vec<String> = ka
        .iter()
        .filter(|(l, k)| kb[*l] != **k)
        .map(|(l, _)| l.clone())
        .collect();
    out.sort();
    out
}

/// The plan position of the task labelled `label`.
fn task(spec: &Spec, plan: &Plan, label: &str) -> usize {
    (0..plan.len())
        .find(|&i| plan.label(i, spec) == label)
        .unwrap_or_else(|| panic!("no task `{label}` in {:?}", labels(spec, plan)))
}

/// The keys of the tasks task `i` waits for.
fn deps(plan: &Plan, i: usize) -> Vec<String> {
    plan.dep_keys(i).map(|k| k.to_string()).collect()
}

#[test]
fn odometer_order_first_param_slowest() {
    let s = spec(
        r#"[experiment]
name = "t"
command = "echo {a} {b}"

[params]
a = [1, 2]
b = ["x", "y", "z"]
"#,
    );
    let plan = expand(&s);
    assert_eq!(
        labels(&s, &plan),
        ["a=1,b=x", "a=1,b=y", "a=1,b=z", "a=2,b=x", "a=2,b=y", "a=2,b=z"]
    );
    assert_eq!(plan.command(0, &s), "echo 1 x");
    assert_eq!(plan.command(5, &s), "echo 2 z");
    assert_eq!(keys(&plan).len(), 6, "keys are unique");
    for (i, t) in plan.tasks.iter().enumerate() {
        assert_eq!(t.key.len(), labtrail::plan::KEY_LEN);
        assert!(t.key.bytes().all(|b| b.is_ascii_hexdigit()), "{}", t.key);
        assert!(plan.deps(i).is_empty());
    }

    // Three parameters: the last one changes fastest.
    let s = spec(
        r#"[experiment]
name = "t"
command = "echo {c} {a} {b}"

[params]
c = [true, false]
a = [1, 2]
b = ["x", "y"]
"#,
    );
    let plan = expand(&s);
    assert_eq!(
        labels(&s, &plan),
        [
            "c=true,a=1,b=x",
            "c=true,a=1,b=y",
            "c=true,a=2,b=x",
            "c=true,a=2,b=y",
            "c=false,a=1,b=x",
            "c=false,a=1,b=y",
            "c=false,a=2,b=x",
            "c=false,a=2,b=y",
        ]
    );
}

#[test]
fn expansion_is_deterministic() {
    let text = r#"[experiment]
name = "t"
command = "echo {a} {b}"

[params]
a = [1, 2, 3]
b = ["x", "y"]
"#;
    let (s1, s2) = (spec(text), spec(text));
    let (p1, p2) = (expand(&s1), expand(&s2));
    let k1: Vec<&str> = p1.tasks.iter().map(|t| t.key.as_str()).collect();
    let k2: Vec<&str> = p2.tasks.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(k1, k2);
    assert_eq!(p1.hash, p2.hash);
}

#[test]
fn keys_do_not_depend_on_grid_order() {
    let original = spec(
        r#"[experiment]
name = "t"
command = "train --a {a} --b {b} --c {c}"

[params]
a = [1, 2]
b = ["x", "y", "z"]
c = [0.5, 1.5]
"#,
    );
    // Values reordered inside lists, and parameters reordered in [params].
    let reordered = spec(
        r#"[experiment]
name = "t"
command = "train --a {a} --b {b} --c {c}"

[params]
c = [1.5, 0.5]
b = ["z", "x", "y"]
a = [2, 1]
"#,
    );
    let (p1, p2) = (expand(&original), expand(&reordered));
    assert_eq!(p1.tasks.len(), 12);
    assert_eq!(keys(&p1), keys(&p2), "same set of keys");
    // The order differs, so the order itself is not what makes keys equal.
    assert_ne!(p1.tasks[0].key, p2.tasks[0].key);
    // Each key still means the same command.
    let cmd2: HashMap<&str, String> = p2
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), p2.command(i, &reordered)))
        .collect();
    for (i, t) in p1.tasks.iter().enumerate() {
        assert_eq!(cmd2[t.key.as_str()], p1.command(i, &original));
    }
}

#[test]
fn keys_distinguish_value_types() {
    // `1` and `"1"` render the same command text but are different parameters.
    let ints = spec("[experiment]\nname = \"t\"\ncommand = \"echo {a}\"\n[params]\na = [1]\n");
    let strs = spec("[experiment]\nname = \"t\"\ncommand = \"echo {a}\"\n[params]\na = [\"1\"]\n");
    let (p1, p2) = (expand(&ints), expand(&strs));
    assert_eq!(p1.command(0, &ints), p2.command(0, &strs));
    assert_ne!(p1.tasks[0].key, p2.tasks[0].key);
}

const BASE: &str = r#"[experiment]
name = "t"
workdir = "work"
env = { MODE = "fast" }

[params]
layers = ["all", "visual"]
seed = [1, 2]

[[stage]]
name = "prepare"
params = ["layers"]
command = "prep --layers {layers}"

[[stage]]
name = "train"
command = "train --layers {layers} --seed {seed}"
env = { SEED = "{seed}" }
"#;

fn changed_from_base(edit: (&str, &str)) -> Vec<String> {
    assert!(BASE.contains(edit.0), "test bug: `{}` not in BASE", edit.0);
    let a = spec(BASE);
    let b = spec(&BASE.replacen(edit.0, edit.1, 1));
    let (pa, pb) = (expand(&a), expand(&b));
    changed_labels((&a, &pa), (&b, &pb))
}

#[test]
fn changes_rekey_exactly_the_affected_tasks() {
    let base = spec(BASE);
    let plan = expand(&base);
    assert_eq!(
        labels(&base, &plan),
        [
            "prepare/layers=all",
            "prepare/layers=visual",
            "train/layers=all,seed=1",
            "train/layers=all,seed=2",
            "train/layers=visual,seed=1",
            "train/layers=visual,seed=2",
        ]
    );
    let train = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let all_train = train(&[
        "train/layers=all,seed=1",
        "train/layers=all,seed=2",
        "train/layers=visual,seed=1",
        "train/layers=visual,seed=2",
    ]);

    // Nothing changed: nothing re-keyed.
    assert!(changed_from_base(("MODE", "MODE")).is_empty());

    // One stage's command: that stage's tasks, and (issue 9: lineage) every task downstream.
    assert_eq!(
        changed_from_base(("train --layers", "train --fp16 --layers")),
        all_train
    );
    assert_eq!(
        changed_from_base(("prep --layers", "prep --clean --layers")).len(),
        6,
        "prepare and the train tasks that read its output"
    );

    // An environment variable that does not vary: every task (all see it).
    assert_eq!(changed_from_base(("\"fast\"", "\"slow\"")).len(), 6);

    // The working directory of one stage only.
    assert_eq!(
        changed_from_base((
            "name = \"train\"\n",
            "name = \"train\"\nworkdir = \"elsewhere\"\n"
        )),
        all_train
    );
    // The default working directory: every task.
    assert_eq!(
        changed_from_base(("workdir = \"work\"", "workdir = \"work2\"")).len(),
        6
    );
}

#[test]
fn changing_a_value_rekeys_only_its_tasks() {
    let before = spec(BASE);
    let after = spec(&BASE.replacen("seed = [1, 2]", "seed = [1, 3]", 1));
    let (pb, pa) = (expand(&before), expand(&after));
    let kb = key_by_label(&before, &pb);
    let ka = key_by_label(&after, &pa);
    // Tasks that do not involve seed=2 keep their keys.
    for label in [
        "prepare/layers=all",
        "prepare/layers=visual",
        "train/layers=all,seed=1",
        "train/layers=visual,seed=1",
    ] {
        assert_eq!(kb[label], ka[label], "{label} should keep its key");
    }
    // seed=3 tasks are new: their keys are in no task of the old plan.
    let old_keys = keys(&pb);
    for label in ["train/layers=all,seed=3", "train/layers=visual,seed=3"] {
        assert!(!old_keys.contains(&ka[label]), "{label} should be new");
    }
    assert_eq!(keys(&pa).intersection(&old_keys).count(), 4);
}

#[test]
fn env_template_value_rekeys_only_tasks_that_use_it() {
    // Only `train` declares an env var using {seed}; changing its template affects only train.
    let text = r#"[experiment]
name = "t"

[params]
layers = ["all", "visual"]
seed = [1, 2]

[[stage]]
name = "prepare"
params = ["layers"]
command = "prep {layers}"

[[stage]]
name = "train"
command = "train {layers}"
env = { SEED = "{seed}" }
"#;
    let a = spec(text);
    let b = spec(&text.replacen("\"{seed}\"", "\"s{seed}\"", 1));
    let (pa, pb) = (expand(&a), expand(&b));
    let changed = changed_labels((&a, &pa), (&b, &pb));
    assert_eq!(changed.len(), 4);
    assert!(
        changed.iter().all(|l| l.starts_with("train/")),
        "{changed:?}"
    );
    let t = task(&b, &pb, "train/layers=all,seed=2");
    assert_eq!(pb.env(t, &b), [("SEED".to_string(), "s2".to_string())]);
}

#[test]
fn exclude_and_include() {
    let s = spec(
        r#"[experiment]
name = "t"
command = "echo {a} {b} {c}"

[params]
a = [1, 2]
b = ["x", "y"]
c = [true, false]

# Partial combination: every task with a=1 and b=y.
[[exclude]]
a = 1
b = "y"

# Full combination.
[[exclude]]
a = 2
b = "x"
c = false

# A new value, after the grid.
[[include]]
c = true
b = "w"
a = 3

# The same as a grid task: not duplicated.
[[include]]
a = 2
b = "y"
c = true
"#,
    );
    let plan = expand(&s);
    assert_eq!(
        labels(&s, &plan),
        [
            "a=1,b=x,c=true",
            "a=1,b=x,c=false",
            "a=2,b=x,c=true",
            "a=2,b=y,c=true",
            "a=2,b=y,c=false",
            "a=3,b=w,c=true",
        ]
    );
    // The include's values are in grid order whatever order the table gives them.
    assert_eq!(plan.command(plan.len() - 1, &s), "echo 3 w true");
    assert_eq!(keys(&plan).len(), plan.tasks.len());
}

#[test]
fn include_of_an_excluded_combination_is_kept() {
    // [[include]] adds full combinations after exclusions are applied to the grid.
    let s = spec(
        r#"[experiment]
name = "t"
command = "echo {a} {b}"

[params]
a = [1, 2]
b = ["x", "y"]

[[exclude]]
a = 1

[[include]]
a = 1
b = "y"
"#,
    );
    let plan = expand(&s);
    assert_eq!(labels(&s, &plan), ["a=2,b=x", "a=2,b=y", "a=1,b=y"]);
}

#[test]
fn stage_dependencies_fan_out_and_fan_in() {
    let s = spec(
        r#"[experiment]
name = "t"

[params]
layers = ["all", "visual", "audio"]
seed = [1, 2]

[[stage]]
name = "prepare"
params = ["layers"]
command = "prep {layers}"

[[stage]]
name = "train"
command = "train {layers} {seed}"

[[stage]]
name = "report"
params = []
command = "report"
after = ["train"]
"#,
    );
    let plan = expand(&s);
    assert_eq!(plan.tasks.len(), 3 + 6 + 1);
    let stage_name = |i: usize| s.stages[plan.tasks[i].stage].name.clone();

    let prepares: Vec<usize> = (0..plan.len())
        .filter(|&i| stage_name(i) == "prepare")
        .collect();
    assert_eq!(prepares.len(), 3, "one prepare per layers value");
    assert!(prepares.iter().all(|&i| plan.deps(i).is_empty()));

    let trains: Vec<usize> = (0..plan.len())
        .filter(|&i| stage_name(i) == "train")
        .collect();
    assert_eq!(trains.len(), 6);
    for &t in &trains {
        let layers = plan.value_list(t)[0].clone();
        let expected = task(&s, &plan, &format!("prepare/layers={layers}"));
        assert_eq!(
            deps(&plan, t),
            [plan.tasks[expected].key.to_string()],
            "{} should wait for exactly {}",
            plan.label(t, &s),
            plan.label(expected, &s)
        );
    }

    let report = task(&s, &plan, "report");
    let mut got = deps(&plan, report);
    got.sort();
    let mut want: Vec<String> = trains
        .iter()
        .map(|&t| plan.tasks[t].key.to_string())
        .collect();
    want.sort();
    assert_eq!(got, want, "report waits for every train task");
    // Every dependency is a task of the plan that comes earlier.
    for i in 0..plan.len() {
        for &d in plan.deps(i) {
            assert!(
                (d as usize) < i,
                "{} depends on a later task",
                plan.label(i, &s)
            );
        }
    }
}

#[test]
fn stage_dependencies_respect_exclusions() {
    // With layers=visual,seed=2 excluded, the report depends on the remaining train tasks only.
    let s = spec(
        r#"[experiment]
name = "t"

[params]
layers = ["all", "visual"]
seed = [1, 2]

[[exclude]]
layers = "visual"
seed = 2

[[stage]]
name = "train"
command = "train {layers} {seed}"

[[stage]]
name = "report"
params = ["layers"]
command = "report {layers}"
"#,
    );
    let plan = expand(&s);
    assert_eq!(
        labels(&s, &plan),
        [
            "train/layers=all,seed=1",
            "train/layers=all,seed=2",
            "train/layers=visual,seed=1",
            "report/layers=all",
            "report/layers=visual",
        ]
    );
    let k = key_by_label(&s, &plan);
    assert_eq!(
        deps(&plan, task(&s, &plan, "report/layers=all")),
        [
            k["train/layers=all,seed=1"].clone(),
            k["train/layers=all,seed=2"].clone()
        ]
    );
    assert_eq!(
        deps(&plan, task(&s, &plan, "report/layers=visual")),
        [k["train/layers=visual,seed=1"].clone()]
    );
}

#[test]
fn hostile_values_are_shell_quoted() {
    let s = spec(
        r#"[experiment]
name = "t"
command = "echo {v} > out.txt"
env = { V = "{v}" }

[params]
v = ["x; rm -rf ~", "it's", "$(whoami)", "plain-1.5"]
"#,
    );
    let plan = expand(&s);
    let cmds: Vec<String> = (0..plan.len()).map(|i| plan.command(i, &s)).collect();
    assert_eq!(
        cmds,
        [
            "echo 'x; rm -rf ~' > out.txt",
            r"echo 'it'\''s' > out.txt",
            "echo '$(whoami)' > out.txt",
            "echo plain-1.5 > out.txt",
        ]
    );
    // Environment values are not shell text: they stay unquoted.
    assert_eq!(plan.env(0, &s), [("V".into(), "x; rm -rf ~".into())]);
    // The label shows the value as written.
    assert_eq!(plan.label(0, &s), "v=x; rm -rf ~");
}

#[test]
fn a_million_combinations() {
    // 10 * 10 * 100 * 100 = 10^6. About 15-19 s in a debug build on 2 cores, so not ignored.
    let list = |items: Vec<String>| format!("[{}]", items.join(", "));
    let text = format!(
        "[experiment]\nname = \"big\"\ncommand = \"run {{a}} {{b}} {{c}} {{d}}\"\n\n\
         [params]\na = {}\nb = {}\nc = {}\nd = {}\n",
        list((0..10).map(|i| i.to_string()).collect()),
        list("pqrstuvwxy".chars().map(|c| format!("\"{c}\"")).collect()),
        list((0..100).map(|i| i.to_string()).collect()),
        list((0..100).map(|i| format!("{i}.5")).collect()),
    );
    let s = spec(&text);
    let plan = expand(&s);
    assert_eq!(plan.tasks.len(), 1_000_000);
    let unique: HashSet<&str> = plan.tasks.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(unique.len(), 1_000_000, "keys are unique");
    assert_eq!(plan.label(0, &s), "a=0,b=p,c=0,d=0.5");
    assert_eq!(plan.label(1, &s), "a=0,b=p,c=0,d=1.5");
    assert_eq!(plan.label(100, &s), "a=0,b=p,c=1,d=0.5");
    assert_eq!(plan.command(999_999, &s), "run 9 y 99 99.5");
}
