//! A small archive to compare, built field by field (what `labtrail archive` would write for a
//! two-stage run with code, host, GPU, Python, packages and data captured).

use crate::provenance::model::*;
use crate::report::archive::model::*;
use std::collections::BTreeMap;

/// A task of stage `stage` with parameter `rep`, its `val_loss` and `val_acc` summaries.
pub fn task(stage: &str, rep: &str, key: &str) -> TaskArchive {
    TaskArchive {
        key: key.to_string(),
        stage: stage.to_string(),
        label: format!("{stage}/rep={rep}"),
        params: BTreeMap::from([("rep".to_string(), serde_json::json!(rep))]),
        command: format!("python {stage}.py --rep {rep}"),
        state: "done".to_string(),
        reason: None,
        attempts: 1,
        started_at: Some("2026-11-29T10:00:00Z".to_string()),
        finished_at: Some("2026-11-29T10:05:00Z".to_string()),
        duration_s: Some(300.0),
        result: None,
        metrics: vec![
            metric("val_loss", "min", 0.5, 0.42),
            metric("val_acc", "max", 0.8, 0.81),
        ],
        errors: Vec::new(),
        resources: TaskResourceView {
            max_rss_kb: Some(200_000),
            peak_tree_rss_kb: Some(800_000),
            cpu_s: Some(250.0),
            requested_mem_mb: None,
            gpus: Vec::new(),
            rss_source: Some("sampled".to_string()),
            samples: 12,
        },
        artifacts: Vec::new(),
        stdout: None,
        stderr: None,
        job_id: Some("4242".to_string()),
        node: Some("node01".to_string()),
    }
}

/// A metric's summary with its last and best values.
pub fn metric(key: &str, direction: &str, last: f64, best: f64) -> MetricSummary {
    MetricSummary {
        key: key.to_string(),
        count: 100,
        last: Some(last),
        last_step: Some(99.0),
        best: Some(best),
        best_step: Some(80.0),
        direction: direction.to_string(),
        nan_count: 0,
        steps_per_s: Some(3.3),
        step_time_mean_s: Some(0.3),
        step_time_p95_s: Some(0.4),
    }
}

/// A package.
pub fn package(name: &str, version: &str) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        commit: None,
        source: "dist-info".to_string(),
    }
}

fn provenance() -> Provenance {
    Provenance {
        captured_at: "2026-11-29T09:59:59Z".to_string(),
        partial: Vec::new(),
        code: Probed::Value(Code {
            root: "/home/u/proj".to_string(),
            commit: "a".repeat(40),
            branch: Some("main".to_string()),
            describe: None,
            upstream: None,
            remote_url: Some("https://example.org/proj.git".to_string()),
            on_remote: Some(true),
            dirty: false,
            dirty_files: Vec::new(),
            tree: "t".repeat(40),
            patch: Patch {
                blob: None,
                bytes: 0,
                checksum: "0".repeat(64),
                diffstat: Vec::new(),
                omitted: Vec::new(),
                over_cap: false,
                missing: None,
            },
        }),
        host: Probed::Value(Host {
            hostname: "gpu01".to_string(),
            user: "u".to_string(),
            os: "Debian GNU/Linux 12 (bookworm)".to_string(),
            kernel: "6.1.0-18-amd64".to_string(),
            arch: "x86_64".to_string(),
            cpu_model: "AMD EPYC 7763".to_string(),
            cpus: 64,
            memory_bytes: 512 << 30,
            slurm: BTreeMap::from([("SLURM_JOB_ID".to_string(), "4242".to_string())]),
        }),
        python: Probed::Value(Python {
            executable: "/home/u/venv/bin/python3".to_string(),
            version: Some("3.11.4".to_string()),
            venv: Some("/home/u/venv".to_string()),
            conda_env: None,
            site_packages: vec!["/home/u/venv/lib/python3.11/site-packages".to_string()],
        }),
        packages: Probed::Value(Packages {
            all: vec![
                package("numpy", "1.26.4"),
                package("torch", "2.3.0"),
                package("transformers", "4.40.0"),
            ],
            chosen: Vec::new(),
        }),
        gpus: Probed::Value(Gpus {
            driver: "550.54.15".to_string(),
            cuda: "12.4".to_string(),
            visible: Some("0,1".to_string()),
            devices: (0..2)
                .map(|i| Gpu {
                    index: i,
                    name: "NVIDIA A100-SXM4-80GB".to_string(),
                    uuid: format!("GPU-{i}"),
                    memory_bytes: 80 << 30,
                })
                .collect(),
        }),
        env: Env {
            vars: BTreeMap::from([
                ("OMP_NUM_THREADS".to_string(), "8".to_string()),
                ("SLURM_JOB_ID".to_string(), "4242".to_string()),
            ]),
            allowlist: vec!["OMP_*".to_string(), "SLURM_*".to_string()],
        },
        data: vec![DataSnapshot {
            pattern: "data/*.jsonl".to_string(),
            files: 2,
            bytes: 2048,
            lines: 20,
            root: "r".repeat(64),
            per_file: Some(vec![
                data_file("data/a.jsonl", "1"),
                data_file("data/b.jsonl", "2"),
            ]),
            partial: None,
        }],
        redactions: Vec::new(),
    }
}

