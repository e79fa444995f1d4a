//! `Archive` values built in memory for the HTML archive's tests: every section filled, sizes
//! chosen by the test (tasks, curves, points per curve). The archive lane's real archives (built
//! from a store) can replace these once `report::archive::build` exists; the tests only need an
//! `Archive`.
#![allow(dead_code)]

use labtrail::provenance::model::*;
use labtrail::report::archive::model::*;
use serde_json::json;
use std::collections::BTreeMap;

mod facts;
use facts::{changes, provenance};

/// What a hostile value looks like: it tries to close an attribute, a `<pre>` and open a script.
pub const HOSTILE: &str =
    "x\"' onmouseover=\"alert(1)\"></pre></code><script>alert('pwned')</script>&amp;";

/// An archive of a `train` (lr × seed) → `eval` run with `tasks` tasks, `curves` metric curves
/// of `points` points each (half `loss`, half `acc`, each with the previous run's curve when
/// `previous`), one failed task in every 1,000 (the 4th first), a blocked and a pending one.
pub fn archive(tasks: usize, curves: usize, points: usize, previous: bool) -> Archive {
    let task_list: Vec<TaskArchive> = (0..tasks).map(|i| task(i, tasks)).collect();
    let mut counts = BTreeMap::new();
    for t in &task_list {
        *counts.entry(t.state.clone()).or_insert(0u64) += 1;
    }
    let first_failed = task_list.iter().find(|t| t.state == "failed");
    let curve_list = (0..curves)
        .map(|j| {
            let t = &task_list[(j / 2) % tasks];
            let key = if j % 2 == 0 { "loss" } else { "acc" };
            Curve {
                stage: t.stage.clone(),
                task: t.key.clone(),
                label: t.label.clone(),
                key: key.into(),
                points: series(j, points, key, 0.0),
                previous: previous.then(|| series(j, points, key, 0.15)),
            }
        })
        .collect();
    Archive {
        schema: ARCHIVE_SCHEMA.into(),
        generated_at: "2026-11-30T06:00:00Z".into(),
        labtrail_version: "0.6.0".into(),
        summary: Summary {
            experiment: "toy_train".into(),
            run_id: "20261130-0600-ab12".into(),
            executor: "local".into(),
            status: if first_failed.is_some() { "failed" } else { "success" }.into(),
            counts,
            started_at: "2026-11-30T05:00:00Z".into(),
            finished_at: Some("2026-11-30T05:42:10Z".into()),
            duration_s: Some(2530.0),
            cpu_hours: 0.71,
            gpu_hours: Some(1.5),
            first_failure: first_failed.map(|t| FailureLine {
                task: t.key.clone(),
                label: t.label.clone(),
                line: "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB".into(),
            }),
        },
        provenance: Probed::Value(provenance()),
        earlier_commits: vec![],
        sessions: vec![],
        config: Config {
            spec_path: "/home/u/exp/experiment.toml".into(),
            spec_text: "[experiment]\nname = \"toy_train\"\n\n[params]\nlr = [0.1, 0.01]\nseed = [1, 2]\n".into(),
            flat: BTreeMap::from([("params.lr".into(), "[0.1,0.01]".into())]),
        },
        paths: Paths {
            store: "/home/u/exp/.labtrail".into(),
            run_dir: "/home/u/exp/.labtrail/runs/20261130-0600-ab12".into(),
            workdir: "/home/u/exp".into(),
        },
        stages: vec![stage(1, "train"), stage(2, "eval")],
        task_sections: BTreeMap::from([(
            "eval".to_string(),
            task_list
                .iter()
                .filter(|t| t.stage == "eval")
                .take(100)
                .map(|t| TaskSection {
                    task: t.key.clone(),
                    label: t.label.clone(),
                    value: json!({"datasets": ["data/val.jsonl"], "acc": 0.91}),
                })
                .collect(),
        )]),
        tasks: task_list,
        curves: curve_list,
        resources: ResourcesSummary {
            task_time_s: 9000.0,
            cpu_hours: 0.71,
            gpu_hours: Some(1.5),
            peak_rss_kb: Some(3_500_000),
            peak_vram_bytes: Some(20 << 30),
            avg_vram_bytes: Some(12 << 30),
            gpu_util_avg_pct: Some(71.25),
        },
        changes: Probed::Value(changes()),
        repro: Repro {
            script: "#!/bin/sh\nset -e\ngit checkout 0123456789abcdef0123456789abcdef01234567\ngit apply <<'LABTRAIL_PATCH'\ndiff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-lr = 0.1\n+lr = 0.2\nLABTRAIL_PATCH\nexport CUDA_VISIBLE_DEVICES=0\nlabtrail run experiment.toml\n".into(),
            env: BTreeMap::from([("CUDA_VISIBLE_DEVICES".into(), "0".into())]),
            redacted: vec!["HF_TOKEN".into()],
            notes: vec![],
            redactions: vec![Redaction { place: "env".into(), what: "HF_TOKEN".into() }],
        },
    }
}

