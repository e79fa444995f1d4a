//! The Markdown sections around "Steps": Config Snapshot, Paths, Data Snapshot, Data Copy,
//! Repro, Artifacts, Resources & Cost, Changes vs Previous and the field checklist.

use super::markdown::{cell, na, num, Doc, TABLE_CAP};
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

pub(super) fn paths_and_data(d: &mut Doc) {
    let p = &d.a.paths;
    d.heading("Paths");
    let root = match d.a.provenance.value() {
        None => na(super::build::NO_PROVENANCE),
        Some(pr) if pr.data.is_empty() => na("no `[archive] data` patterns"),
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
        Some(pr) if pr.data.is_empty() => d.line(na("no `[archive] data` patterns")),
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

pub(super) fn resources(d: &mut Doc) {
    let r = &d.a.resources;
    d.heading("Resources & Cost");
    d.field(0, "train_time_sec", num(r.task_time_s.round()));
    d.field(0, "cpu_hours", num(r.cpu_hours));
    d.field(
        0,
        "gpu_hours",
        r.gpu_hours
            .map(num)
            .unwrap_or_else(|| na("no GPU use recorded")),
    );
    let gib = |b: f64| num((b / (1u64 << 30) as f64 * 1000.0).round() / 1000.0);
    let rss = r.peak_rss_kb.map(|k| gib(k as f64 * 1024.0));
    d.field(
        0,
        "peak_rss_gb",
        rss.unwrap_or_else(|| na("no memory use recorded")),
    );
    let vram = r
        .peak_vram_bytes
        .map(|b| gib(b as f64))
        .unwrap_or_else(|| na("no GPU use recorded"));
    d.field(0, "peak_vram_gb", &vram);
    d.check("Resources", "peak_vram", "Cost tracking", &vram);
    let avg = r
        .avg_vram_bytes
        .map(|b| gib(b as f64))
        .unwrap_or_else(|| na("no GPU use recorded"));
    d.field(0, "avg_vram_gb", avg);
    let util = r
        .gpu_util_avg_pct
        .map(num)
        .unwrap_or_else(|| na("no GPU utilisation sampled"));
    d.field(0, "gpu_util_avg_pct", util);
}

pub(super) fn changes(d: &mut Doc) {
    d.heading("Changes vs Previous");
    let status = match &d.a.changes {
        crate::provenance::model::Probed::Na(why) => {
            d.field(0, "previous_run_id", na(why));
            d.field(0, "config_diff", na(why));
            na(why)
        }
        crate::provenance::model::Probed::Value(c) => {
            d.field(0, "previous_run_id", &c.previous_run_id);
            let config = c.diff.sections.iter().find(|s| s.name == "config");
            let n = config.map_or(0, |s| s.entries.len());
            d.field(0, "config_diff", format!("{n} keys differ"));
            for e in config
                .map(|s| s.entries.as_slice())
                .unwrap_or_default()
                .iter()
                .take(TABLE_CAP)
            {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
                let _ = writeln!(
                    d.out,
                    "  {} ({}): {} -> {}",
                    e.key,
                    e.change,
                    show(&e.a),
                    show(&e.b)
                );
            }
            if c.summary.is_empty() {
                d.field(0, "summary", "no differences");
            } else {
                d.field(0, "summary", "");
                for l in &c.summary {
                    let _ = writeln!(d.out, "  - {l}");
                }
            }
            format!("{n} config keys differ from {}", c.previous_run_id)
        }
    };
    d.check("Changes", "config_diff", "Diff vs previous", &status);
}

pub(super) fn checklist(d: &mut Doc) {
    d.heading("Field Table (Checklist)");
    d.line("| section | field | description | value |");
    d.line("| --- | --- | --- | --- |");
    let rows = std::mem::take(&mut d.checklist);
    for [s, f, desc, v] in rows {
        d.line(format!(
            "| {} | {} | {} | {} |",
            cell(&s),
            cell(&f),
            cell(&desc),
            cell(&v)
        ));
    }
}
