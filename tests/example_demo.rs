//! Issue 14 (review): the examples do what their headers say, run as they say. The demo: a
//! slice with `--only rep=spectral` (its training tasks on GPU 0 or 1, never one GPU for two at
//! once), then the rest, then a table per representation and layer set over the seeds.

mod common;
use common::*;
use serde_json::Value;

/// The commands of an example's header (`#   labtrail …`), as arguments, with `path` (the
/// experiment file's path from the repository's root) made `to`.
fn header_commands(toml: &str, path: &str, to: &str) -> Vec<Vec<String>> {
    toml.lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("#   labtrail "))
        .map(|l| {
            let command = l.split(" # ").next().unwrap().split(" | ").next().unwrap();
            command
                .split_whitespace()
                .map(|a| a.replace(path, to))
                .collect()
        })
        .collect()
}

/// `(key, device, started_at, ended_at)` of every attempt that was handed a GPU.
fn gpu_attempts(exp: &Exp) -> Vec<(String, String, String, String)> {
    let rows: Vec<String> = exp.column(
        "SELECT a.task_key || ' ' || e.detail || ' ' || a.started_at || ' ' || a.ended_at \
         FROM attempts a JOIN events e ON e.task_key = a.task_key AND e.kind = 'devices' \
         AND e.detail LIKE 'attempt ' || a.number || ':%'",
    );
    rows.iter()
        .filter_map(|r| {
            // KEY attempt N: CUDA_VISIBLE_DEVICES=D (worker slot S) STARTED ENDED
            let f: Vec<&str> = r.split(' ').collect();
            let device = f[3].strip_prefix("CUDA_VISIBLE_DEVICES=").unwrap();
            (!device.is_empty()).then(|| (f[0].into(), device.into(), f[7].into(), f[8].into()))
        })
        .collect()
}

/// Issue 14 (review): the demo's header, run command by command on a copy of the demo.
#[test]
fn the_demo_runs_as_its_header_says() {
    let exp = Exp::new("");
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    for f in ["experiment.toml", "demo_task.py"] {
        std::fs::copy(demo.join(f), exp.file(f)).unwrap();
    }
    let commands = header_commands(
        &std::fs::read_to_string(demo.join("experiment.toml")).unwrap(),
        "examples/demo/experiment.toml",
        "experiment.toml",
    );
    assert!(commands.len() >= 4, "{commands:?}");
    assert_eq!(
        commands[0][..3],
        ["run", "experiment.toml", "--only"],
        "{commands:?}"
    );
    assert_eq!(commands[1], ["run", "experiment.toml"]);

    let slice: Vec<&str> = commands[0].iter().map(String::as_str).collect();
    exp.run_ok(&slice);
    let done: Vec<String> = exp
        .tasks()
        .iter()
        .filter(|t| t["state"] == "done")
        .map(|t| t["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(done.len(), 6, "{done:?}");
    assert_eq!(
        done.iter().filter(|l| l.contains("rep=spectral")).count(),
        4
    );
    let trained = gpu_attempts(&exp);
    assert_eq!(
        trained.len(),
        4,
        "every training attempt had a GPU: {trained:?}"
    );
    for (i, a) in trained.iter().enumerate() {
        assert!(["0", "1"].contains(&a.1.as_str()), "{a:?}");
        for b in &trained[i + 1..] {
            let overlap = a.2 < b.3 && b.2 < a.3;
            assert!(
                a.1 != b.1 || !overlap,
                "GPU {} held by two at once: {a:?} {b:?}",
                a.1
            );
        }
    }

    for command in &commands[1..] {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let out = exp.run_ok(&args);
        assert!(
            !out.stdout().is_empty() || args[0] == "run",
            "{args:?} printed nothing"
        );
    }
    assert_eq!(exp.count("done"), 10);
    let attempts: Vec<i64> = exp.column("SELECT COUNT(*) FROM attempts");
    assert_eq!(attempts, [10], "the slice's tasks ran once");

    let out = exp.run_ok(&[
        "results",
        "experiment.toml",
        "--group-by",
        "rep,layers",
        "--stage",
        "train",
    ]);
    let groups: Value = serde_json::from_str(&out.stdout()).unwrap();
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 4, "{groups:?}");
    for g in groups {
        assert_eq!(g["tasks"], 2, "{g}");
        assert_eq!(g["results"]["val_acc"]["count"], 2, "{g}");
    }
}

/// Issue 14 (review): the training example's header, run verbatim from a copy of the
/// repository's root (its `archive` line named no store, and found none from there).
#[test]
fn the_train_example_runs_as_its_header_says() {
    let root = tempfile::tempdir().unwrap();
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/train");
    let to = root.path().join("examples/train");
    std::fs::create_dir_all(to.join("data")).unwrap();
    for f in [
        "experiment.toml",
        "train.py",
        "eval.py",
        "data/train.jsonl",
        "data/val.jsonl",
    ] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    let toml = std::fs::read_to_string(to.join("experiment.toml")).unwrap();
    let commands = header_commands(&toml, "", "");
    assert!(commands.len() >= 3, "{commands:?}");
    for command in &commands {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_labtrail"))
            .args(command)
            .current_dir(root.path())
            .env_remove("LABTRAIL_STORE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "labtrail {command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(root.path().join("archive.html").exists());
}
