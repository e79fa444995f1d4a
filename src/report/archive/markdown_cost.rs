//! The Markdown's last sections: Resources & Cost, Changes vs Previous, and the field
//! checklist with each field's value.

use super::markdown::{cell, na, num, Doc, TABLE_CAP};
use std::fmt::Write;

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
