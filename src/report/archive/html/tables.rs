//! Resources per task, the stages, and the task table: failures first, then the slowest, capped
//! so a 10^4-task run stays small (the JSON archive has every task).

use super::super::model::{Archive, MetricSummary, TaskArchive};
use super::super::svg::fmt_num;
use super::first_screen::state_class;
use super::format::{bytes, clip, duration, duration_opt, hours, kib};
use super::{esc, left_out, open_section};
use std::fmt::Write;

/// Rows of the resources table (the tasks with the largest memory peaks).
pub const RESOURCE_ROWS: usize = 100;
/// Rows of the task table.
pub const TASK_ROWS: usize = 200;

/// Resources per task: the run's totals, then peak memory against what was requested.
pub fn resources(out: &mut String, a: &Archive) {
    let r = &a.resources;
    open_section(out, "resources", "Resources per task", "", true);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "n/a".into());
    let _ = writeln!(
        out,
        "<ul class=\"facts\"><li>task time <b>{}</b></li><li><b>{}</b> CPU-h</li><li><b>{}</b> GPU-h</li><li>peak RSS <b>{}</b></li><li>peak VRAM <b>{}</b></li><li>mean VRAM <b>{}</b></li><li>mean GPU util <b>{}</b></li></ul>",
        duration(r.task_time_s),
        hours(r.cpu_hours),
        opt(r.gpu_hours.map(hours)),
        opt(r.peak_rss_kb.map(kib)),
        opt(r.peak_vram_bytes.map(bytes)),
        opt(r.avg_vram_bytes.map(bytes)),
        opt(r.gpu_util_avg_pct.map(|p| format!("{}%", fmt_num(p))))
    );
    let peak = |t: &TaskArchive| t.resources.peak_tree_rss_kb.or(t.resources.max_rss_kb);
    let mut rows: Vec<(usize, &TaskArchive)> = a
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            peak(t).is_some() || t.resources.cpu_s.is_some() || !t.resources.gpus.is_empty()
        })
        .collect();
    rows.sort_by(|(i, x), (j, y)| peak(y).cmp(&peak(x)).then(i.cmp(j)));
    if rows.is_empty() {
        out.push_str(
            "<p class=\"na\">n/a (no attempt recorded its resource use)</p>\n</details>\n",
        );
        return;
    }
    out.push_str("<table><thead><tr><th>task</th><th>peak RSS (tree)</th><th>largest process</th><th>requested</th><th>used of requested</th><th>CPU</th><th>GPU memory</th><th>GPU util</th></tr></thead><tbody>\n");
    for (_, t) in rows.iter().take(RESOURCE_ROWS) {
        let res = &t.resources;
        let used = match (peak(t), res.requested_mem_mb) {
            (Some(p), Some(req)) if req > 0 => {
                let pct = p as f64 / (req as f64 * 1024.0) * 100.0;
                format!(
                    "<span class=\"bar{}\"><span style=\"width:{}%\"></span></span> {}%",
                    if pct > 100.0 { " over" } else { "" },
                    pct.min(100.0).round(),
                    pct.round()
                )
            }
            _ => "n/a".into(),
        };
        let gpu_mem = res
            .gpus
            .iter()
            .map(|g| g.peak_memory_bytes)
            .max()
            .map(bytes);
        let util = res
            .gpus
            .iter()
            .filter_map(|g| g.mean_util_pct)
            .reduce(f64::max);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{used}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            task_name(t),
            opt(res.peak_tree_rss_kb.map(kib)),
            opt(res.max_rss_kb.map(kib)),
            opt(res.requested_mem_mb.map(|m| bytes(m << 20))),
            opt(res.cpu_s.map(duration)),
            opt(gpu_mem),
            opt(util.map(|u| format!("{}%", fmt_num(u))))
        );
    }
    out.push_str("</tbody></table>\n");
    left_out(out, rows.len().min(RESOURCE_ROWS), rows.len(), "tasks");
    out.push_str("</details>\n");
}

/// `stage/label`, with the full key on hover. The label of a staged experiment's task already
/// starts with its stage (`train/lr=0.1`, or `train` alone): then it is shown as is.
fn task_name(t: &TaskArchive) -> String {
    format!(
        "<span title=\"{}\">{}</span>",
        esc(&t.key),
        esc(&clip(&with_stage(t), 80))
    )
}

