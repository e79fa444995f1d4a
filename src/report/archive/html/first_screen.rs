//! The first screen: the verdict line, the changes vs the previous run, the provenance strip.

use super::super::model::{Archive, Changes};
use super::super::svg::{counts_bar, ordered_counts};
use super::format::{bytes, clip, duration_opt, hours};
use super::{esc, open_section};
use crate::provenance::model::{Probed, Provenance};
use std::fmt::Write;

/// The lines of the first failure's stack shown under its error line.
const STACK_LINES: usize = 12;
/// The entries of the full diff listed under the changes.
const DIFF_ROWS: usize = 200;

/// A CSS class for a state or status word: one of a fixed set, never the value itself.
pub fn state_class(state: &str) -> &'static str {
    match state {
        "done" | "success" => "done",
        "failed" => "failed",
        "blocked" => "blocked",
        "running" => "running",
        "interrupted" | "incomplete" => "interrupted",
        "pending" => "pending",
        _ => "other",
    }
}

/// Status, counts bar, wall time, CPU- and GPU-hours, and the first failure with its stack.
pub fn verdict(out: &mut String, a: &Archive) {
    let s = &a.summary;
    let counts = ordered_counts(&s.counts);
    let _ = write!(
        out,
        "<header id=\"verdict\" class=\"verdict v-{}\">\n<h1>{} <span class=\"run\">run {} · {}</span></h1>\n<div class=\"line\"><span class=\"badge\">{}</span>{}<span class=\"counts\">",
        state_class(&s.status),
        esc(&s.experiment),
        esc(&s.run_id),
        esc(&s.executor),
        esc(&s.status),
        counts_bar(&counts)
    );
    for (i, (state, n)) in counts.iter().enumerate() {
        let _ = write!(
            out,
            "{}<i class=\"sw st-{}\"></i>{n} {}",
            if i > 0 { " · " } else { "" },
            state_class(state),
            esc(state)
        );
    }
    let gpu = s.gpu_hours.map(hours).unwrap_or_else(|| "n/a".into());
    let _ = write!(
        out,
        "</span></div>\n<ul class=\"facts\"><li>wall <b>{}</b></li><li><b>{}</b> CPU-h</li><li><b>{}</b> GPU-h</li><li>started {}{}</li></ul>\n",
        duration_opt(s.duration_s),
        hours(s.cpu_hours),
        esc(&gpu),
        esc(&s.started_at),
        s.finished_at
            .as_deref()
            .map(|f| format!(", finished {}", esc(f)))
            .unwrap_or_default()
    );
    if let Some(f) = &s.first_failure {
        let task = a.tasks.iter().find(|t| t.key == f.task);
        let stage = task.map(|t| t.stage.as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "<p class=\"failure\"><span class=\"k\">first failure</span> <code>{}{}{}</code> <span class=\"err\">{}</span></p>",
            esc(stage),
            if stage.is_empty() { "" } else { "/" },
            esc(&f.label),
            esc(&clip(&f.line, 400))
        );
        let stack = task.and_then(|t| t.errors.iter().rev().find(|e| !e.stack.is_empty()));
        if let Some(e) = stack {
            let from = e.stack.len().saturating_sub(STACK_LINES);
            let _ = write!(
                out,
                "<details class=\"stack\"><summary>last {} lines of its stack (attempt {})</summary><pre>",
                e.stack.len() - from,
                e.attempt
            );
            for line in &e.stack[from..] {
                let _ = writeln!(out, "{}", esc(&clip(line, 300)));
            }
            out.push_str("</pre></details>\n");
        }
    }
    out.push_str("</header>\n");
}

/// "Changes vs previous run": at most 5 summary lines, better/worse coloured, then the full
/// diff folded.
pub fn changes(out: &mut String, a: &Archive) {
    match &a.changes {
        Probed::Value(c) => {
            let note = format!("vs run {}", c.previous_run_id);
            open_section(out, "changes", "Changes vs previous run", &note, true);
            changes_body(out, c);
        }
        Probed::Na(why) => {
            open_section(out, "changes", "Changes vs previous run", "", true);
            let _ = writeln!(out, "<p class=\"na\">n/a ({})</p>", esc(why));
        }
    }
    out.push_str("</details>\n");
}

fn changes_body(out: &mut String, c: &Changes) {
    if c.summary.is_empty() {
        out.push_str("<p>No differences.</p>\n");
    } else {
        out.push_str("<ul class=\"changes\">");
        for line in c.summary.iter().take(5) {
            // Escaped text holds no markup, so marking the two words is safe.
            let text = esc(&clip(line, 300))
                .replace("better", "<b class=\"better\">better</b>")
                .replace("worse", "<b class=\"worse\">worse</b>");
            let _ = write!(out, "<li>{text}</li>");
        }
        out.push_str("</ul>\n");
    }
    let total: usize = c.diff.sections.iter().map(|s| s.entries.len()).sum();
    if total == 0 {
        return;
    }
    let _ = write!(
        out,
        "<details class=\"sub\"><summary>every difference ({total})</summary><table><thead><tr><th>section</th><th>key</th><th>change</th><th>{}</th><th>{}</th><th>note</th></tr></thead><tbody>",
        esc(&clip(&c.diff.a, 40)),
        esc(&clip(&c.diff.b, 40))
    );
    let rows = c
        .diff
        .sections
        .iter()
        .flat_map(|s| s.entries.iter().map(move |e| (s, e)));
    for (s, e) in rows.take(DIFF_ROWS) {
        let cell = |v: &Option<String>| esc(&clip(v.as_deref().unwrap_or("—"), 120)).into_owned();
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.name),
            esc(&clip(&e.key, 120)),
            esc(&e.change),
            cell(&e.a),
            cell(&e.b),
            cell(&e.note)
        );
    }
    out.push_str("</tbody></table>\n");
    super::left_out(out, total.min(DIFF_ROWS), total, "differences");
    out.push_str("</details>\n");
}