/// A curve: loss falls, acc rises, a wiggle per curve; `shift` moves it (the previous run).
fn series(j: usize, points: usize, key: &str, shift: f64) -> Vec<(f64, f64)> {
    (0..points)
        .map(|i| {
            let t = i as f64 / points.max(1) as f64;
            let wiggle = 0.03 * ((i * 7 + j * 13) as f64).sin();
            let v = if key == "loss" {
                2.0 * (-3.0 * t).exp() + 0.1 + wiggle + shift + j as f64 * 0.01
            } else {
                0.95 - 0.5 * (-4.0 * t).exp() + wiggle - shift - j as f64 * 0.002
            };
            ((i * 10) as f64, v)
        })
        .collect()
}

fn summary(key: &str, last: f64, best: f64, direction: &str) -> MetricSummary {
    MetricSummary {
        key: key.into(),
        count: 500,
        last: Some(last),
        last_step: Some(4990.0),
        best: Some(best),
        best_step: Some(4200.0),
        direction: direction.into(),
        nan_count: 0,
        steps_per_s: Some(250.0),
        step_time_mean_s: Some(0.004),
        step_time_p95_s: Some(0.006),
    }
}

fn task(i: usize, n: usize) -> TaskArchive {
    let train = i < n - n / 5;
    let stage = if train { "train" } else { "eval" };
    let state = if i % 1000 == 3 {
        "failed"
    } else if i == n - 2 && n > 5 {
        "blocked"
    } else if i == n - 1 && n > 5 {
        "pending"
    } else {
        "done"
    };
    let errors = if state == "failed" {
        vec![AttemptError {
            attempt: 2,
            line: Some(
                "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB".into(),
            ),
            kind: "cuda_oom".into(),
            stack: (0..40)
                .map(|k| format!("  File \"train.py\", line {k}, in step"))
                .collect(),
            warnings: BTreeMap::from([("UserWarning".into(), 3)]),
            redactions: vec![],
        }]
    } else {
        vec![]
    };
    TaskArchive {
        key: format!("{:016x}", i as u64 * 0x9e37_79b9 + 1),
        stage: stage.into(),
        label: format!("lr={},seed={}", [0.1, 0.01, 0.001][i % 3], i),
        params: BTreeMap::from([
            ("lr".into(), json!([0.1, 0.01, 0.001][i % 3])),
            ("seed".into(), json!(i)),
        ]),
        command: format!("python3 {stage}.py --lr {{lr}} --seed {{seed}}"),
        state: state.into(),
        reason: None,
        attempts: if state == "failed" { 2 } else { 1 },
        started_at: Some("2026-11-30T05:00:01Z".into()),
        finished_at: Some("2026-11-30T05:01:01Z".into()),
        duration_s: (state != "pending" && state != "blocked").then_some(30.0 + (i % 97) as f64),
        result: Some(json!({"acc": 0.9})),
        metrics: vec![
            summary("loss", 0.2, 0.18, "min"),
            summary("acc", 0.9, 0.91, "max"),
        ],
        errors,
        resources: TaskResourceView {
            max_rss_kb: Some(900_000 + (i as u64 % 50) * 1000),
            peak_tree_rss_kb: Some(3_000_000 + (i as u64 % 50) * 10_000),
            cpu_s: Some(120.5),
            requested_mem_mb: (i % 2 == 0).then_some(4096),
            gpus: vec![GpuUse {
                uuid: "GPU-1234".into(),
                peak_memory_bytes: 20 << 30,
                mean_util_pct: Some(71.0),
                max_util_pct: Some(99.0),
                attribution: "process".into(),
            }],
            rss_source: Some("cgroup".into()),
            samples: 24,
        },
        artifacts: if train {
            vec![
                artifact("checkpoints/ckpt_400.pt", 400, vec!["best"]),
                artifact("checkpoints/ckpt_500.pt", 500, vec!["last"]),
            ]
        } else {
            vec![]
        },
        stdout: Some(format!("/home/u/exp/.labtrail/runs/r/tasks/{i}/stdout.log")),
        stderr: Some(format!("/home/u/exp/.labtrail/runs/r/tasks/{i}/stderr.log")),
        job_id: None,
        node: None,
    }
}