/// The task's label, prefixed with its stage unless the label names it already.
pub fn with_stage(t: &TaskArchive) -> String {
    let has_stage = t.label == t.stage
        || t.label
            .strip_prefix(t.stage.as_str())
            .is_some_and(|rest| rest.starts_with('/'));
    if has_stage {
        t.label.clone()
    } else {
        format!("{}/{}", t.stage, t.label)
    }
}

/// `loss 0.12 (best 0.1 @ 400)` for up to `n` metrics.
fn metric_cell(ms: &[MetricSummary], n: usize) -> String {
    let mut s = String::new();
    for m in ms.iter().take(n) {
        let _ = write!(
            s,
            "{}{} {}",
            if s.is_empty() { "" } else { "; " },
            esc(&m.key),
            m.last.map(fmt_num).unwrap_or_else(|| "n/a".into())
        );
        if let (Some(b), true) = (m.best, m.best != m.last) {
            let _ = write!(s, " (best {}", fmt_num(b));
            if let Some(step) = m.best_step {
                let _ = write!(s, " @ {}", fmt_num(step));
            }
            s.push(')');
        }
        if m.nan_count > 0 {
            let _ = write!(s, " <span class=\"warn\">{} NaN</span>", m.nan_count);
        }
    }
    s
}

/// The stages (seed 004's steps), then the task table.
pub fn stages_and_tasks(out: &mut String, a: &Archive) {
    open_section(
        out,
        "tasks",
        "Stages and tasks",
        "failures first, then the slowest",
        true,
    );
    out.push_str("<table><thead><tr><th>#</th><th>stage</th><th>status</th><th>tasks</th><th>time</th><th>retries</th><th>warnings</th><th>best metrics</th><th>command</th></tr></thead><tbody>\n");
    for s in &a.stages {
        let counts: Vec<String> = s
            .counts
            .iter()
            .map(|(k, n)| format!("{n} {}", esc(k)))
            .collect();
        let warnings: u32 = s.warnings.values().sum();
        let kinds: Vec<String> = s
            .warnings
            .iter()
            .map(|(k, n)| format!("{}: {n}", esc(k)))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><b>{}</b></td><td class=\"st {}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td title=\"{}\">{warnings}</td><td>{}</td><td><code>{}</code></td></tr>",
            s.step_id,
            esc(&s.name),
            state_class(&s.status),
            esc(&s.status),
            counts.join(", "),
            duration_opt(s.duration_s),
            s.retries,
            kinds.join(", "),
            metric_cell(&s.metrics, 4),
            esc(&clip(&s.command, 160))
        );
    }
    out.push_str("</tbody></table>\n");
    let mut order: Vec<(usize, &TaskArchive)> = a.tasks.iter().enumerate().collect();
    let rank = |t: &TaskArchive| u8::from(t.state != "failed");
    order.sort_by(|(i, x), (j, y)| {
        rank(x)
            .cmp(&rank(y))
            .then(
                y.duration_s
                    .unwrap_or(-1.0)
                    .total_cmp(&x.duration_s.unwrap_or(-1.0)),
            )
            .then(i.cmp(j))
    });
    out.push_str("<table class=\"tasks\"><thead><tr><th>state</th><th>task</th><th>attempts</th><th>time</th><th>metrics</th><th>error / where</th></tr></thead><tbody>\n");
    for (_, t) in order.iter().take(TASK_ROWS) {
        let error = t.errors.last().map(|e| {
            let line = e.line.as_deref().unwrap_or(&e.kind);
            format!("<span class=\"err\">{}</span>", esc(&clip(line, 200)))
        });
        let place = [t.node.as_deref(), t.job_id.as_deref().map(|j| j.trim())]
            .iter()
            .flatten()
            .map(|s| esc(s).into_owned())
            .collect::<Vec<_>>()
            .join(" · job ");
        let _ = writeln!(
            out,
            "<tr><td class=\"st {}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            state_class(&t.state),
            esc(&t.state),
            task_name(t),
            t.attempts,
            duration_opt(t.duration_s),
            metric_cell(&t.metrics, 3),
            error.unwrap_or(place)
        );
    }
    out.push_str("</tbody></table>\n");
    left_out(out, a.tasks.len().min(TASK_ROWS), a.tasks.len(), "tasks");
    out.push_str("</details>\n");
}
