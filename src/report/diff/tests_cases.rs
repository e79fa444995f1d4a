//! Issue 12: `labtrail diff`'s comparison, on archives built by [`super::tests`].

use super::tests::{archive, metric, package, prov, task};
use super::*;
use crate::report::archive::model::{DiffEntry, RunDiff};

pub(super) fn entries<'d>(diff: &'d RunDiff, section: &str) -> Vec<&'d DiffEntry> {
    diff.sections
        .iter()
        .filter(|s| s.name == section)
        .flat_map(|s| &s.entries)
        .collect()
}

pub(super) fn entry<'d>(diff: &'d RunDiff, section: &str, key: &str) -> &'d DiffEntry {
    entries(diff, section)
        .into_iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no {section} entry {key} in {diff:#?}"))
}

pub(super) fn default_diff(a: &Archive, b: &Archive) -> RunDiff {
    compare(a, b, &DiffOptions::default())
}

/// Issue 12: what differs between two archives of the same run's content is only what never
/// counts: when it was written, start and end times, job ids, nodes, SLURM ids, capture time,
/// and durations within the resource tolerance.
#[test]
fn volatile_fields_never_count() {
    let a = archive("r1");
    let mut b = archive("r2");
    b.generated_at = "2026-12-01T00:00:00Z".into();
    b.summary.started_at = "2026-12-01T00:00:00Z".into();
    b.summary.finished_at = None;
    b.summary.duration_s = Some(950.0);
    b.paths.run_dir = "/elsewhere".into();
    for t in &mut b.tasks {
        t.started_at = None;
        t.finished_at = Some("2026-12-01T00:05:00Z".into());
        t.job_id = Some("9999".into());
        t.node = Some("node77".into());
        t.duration_s = Some(310.0);
    }
    let p = prov(&mut b);
    p.captured_at = "2026-12-01T00:00:00Z".into();
    p.env.vars.insert("SLURM_JOB_ID".into(), "9999".into());
    p.env
        .vars
        .insert("SLURM_JOB_NODELIST".into(), "node77".into());
    let diff = default_diff(&a, &b);
    assert!(diff.sections.is_empty(), "{diff:#?}");
    assert!(!differs(&diff));
    assert_eq!(summary_lines(&diff), ["no differences"]);
}

/// Issue 12: config keys added, removed and changed, by their dotted names.
#[test]
fn config_keys_added_removed_changed() {
    let a = archive("r1");
    let mut b = archive("r2");
    b.config.flat.insert("params.lr".into(), "0.2".into());
    b.config.flat.remove("params.rep");
    b.config.flat.insert("params.wd".into(), "0.01".into());
    let diff = default_diff(&a, &b);
    let keys: Vec<(&str, &str)> = entries(&diff, "config")
        .iter()
        .map(|e| (e.key.as_str(), e.change.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("params.lr", CHANGED),
            ("params.rep", REMOVED),
            ("params.wd", ADDED)
        ]
    );
    assert_eq!(diff.sections.len(), 1, "only config differs");
    assert!(summary_lines(&diff)[0]
        .starts_with("config: 3 keys changed (params.lr, params.rep, params.wd)"));
}

/// Issue 12: packages up and down in PEP 440's order (rc < final < post, 1.9 < 1.10), added,
/// removed, and a version that is not PEP 440 only `changed`.
#[test]
fn packages_upgraded_downgraded_by_pep_440() {
    let mut a = archive("r1");
    let mut b = archive("r2");
    let pa = prov(&mut a);
    if let Probed::Value(p) = &mut pa.packages {
        p.all = vec![
            package("accelerate", "1.9"),
            package("numpy", "1.26.4"),
            package("odd", "build-7"),
            package("torch", "2.3.0rc1"),
            package("transformers", "2.3.0.post1"),
        ];
    }
    let pb = prov(&mut b);
    if let Probed::Value(p) = &mut pb.packages {
        p.all = vec![
            package("accelerate", "1.10"),
            package("odd", "build-8"),
            package("torch", "2.3.0"),
            package("transformers", "2.3.0"),
            package("vllm", "0.4.2"),
        ];
    }
    let diff = default_diff(&a, &b);
    let note = |k: &str| entry(&diff, "packages", k).note.clone();
    assert_eq!(
        note("accelerate").as_deref(),
        Some("upgraded"),
        "1.9 → 1.10"
    );
    assert_eq!(note("torch").as_deref(), Some("upgraded"), "rc1 → final");
    assert_eq!(
        note("transformers").as_deref(),
        Some("downgraded"),
        "post1 → final"
    );
    assert_eq!(entry(&diff, "packages", "odd").change, CHANGED);
    assert_eq!(
        note("odd").as_deref(),
        Some("changed"),
        "no PEP 440 order: labelled changed"
    );
    assert_eq!(entry(&diff, "packages", "numpy").change, REMOVED);
    assert_eq!(entry(&diff, "packages", "vllm").change, ADDED);
    let line = summary_lines(&diff).remove(0);
    assert!(
        line.starts_with("packages: 2 up, 1 down, 1 added, 1 removed, 1 changed (torch 2.3.0rc1 → 2.3.0, transformers"),
        "{line}"
    );
}