fn artifact(path: &str, step: u64, tags: Vec<&str>) -> Artifact {
    Artifact {
        path: path.into(),
        bytes: 44_000_000,
        mtime: "2026-11-30T05:01:00Z".into(),
        step: Some(step),
        tags: tags.into_iter().map(String::from).collect(),
    }
}

fn stage(step_id: u32, name: &str) -> StageArchive {
    StageArchive {
        step_id,
        name: name.into(),
        status: "failed".into(),
        command: format!("python3 {name}.py --lr {{lr}} --seed {{seed}}"),
        params: BTreeMap::from([("lr".into(), vec![json!(0.1), json!(0.01)])]),
        inputs: Vec::new(),
        outputs: Vec::new(),
        counts: BTreeMap::from([("done".into(), 3), ("failed".into(), 1)]),
        duration_s: Some(1200.0),
        retries: 1,
        warnings: BTreeMap::from([("UserWarning".into(), 3)]),
        metrics: vec![summary("loss", 0.2, 0.18, "min")],
    }
}

/// `a` with a hostile value in every kind of place a value reaches: headings, attributes
/// (titles), table cells, `<pre>` blocks, SVG text and titles.
pub fn hostile(mut a: Archive) -> Archive {
    a.summary.experiment = HOSTILE.into();
    a.summary.run_id = HOSTILE.into();
    a.summary.status = HOSTILE.into();
    a.summary.counts.insert(HOSTILE.into(), 1);
    if let Some(f) = a.summary.first_failure.as_mut() {
        f.line = HOSTILE.into();
        f.label = HOSTILE.into();
    }
    for t in a.tasks.iter_mut() {
        t.key = format!("{}{HOSTILE}", t.key);
        t.label = HOSTILE.into();
        t.stage = HOSTILE.into();
        for e in t.errors.iter_mut() {
            e.line = Some(HOSTILE.into());
            e.stack.push(HOSTILE.into());
        }
        for m in t.metrics.iter_mut() {
            m.key = HOSTILE.into();
        }
    }
    for c in a.curves.iter_mut() {
        c.label = HOSTILE.into();
        c.key = HOSTILE.into();
        c.stage = HOSTILE.into();
        c.task = format!("{}{HOSTILE}", c.task);
    }
    a.config.spec_text = HOSTILE.into();
    a.repro.script = format!("git apply <<'P'\n{HOSTILE}\nP\n{HOSTILE}");
    if let Probed::Value(p) = &mut a.provenance {
        p.env.vars.insert(HOSTILE.into(), HOSTILE.into());
        if let Probed::Value(h) = &mut p.host {
            h.hostname = HOSTILE.into();
        }
    }
    if let Probed::Value(c) = &mut a.changes {
        c.summary = vec![HOSTILE.into()];
        c.previous_run_id = HOSTILE.into();
    }
    a.task_sections.insert(
        HOSTILE.into(),
        vec![TaskSection {
            task: HOSTILE.into(),
            label: HOSTILE.into(),
            value: json!({ HOSTILE: HOSTILE }),
        }],
    );
    a
}