/// A data file whose hash is `fill` repeated.
pub fn data_file(path: &str, fill: &str) -> DataFile {
    DataFile {
        path: path.to_string(),
        bytes: 1024,
        lines: 10,
        blake3: fill.repeat(64),
    }
}

/// The archive of run `run_id`: stages `train` (rep a, b) and `eval` (rep a).
pub fn archive(run_id: &str) -> Archive {
    Archive {
        schema: ARCHIVE_SCHEMA.to_string(),
        generated_at: "2026-11-29T11:00:00Z".to_string(),
        labtrail_version: "0.6.0".to_string(),
        summary: Summary {
            experiment: "exp".to_string(),
            run_id: run_id.to_string(),
            executor: "slurm".to_string(),
            status: "success".to_string(),
            counts: BTreeMap::from([("done".to_string(), 3)]),
            started_at: "2026-11-29T10:00:00Z".to_string(),
            finished_at: Some("2026-11-29T10:15:00Z".to_string()),
            duration_s: Some(900.0),
            cpu_hours: 0.2,
            gpu_hours: Some(0.5),
            first_failure: None,
        },
        provenance: Probed::Value(provenance()),
        earlier_commits: Vec::new(),
        sessions: Vec::new(),
        config: Config {
            spec_path: "exp.toml".to_string(),
            spec_text: "[params]\nlr = 0.1\n".to_string(),
            flat: BTreeMap::from([
                ("params.lr".to_string(), "0.1".to_string()),
                ("params.rep".to_string(), "[\"a\",\"b\"]".to_string()),
                (
                    "stage.train.command".to_string(),
                    "\"python train.py\"".to_string(),
                ),
            ]),
        },
        paths: Paths {
            store: "/home/u/proj/.labtrail".to_string(),
            run_dir: format!("/home/u/proj/.labtrail/runs/{run_id}"),
            workdir: "/home/u/proj".to_string(),
        },
        stages: Vec::new(),
        tasks: vec![
            task("train", "a", "k1"),
            task("train", "b", "k2"),
            task("eval", "a", "k3"),
        ],
        task_sections: BTreeMap::new(),
        curves: Vec::new(),
        resources: ResourcesSummary {
            task_time_s: 900.0,
            cpu_hours: 0.2,
            gpu_hours: Some(0.5),
            peak_rss_kb: Some(800_000),
            peak_vram_bytes: None,
            avg_vram_bytes: None,
            gpu_util_avg_pct: None,
        },
        changes: Probed::na("no earlier finished run"),
        repro: Repro {
            script: String::new(),
            env: BTreeMap::new(),
            redacted: Vec::new(),
            notes: Vec::new(),
            redactions: Vec::new(),
        },
    }
}

/// The provenance of an archive, to change.
pub fn prov(a: &mut Archive) -> &mut Provenance {
    match &mut a.provenance {
        Probed::Value(p) => p,
        Probed::Na(_) => panic!("the sample archive has provenance"),
    }
}
