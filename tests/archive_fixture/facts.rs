//! The run-level facts of the fixture archive: provenance and changes vs the previous run.

use labtrail::provenance::model::*;
use labtrail::report::archive::model::*;
use std::collections::BTreeMap;

/// Every captured fact, as a GPU node with a dirty checkout would give them.
pub fn provenance() -> Provenance {
    Provenance {
        captured_at: "2026-11-30T05:00:00Z".into(),
        partial: vec![],
        code: Probed::Value(Code {
            root: "/home/u/exp".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            branch: Some("main".into()),
            describe: Some("v0.3-2-g0123456-dirty".into()),
            upstream: Some(Upstream {
                name: "origin/main".into(),
                ahead: 2,
                behind: 0,
            }),
            remote_url: Some("https://example.org/u/exp.git".into()),
            on_remote: Some(false),
            dirty: true,
            dirty_files: vec![DirtyFile {
                path: "train.py".into(),
                change: "M".into(),
            }],
            tree: "89abcdef0123456789abcdef0123456789abcdef".into(),
            patch: Patch {
                blob: Some("b3".repeat(32)),
                bytes: 12_600,
                checksum: "b3".repeat(32),
                diffstat: vec![" train.py | 2 +-".into()],
                omitted: vec![],
                over_cap: false,
                missing: None,
            },
        }),
        host: Probed::Value(Host {
            hostname: "node07".into(),
            user: "u".into(),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            kernel: "6.1.0".into(),
            arch: "x86_64".into(),
            cpu_model: "AMD EPYC 7763".into(),
            cpus: 64,
            memory_bytes: 512 << 30,
            slurm: BTreeMap::new(),
        }),
        python: Probed::Value(Python {
            executable: "/home/u/venv/bin/python3".into(),
            version: Some("3.11.4".into()),
            venv: Some("/home/u/venv".into()),
            conda_env: None,
            site_packages: vec!["/home/u/venv/lib/python3.11/site-packages".into()],
        }),
        packages: Probed::Value(Packages {
            all: (0..200)
                .map(|k| Package {
                    name: format!("pkg-{k:03}"),
                    version: "1.0".into(),
                    commit: None,
                    source: "dist-info".into(),
                })
                .collect(),
            chosen: vec![
                ChosenPackage {
                    name: "torch".into(),
                    version: "2.3.1".into(),
                },
                ChosenPackage {
                    name: "vllm".into(),
                    version: "not installed".into(),
                },
            ],
        }),
        gpus: Probed::Value(Gpus {
            driver: "550.54.15".into(),
            cuda: "12.4".into(),
            visible: Some("0,1".into()),
            devices: (0..2)
                .map(|k| Gpu {
                    index: k,
                    name: "NVIDIA A100-SXM4-80GB".into(),
                    uuid: format!("GPU-{k}"),
                    memory_bytes: 80 << 30,
                })
                .collect(),
        }),
        env: Env {
            vars: BTreeMap::from([
                ("CUDA_VISIBLE_DEVICES".into(), "0,1".into()),
                ("HF_TOKEN".into(), "<redacted>".into()),
            ]),
            allowlist: vec!["CUDA_*".into(), "HF_TOKEN".into()],
        },
        data: vec![DataSnapshot {
            pattern: "data/*.jsonl".into(),
            files: 2,
            bytes: 2048,
            lines: 20,
            root: "ab".repeat(32),
            per_file: Some(vec![DataFile {
                path: "data/train.jsonl".into(),
                bytes: 1024,
                lines: 10,
                blake3: "cd".repeat(32),
            }]),
            partial: None,
        }],
        redactions: vec![Redaction {
            place: "env".into(),
            what: "HF_TOKEN".into(),
        }],
    }
}

/// Changes vs a previous run: six summary lines (one too many) and one diff entry.
pub fn changes() -> Changes {
    Changes {
        previous_run_id: "20261129-2200-cd34".into(),
        summary: vec![
            "config: params.lr changed [0.1] → [0.1, 0.01]".into(),
            "code: 0123456..89abcde (2 commits), patch changed".into(),
            "packages: torch 2.3.0 → 2.3.1 (upgraded)".into(),
            "data: data/*.jsonl root changed (1 file)".into(),
            "metrics: train loss 0.2 (-0.03, -13%) better; acc 0.9 (-0.01) worse".into(),
            "a sixth line that must not be shown".into(),
        ],
        diff: RunDiff {
            a: "20261129-2200-cd34".into(),
            b: "20261130-0600-ab12".into(),
            sections: vec![DiffSection {
                name: "config".into(),
                entries: vec![DiffEntry {
                    key: "params.lr".into(),
                    change: "changed".into(),
                    a: Some("[0.1]".into()),
                    b: Some("[0.1,0.01]".into()),
                    note: None,
                }],
            }],
        },
    }
}