/// The provenance strip: code, host, GPU, driver/CUDA, Python and torch, in one glance.
pub fn provenance(out: &mut String, a: &Archive) {
    open_section(out, "provenance", "Provenance", "", true);
    out.push_str("<ul class=\"strip\">");
    match &a.provenance {
        Probed::Value(p) => strip(out, p),
        Probed::Na(why) => {
            let _ = write!(out, "<li class=\"na\">n/a ({})</li>", esc(why));
        }
    }
    if !a.earlier_commits.is_empty() {
        let list: Vec<String> = a
            .earlier_commits
            .iter()
            .map(|c| esc(&clip(c, 12)).into_owned())
            .collect();
        let _ = write!(
            out,
            "<li><span class=\"k\">earlier invocations</span> <code>{}</code></li>",
            list.join(" ")
        );
    }
    if let Some(line) = crate::report::archive::markdown::sessions_changed(a) {
        let _ = write!(out, "<li class=\"warn\">{}</li>", esc(&line));
    }
    out.push_str("</ul>\n</details>\n");
}

fn item(out: &mut String, key: &str, html: &str) {
    let _ = write!(out, "<li><span class=\"k\">{key}</span> {html}</li>");
}

fn na(why: &str) -> String {
    format!("<span class=\"na\">n/a ({})</span>", esc(why))
}

fn strip(out: &mut String, p: &Provenance) {
    let code = match &p.code {
        Probed::Value(c) => {
            let mut s = format!(
                "<code>{}</code>@<b>{}</b>",
                esc(&clip(&c.commit, 10).replace('…', "")),
                esc(c.branch.as_deref().unwrap_or("(detached)"))
            );
            if c.dirty {
                let patch = if c.patch.over_cap {
                    format!("patch {} over the cap, not stored", bytes(c.patch.bytes))
                } else {
                    format!("patch {}", bytes(c.patch.bytes))
                };
                let _ = write!(
                    s,
                    " <span class=\"warn\">+{} dirty files, {patch}</span>",
                    c.dirty_files.len()
                );
            } else {
                s.push_str(" clean");
            }
            if let Some(u) = &c.upstream {
                let _ = write!(s, " · {} ↑{} ↓{}", esc(&u.name), u.ahead, u.behind);
            }
            if c.on_remote == Some(false) {
                s.push_str(" · <span class=\"warn\">not on any remote</span>");
            }
            s
        }
        Probed::Na(why) => na(why),
    };
    item(out, "code", &code);
    let host = match &p.host {
        Probed::Value(h) => format!(
            "<b>{}</b> · {} · {} CPUs · {}",
            esc(&h.hostname),
            esc(&h.os),
            h.cpus,
            bytes(h.memory_bytes)
        ),
        Probed::Na(why) => na(why),
    };
    item(out, "host", &host);
    let (gpu, driver) = match &p.gpus {
        Probed::Value(g) => {
            let mut by_name: Vec<(&str, u32)> = Vec::new();
            for d in &g.devices {
                match by_name.iter_mut().find(|(n, _)| *n == d.name) {
                    Some((_, k)) => *k += 1,
                    None => by_name.push((&d.name, 1)),
                }
            }
            let list: Vec<String> = by_name
                .iter()
                .map(|(n, k)| format!("{} × {k}", esc(n)))
                .collect();
            let gpu = if list.is_empty() {
                "none visible".to_string()
            } else {
                list.join(", ")
            };
            (
                gpu,
                format!("driver {} / CUDA {}", esc(&g.driver), esc(&g.cuda)),
            )
        }
        Probed::Na(why) => (na(why), na(why)),
    };
    item(out, "GPU", &gpu);
    item(out, "driver/CUDA", &driver);
    let python = match &p.python {
        Probed::Value(py) => {
            let env = py.venv.as_deref().or(py.conda_env.as_deref());
            format!(
                "{}{}",
                esc(py.version.as_deref().unwrap_or(&py.executable)),
                env.map(|e| format!(" ({})", esc(&clip(e, 60))))
                    .unwrap_or_default()
            )
        }
        Probed::Na(why) => na(why),
    };
    item(out, "python", &python);
    let torch = match &p.packages {
        Probed::Value(pk) => pk
            .chosen
            .iter()
            .find(|c| c.name == "torch")
            .map(|c| c.version.clone())
            .or_else(|| {
                pk.all
                    .iter()
                    .find(|c| c.name == "torch")
                    .map(|c| c.version.clone())
            })
            .map(|v| esc(&v).into_owned())
            .unwrap_or_else(|| "not installed".into()),
        Probed::Na(why) => na(why),
    };
    item(out, "torch", &torch);
    if !p.partial.is_empty() {
        let _ = write!(
            out,
            "<li class=\"warn\">partial: {} not finished when sealed</li>",
            esc(&p.partial.join(", "))
        );
    }
}
