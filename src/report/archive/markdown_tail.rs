//! The Markdown sections around "Steps": Config Snapshot, Paths, Data Snapshot, Data Copy,
//! Repro, Artifacts, Resources & Cost, Changes vs Previous and the field checklist.

use super::markdown::{cell, na, Doc, TABLE_CAP};
use std::fmt::Write;

pub(super) fn config(d: &mut Doc) {
    let c = &d.a.config;
    d.heading("Config Snapshot");
    d.field(0, "pipeline_config", &c.spec_path);
    d.field(
        0,
        "steps_config_dir",
        na("stages are defined in the experiment file itself"),
    );
    let (steps, pipeline): (Vec<_>, Vec<_>) =
        c.flat.iter().partition(|(k, _)| k.starts_with("stage."));
    if c.flat.is_empty() {
        d.field(
            0,
            "pipeline_resolved",
            na("the recorded experiment file does not parse"),
        );
    } else {
        d.field(0, "pipeline_resolved", "");
        for (k, v) in pipeline.iter().take(TABLE_CAP) {
            let _ = writeln!(d.out, "  {k}: {v}");
        }
        if pipeline.len() > TABLE_CAP {
            let _ = writeln!(
                d.out,
                "  # {} more keys left out",
                pipeline.len() - TABLE_CAP
            );
        }
    }
    if steps.is_empty() {
        d.field(
            0,
            "steps_resolved",
            na("the experiment has one command, no [[stage]]"),
        );
    } else {
        d.field(0, "steps_resolved", "");
        let mut current = "";
        for (k, v) in steps.iter().take(TABLE_CAP) {
            let rest = &k["stage.".len()..];
            let (stage, key) = rest.split_once('.').unwrap_or((rest, ""));
            if stage != current {
                let _ = writeln!(d.out, "  {}#stage.{stage}:", c.spec_path);
                current = stage;
            }
            let _ = writeln!(d.out, "    {key}: {v}");
        }
        if steps.len() > TABLE_CAP {
            let _ = writeln!(d.out, "  # {} more keys left out", steps.len() - TABLE_CAP);
        }
    }
}

/// Why a provenance record has no data snapshot: no patterns configured, or the snapshot of the
/// configured ones had not finished (capture lists the `data` probe as partial then).
pub fn no_data_snapshot(pr: &crate::provenance::model::Provenance, status: &str) -> String {
    match pr.partial.iter().find(|p| p.starts_with("data")) {
        None => "no `[archive] data` patterns".into(),
        Some(p) if p.len() > "data".len() => format!("data snapshot partial: {p}"),
        Some(_) if status == "running" => "data snapshot partial: still being captured".into(),
        Some(_) => "data snapshot partial: patterns are configured, but the snapshot did not \
                    finish before capture ended or the run stopped"
            .into(),
    }
}

