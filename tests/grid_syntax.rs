//! Issue 14: grid syntax in `[params]` (ranges, linspace, logspace, linked parameters) and
//! `[grid] sample`, driven through the built binary.

mod common;
use common::Exp;

const HEAD: &str = "[experiment]\nname = \"g\"\n";

/// The labels `run --dry-run` lists, in plan order.
fn dry_labels(exp: &Exp) -> Vec<String> {
    let out = exp.run_ok(&["run", "exp.toml", "--dry-run"]);
    out.stdout()
        .lines()
        .filter(|l| l.starts_with("  run"))
        .map(|l| l.split_whitespace().nth(2).expect("label").to_string())
        .collect()
}

/// Issue 14: ranges follow Python (stop left out), steps may be floats and print as written
/// (0.3, not 0.30000000000000004); linspace and logspace include both ends.
#[test]
fn ranges_and_spaces_expand_to_the_values_written() {
    let exp = Exp::new(&format!(
        "{HEAD}command = \"echo {{seed}} {{x}}\"\n[params]\nseed = {{ range = [0, 60, 20] }}\nx = {{ range = [0.1, 0.4], step = 0.1 }}\n"
    ));
    assert_eq!(
        dry_labels(&exp),
        [
            "seed=0,x=0.1",
            "seed=0,x=0.2",
            "seed=0,x=0.3",
            "seed=20,x=0.1",
            "seed=20,x=0.2",
            "seed=20,x=0.3",
            "seed=40,x=0.1",
            "seed=40,x=0.2",
            "seed=40,x=0.3"
        ]
    );
    let exp = Exp::new(&format!(
        "{HEAD}command = \"echo {{lr}} {{w}}\"\n[params]\nlr = {{ logspace = [1e-4, 1e-1], num = 4 }}\nw = {{ linspace = [0, 1], num = 3 }}\n"
    ));
    let labels = dry_labels(&exp);
    assert_eq!(labels.len(), 12);
    let lrs: Vec<&str> = labels
        .iter()
        .step_by(3)
        .map(|l| &l[3..l.find(',').unwrap()])
        .collect();
    assert_eq!(lrs, ["0.0001", "0.001", "0.01", "0.1"]);
    assert_eq!(
        &labels[..3],
        ["lr=0.0001,w=0", "lr=0.0001,w=0.5", "lr=0.0001,w=1"]
    );
}

/// Issue 14: a mistake in the grid syntax names file:line:col, says what is wrong and what to
/// write instead, and exits 2.
#[test]
fn grid_syntax_errors_name_the_place_and_the_fix() {
    let cases = [
        ("seed = { range = [5, 5] }", "exp.toml:6:8: parameter `seed`: range = [5, 5] is empty: as in Python's range, the stop value is left out"),
        ("seed = { range = [0, 5, 0] }", "has a step of 0"),
        ("seed = { range = [0, 5], stop = 3 }", "unknown key `stop` with `range`"),
        ("seed = { linspace = [0, 1] }", "`linspace` needs `num`"),
        ("seed = { logspace = [0, 1], num = 3 }", "both ends must be greater than 0"),
        ("seed = { range = [0, 10000000000] }", "more than the limit of 1000000"),
        ("seed = { logspace = [1, 1.0000000000001], num = 3 }", "generates the value `1` twice"),
        ("seed = [{ arch = \"a\", lr = 1 }, { arch = \"b\" }]", "table 2 of `seed` does not give `lr`"),
        ("seed = [{ arch = \"a\" }, { arch = \"b\", lr = 1 }]", "table 2 of `seed` names `lr`, which table 1 does not"),
        ("seed = [{ arch = \"a\" }, { arch = \"a\" }]", "table 2 of `seed` repeats table 1"),
        ("seed = [{ arch = \"a\" }, 3]", "table 2 of `seed` is not a table"),
    ];
    for (line, expected) in cases {
        let exp = Exp::new(&format!("{HEAD}command = \"true\"\n\n[params]\n{line}\n"));
        let out = exp.run(&["run", "exp.toml", "--dry-run"]);
        assert_eq!(out.code(), 2, "{line}: {}", out.stderr());
        assert!(out.stderr().contains(expected), "{line}:\n{}", out.stderr());
        assert!(out.stderr().contains("help: "), "{line}:\n{}", out.stderr());
    }
}