/// Issue 12: a task whose command changed has a new key; it pairs with its old self by stage
/// and parameters (not "only in A" plus "only in B"), and its metrics are compared.
#[test]
fn tasks_pair_by_stage_and_params_after_a_command_change() {
    let a = archive("r1");
    let mut b = archive("r2");
    b.tasks[0].key = "k1-new".into();
    b.tasks[0].command = "python train.py --rep a --fp16".into();
    b.tasks[0].metrics[0] = metric("val_loss", "min", 0.45, 0.40);
    b.tasks[1].state = "failed".into();
    b.tasks.remove(2);
    b.tasks.push(task("eval", "c", "k4"));
    let diff = default_diff(&a, &b);
    let cmd = entry(&diff, "tasks", "train/rep=a: command");
    assert_eq!(cmd.change, CHANGED);
    assert_eq!(cmd.note.as_deref(), Some("matched by stage and parameters"));
    assert_eq!(
        entry(&diff, "tasks", "train/rep=b: state").b.as_deref(),
        Some("failed")
    );
    assert_eq!(
        entry(&diff, "tasks", "eval/rep=a").note.as_deref(),
        Some("only in A")
    );
    assert_eq!(
        entry(&diff, "tasks", "eval/rep=c").note.as_deref(),
        Some("only in B")
    );
    assert!(
        !entries(&diff, "tasks")
            .iter()
            .any(|e| e.key == "train/rep=a"),
        "the changed task is not reported as only in one run"
    );
    let best = entry(&diff, "metrics", "train/rep=a/val_loss.best");
    assert_eq!(best.note.as_deref(), Some("-0.02 (-4.8%) better"));
}

/// Issue 12: better and worse follow each metric's direction; a relative change within
/// `--tolerance` is the same.
#[test]
fn metrics_better_or_worse_by_direction_and_tolerance() {
    let a = archive("r1");
    let mut b = archive("r2");
    b.tasks[0].metrics = vec![
        metric("val_loss", "min", 0.5, 0.43),
        metric("val_acc", "max", 0.8, 0.85),
    ];
    b.tasks[1].metrics = vec![
        metric("val_loss", "min", 0.5, 0.40),
        metric("val_acc", "max", 0.8, 0.78),
    ];
    let diff = default_diff(&a, &b);
    let note = |k: &str| entry(&diff, "metrics", k).note.clone().unwrap_or_default();
    assert!(
        note("train/rep=a/val_loss.best").ends_with("worse"),
        "loss went up"
    );
    assert!(
        note("train/rep=a/val_acc.best").ends_with("better"),
        "accuracy went up"
    );
    assert!(
        note("train/rep=b/val_loss.best").ends_with("better"),
        "loss went down"
    );
    assert!(
        note("train/rep=b/val_acc.best").ends_with("worse"),
        "accuracy went down"
    );
    assert!(!entries(&diff, "metrics")
        .iter()
        .any(|e| e.key.ends_with(".last")));

    let loose = DiffOptions {
        tolerance: 0.03,
        ..DiffOptions::default()
    };
    let diff = compare(&a, &b, &loose);
    let keys: Vec<&str> = entries(&diff, "metrics")
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    // 0.42 → 0.43 is +2.4 %, 0.81 → 0.78 is -3.7 %.
    assert_eq!(
        keys,
        [
            "train/rep=a/val_acc.best",
            "train/rep=b/val_loss.best",
            "train/rep=b/val_acc.best"
        ]
    );
    let line = summary_lines(&diff).pop().expect("a metrics line");
    assert!(
        line.starts_with("metrics: 2 better, 1 worse; train/rep=a/val_acc.best 0.81 → 0.85"),
        "{line}"
    );
}

/// Issue 12: `--all` keeps every section, in order, and the equal fields, and still says the
/// runs are the same.
#[test]
fn all_keeps_equal_fields_and_every_section() {
    let a = archive("r1");
    let diff = compare(
        &a,
        &archive("r2"),
        &DiffOptions {
            all: true,
            ..DiffOptions::default()
        },
    );
    let names: Vec<&str> = diff.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, SECTIONS);
    assert!(
        diff.sections.iter().all(|s| !s.entries.is_empty()),
        "{names:?}"
    );
    assert_eq!(entry(&diff, "packages", "torch").change, SAME);
    assert!(!differs(&diff));
}

/// Issue 12: with every section changed, "changes vs previous" stays at 5 lines: config, code,
/// packages, data, metrics (environment and tasks give way).
#[test]
fn summary_is_at_most_five_lines_in_order() {
    let a = archive("r1");
    let mut b = archive("r2");
    b.config.flat.insert("params.lr".into(), "0.2".into());
    b.tasks[1].state = "failed".into();
    b.tasks[0].metrics[1] = metric("val_acc", "max", 0.8, 0.9);
    let p = prov(&mut b);
    if let Probed::Value(c) = &mut p.code {
        c.commit = "b".repeat(40);
    }
    if let Probed::Value(h) = &mut p.host {
        h.hostname = "gpu02".into();
    }
    if let Probed::Value(pk) = &mut p.packages {
        pk.all[1].version = "2.4.0".into();
    }
    p.data[0].root = "s".repeat(64);
    let lines = summary_lines(&default_diff(&a, &b));
    let heads: Vec<&str> = lines
        .iter()
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        heads,
        ["config", "code", "packages", "data", "metrics"],
        "{lines:#?}"
    );
    assert_eq!(lines[2], "packages: 1 up (torch 2.3.0 → 2.4.0)");
    assert_eq!(
        lines[4],
        "metrics: 1 better, 0 worse; train/rep=a/val_acc.best 0.81 → 0.9 +0.09 (+11.1%) better"
    );
}