pub(super) fn paths_and_data(d: &mut Doc) {
    let p = &d.a.paths;
    d.heading("Paths");
    let root = match d.a.provenance.value() {
        None => na(super::build::NO_PROVENANCE),
        Some(pr) if pr.data.is_empty() => na(&no_data_snapshot(pr, &d.a.summary.status)),
        Some(pr) => {
            let patterns: Vec<&str> = pr.data.iter().map(|s| s.pattern.as_str()).collect();
            format!("{} (patterns: {})", p.workdir, patterns.join(", "))
        }
    };
    d.field(0, "datapool_root", root);
    d.field(0, "workdir", &p.workdir);
    d.field(0, "logs_root", format!("{}/attempts", p.run_dir));
    d.field(0, "run_dir", &p.run_dir);
    d.field(0, "store", &p.store);

    d.heading("Data Snapshot");
    match d.a.provenance.value() {
        None => d.line(na(super::build::NO_PROVENANCE)),
        Some(pr) if pr.data.is_empty() => d.line(na(&no_data_snapshot(pr, &d.a.summary.status))),
        Some(pr) => {
            for s in &pr.data {
                let partial = s
                    .partial
                    .as_ref()
                    .map(|w| format!(", partial: {w}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    d.out,
                    "- {}: (files={}, lines={}, bytes={}, root={}{partial})",
                    s.pattern, s.files, s.lines, s.bytes, s.root
                );
            }
        }
    }

    d.heading("Data Copy (Prepare)");
    d.line("| source | destination | files_copied | files_skipped | note |");
    d.line("| --- | --- | --- | --- | --- |");
    let rows: Vec<serde_json::Value> =
        d.a.task_sections
            .get("data_copy")
            .map(|v| {
                v.iter()
                    .flat_map(|s| match &s.value {
                        serde_json::Value::Array(items) => items.clone(),
                        other => vec![other.clone()],
                    })
                    .collect()
            })
            .unwrap_or_default();
    let field = |r: &serde_json::Value, k: &str| match r.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "n/a".into(),
    };
    for r in rows.iter().take(TABLE_CAP) {
        let cols = [
            "source",
            "destination",
            "files_copied",
            "files_skipped",
            "note",
        ]
        .map(|k| cell(&field(r, k)));
        d.line(format!("| {} |", cols.join(" | ")));
    }
    let status = if rows.is_empty() {
        let why = na("no task wrote `archive.data_copy` in its result");
        d.line(format!("| {why} | | | | |"));
        why
    } else {
        format!("{} rows filled by tasks", rows.len())
    };
    d.check(
        "Data Copy",
        "files_copied/files_skipped",
        "Copy stats",
        &status,
    );
}

pub(super) fn repro(d: &mut Doc) {
    let r = &d.a.repro;
    d.heading("Repro");
    d.field(
        0,
        "prepare",
        na("labtrail runs every stage itself; nothing to prepare"),
    );
    let run = r.script.lines().last().unwrap_or("").to_string();
    d.field(0, "run", format!("`{run}`"));
    if r.env.is_empty() {
        d.field(0, "env", na("no environment variables captured"));
    } else {
        d.field(0, "env", "");
        for (k, v) in &r.env {
            let _ = writeln!(d.out, "  {k}: {v}");
        }
    }
    if !r.redacted.is_empty() {
        d.field(0, "redacted (set by hand)", r.redacted.join(", "));
    }
    for n in &r.notes {
        d.field(0, "note", n);
    }
    d.line("\n```sh");
    d.out.push_str(&r.script);
    d.line("```");
}

pub(super) fn artifacts(d: &mut Doc) {
    d.heading("Artifacts");
    let all: Vec<_> =
        d.a.tasks
            .iter()
            .flat_map(|t| t.artifacts.iter().map(move |a| (t, a)))
            .collect();
    let mut tags = Vec::new();
    if all.is_empty() {
        d.field(
            0,
            "checkpoints",
            na("no artifacts recorded; a stage's `artifacts` patterns name them"),
        );
    } else {
        d.field(0, "checkpoints", "");
        for (t, a) in all.iter().take(TABLE_CAP) {
            let tag = if a.tags.is_empty() {
                "other".to_string()
            } else {
                a.tags.join(",")
            };
            let step = a
                .step
                .map(|s| s.to_string())
                .unwrap_or_else(|| na("no step in the name"));
            let _ = writeln!(
                d.out,
                "  - path: {}/tasks/{}/{}",
                d.a.paths.run_dir, t.key, a.path
            );
            let _ = writeln!(
                d.out,
                "    tag: {tag}\n    step: {step}\n    bytes: {}",
                a.bytes
            );
            for tg in &a.tags {
                if !tags.contains(tg) {
                    tags.push(tg.clone());
                }
            }
        }
        if all.len() > TABLE_CAP {
            let _ = writeln!(
                d.out,
                "  # {} more artifacts left out",
                all.len() - TABLE_CAP
            );
        }
    }
    d.field(
        0,
        "hf_models",
        na("not told apart from other artifacts: listed under checkpoints"),
    );
    d.field(
        0,
        "reports",
        na("not told apart: task results are in the JSON archive, `tasks[].result`"),
    );
    let status = if tags.is_empty() {
        na("no tagged checkpoint")
    } else {
        tags.join(", ")
    };
    d.check("Artifacts", "last/best ckpt", "Checkpoint lineage", &status);
}