/// Issue 14: a list of tables links parameters: they vary together as one axis of the
/// product, each task gets every member's value, and a stage over one member gets one task
/// per distinct value.
#[test]
fn linked_parameters_vary_together() {
    let exp = Exp::new(
        "[experiment]\nname = \"g\"\n[params]\nseed = [1, 2]\nmodel = [{ arch = \"resnet18\", lr = 0.1 }, { arch = \"vit\", lr = 0.001 }, { arch = \"mlp\", lr = 0.1 }]\n\n[[stage]]\nname = \"train\"\ncommand = \"echo {arch} {lr} {seed} >> ledger.txt\"\n\n[[stage]]\nname = \"sweep\"\nparams = [\"lr\"]\ncommand = \"echo lr {lr} >> ledger.txt\"\n"
    );
    exp.run_ok(&["run", "exp.toml", "-q"]);
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(
        ledger,
        [
            "lr 0.001",
            "lr 0.1",
            "mlp 0.1 1",
            "mlp 0.1 2",
            "resnet18 0.1 1",
            "resnet18 0.1 2",
            "vit 0.001 1",
            "vit 0.001 2"
        ]
    );
    let labels: Vec<String> = exp
        .tasks()
        .iter()
        .map(|t| t["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        &labels[..3],
        [
            "train/seed=1,arch=resnet18,lr=0.1",
            "train/seed=1,arch=vit,lr=0.001",
            "train/seed=1,arch=mlp,lr=0.1"
        ]
    );
    // A member's values still filter tasks.
    assert_eq!(
        exp.run_ok(&["tasks", "arch=vit", "--json"])
            .stdout()
            .matches("\"key\"")
            .count(),
        2
    );
}

/// Issue 14: `[grid] sample = N` picks N combinations of a grid too large to list (10^12),
/// in odometer order, the same ones on every expansion.
#[test]
fn a_sample_of_a_huge_grid_is_picked_without_listing_it() {
    let big = "[params]\na = { range = [0, 1000] }\nb = { range = [0, 1000] }\nc = { range = [0, 1000] }\nd = { range = [0, 1000] }\n";
    let exp = Exp::new(&format!(
        "{HEAD}command = \"echo {{a}}\"\n{big}[grid]\nsample = 50\nsample_seed = 3\n"
    ));
    let first = dry_labels(&exp);
    assert_eq!(first.len(), 50);
    assert_eq!(dry_labels(&exp), first);
    let a = |l: &String| l[2..l.find(',').unwrap()].parse::<u32>().unwrap();
    assert!(
        first.windows(2).all(|w| a(&w[0]) <= a(&w[1])),
        "odometer order: {first:?}"
    );
    // Without sample the grid is refused, naming the way out.
    let exp = Exp::new(&format!("{HEAD}command = \"echo {{a}}\"\n{big}"));
    let out = exp.run(&["run", "exp.toml", "--dry-run"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr().contains("1000000000000 combinations") && out.stderr().contains("sample"),
        "{}",
        out.stderr()
    );
}

/// Issue 14: a larger sample keeps the tasks of a smaller one, so raising `sample` and
/// running again runs only the new ones; excluded combinations are never picked.
#[test]
fn raising_the_sample_resumes_the_tasks_already_done() {
    let text = |n: u32| {
        format!("{HEAD}command = \"echo {{a}}-{{b}} >> ledger.txt\"\n[params]\na = {{ range = [0, 30] }}\nb = {{ range = [0, 30] }}\n\n[[exclude]]\nb = 0\n\n[grid]\nsample = {n}\n")
    };
    let exp = Exp::new(&text(5));
    exp.run_ok(&["run", "exp.toml", "-q"]);
    let five = exp.ledger("ledger.txt");
    assert_eq!(five.len(), 5);
    exp.write("exp.toml", &text(8));
    let out = exp.run_ok(&["run", "exp.toml"]);
    assert!(
        out.stderr().contains("found 5 of 8 tasks done"),
        "{}",
        out.stderr()
    );
    let eight = exp.ledger("ledger.txt");
    assert_eq!(eight.len(), 8, "only the 3 new tasks ran: {eight:?}");
    assert_eq!(&eight[..5], &five[..]);
    assert!(eight.iter().all(|l| !l.ends_with("-0")), "{eight:?}");
}

/// Issue 14: an experiment that uses none of the new syntax keeps its task keys (they hash
/// parameters by name and value): these were listed by labtrail before the grid syntax existed.
/// Only the labels lose the single-valued `epochs`.
#[test]
fn keys_of_an_existing_experiment_do_not_change() {
    let exp = Exp::new("[experiment]\nname = \"pin\"\n\n[params]\nrep = [\"stats\", \"spectral\"]\nlr = [0.1, 0.01]\nepochs = [25]\n\n[[exclude]]\nrep = \"spectral\"\nlr = 0.01\n\n[[include]]\nrep = \"raw\"\nlr = 0.5\nepochs = 25\n\n[[stage]]\nname = \"prep\"\ncommand = \"echo prep {rep}\"\nparams = [\"rep\"]\n\n[[stage]]\nname = \"train\"\ncommand = \"echo train {rep} {lr} {epochs}\"\n");
    let out = exp.run_ok(&["run", "exp.toml", "--dry-run"]);
    let rows: Vec<(String, String)> = out
        .stdout()
        .lines()
        .filter(|l| l.starts_with("  run"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[1].to_string(), w[2].to_string())
        })
        .collect();
    let expected = [
        ("147dd9fae45077e7", "prep/rep=stats"),
        ("241886c5bf3640dc", "prep/rep=spectral"),
        ("d569d985db601505", "prep/rep=raw"),
        ("d9745152227786df", "train/rep=stats,lr=0.1"),
        ("848e49bff1af5a1e", "train/rep=stats,lr=0.01"),
        ("ac1498cc478f4d8a", "train/rep=spectral,lr=0.1"),
        ("ff2b576d87314a67", "train/rep=raw,lr=0.5"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, l)| (k.to_string(), l.to_string()))
        .collect();
    assert_eq!(rows, expected);
}

/// Issue 14 (review): `nan`, `inf` and `-inf` are refused where they are written (a list, an
/// `[[include]]`, a `--set`, a linspace between huge ends): they all became JSON `null` in
/// task keys, so `x = [nan, inf, -inf]` made three tasks with one key and the run died on the
/// store's unique key.
#[test]
fn values_that_are_not_finite_numbers_are_refused() {
    let exp = Exp::new(&format!(
        "{HEAD}command = \"echo {{x}}\"\n[params]\nx = [nan, inf, -inf, 1]\n"
    ));
    let out = exp.run(&["run", "exp.toml"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains(
            "exp.toml:5:5: parameter `x` has the value NaN, which is not a finite number"
        ),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("help: quote it"), "{}", out.stderr());
    let exp = Exp::new(&format!(
        "{HEAD}command = \"echo {{x}}\"\n[params]\nx = [1.5, 2.5]\n[[include]]\nx = inf\n"
    ));
    let out = exp.run(&["run", "exp.toml"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out
        .stderr()
        .contains("[[include]] value for `x` has the value inf"));
    let out = exp.run(&["run", "exp.toml", "--set", "x=1.5,inf"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("has the value inf"),
        "{}",
        out.stderr()
    );
    let exp = Exp::new(&format!(
        "{HEAD}command = \"echo {{x}}\"\n[params]\nx = {{ linspace = [-1.7e308, 1.7e308], num = 3 }}\n"
    ));
    let out = exp.run(&["run", "exp.toml", "--dry-run"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("beyond the largest number"),
        "{}",
        out.stderr()
    );
    assert!(!exp.path().join(".labtrail").exists(), "nothing was run");
}

/// Issue 14 (review): a sample over the task limit is said to be the sample's fault, and a grid
/// too large to sample says so; both used to report "the grid has 2000000 combinations" and
/// advise `[grid] sample = 1000` to a user who had written a sample.
#[test]
fn a_sample_too_large_is_named_as_the_sample() {
    let params = "a = { range = [0, 1000000] }\nb = { range = [0, 1000000] }";
    let cases = [
        (format!("{params}\n[grid]\nsample = 2000000\n"), "[grid] sample = 2000000 asks for more than the limit of 1000000 tasks (the grid has 1000000000000 combinations)", "give sample = 1000000 or less"),
        (format!("{params}\nc = {{ range = [0, 1000000] }}\nd = {{ range = [0, 1000000] }}\n[grid]\nsample = 5\n"), "more than [grid] sample can pick from", "list fewer values"),
    ];
    for (grid, message, help) in cases {
        let exp = Exp::new(&format!("{HEAD}command = \"echo {{a}}\"\n[params]\n{grid}"));
        let out = exp.run(&["run", "exp.toml", "--dry-run"]);
        assert_eq!(out.code(), 2, "{}", out.stderr());
        assert!(out.stderr().contains(message), "{}", out.stderr());
        assert!(out.stderr().contains(help), "{}", out.stderr());
        assert!(
            !out.stderr().contains("sample = 1000\n"),
            "{}",
            out.stderr()
        );
    }
}

/// Issue 14 (review): a stage's `params` that names a linked group says so and lists the
/// members to write; it said "`model` is not a parameter" and listed `arch, lr` without a word
/// on the group.
#[test]
fn a_stage_over_a_linked_group_is_told_to_name_its_members() {
    let exp = Exp::new(&format!(
        "{HEAD}[params]\nseed = [1, 2]\nmodel = [{{ arch = \"r\", lr = 0.1 }}, {{ arch = \"v\", lr = 0.01 }}]\n[[stage]]\nname = \"prep\"\nparams = [\"model\"]\ncommand = \"echo {{arch}}\"\n"
    ));
    let out = exp.run(&["run", "exp.toml", "--dry-run"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("exp.toml:8:10: stage `prep` varies over `model`, which is a linked group, not a parameter\n  help: name its parameters: params = [\"arch\", \"lr\"]"),
        "{}",
        out.stderr()
    );
}
