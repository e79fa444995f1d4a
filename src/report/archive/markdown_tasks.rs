//! The end of the Markdown's "Steps": sections tasks filled themselves, and the task table
//! (failures first, capped).

use super::markdown::{cell, num, text, Doc, TABLE_CAP};
use super::markdown_steps::metric;
use super::model::TaskArchive;
use std::fmt::Write;

/// Sections tasks filled themselves, other than Data Copy (shown there).
pub(super) fn sections(d: &mut Doc) {
    let others: Vec<_> =
        d.a.task_sections
            .iter()
            .filter(|(k, _)| k.as_str() != "data_copy")
            .collect();
    if others.is_empty() {
        return;
    }
    d.line("\nSections filled by tasks (`archive.<section>` in their result):");
    for (name, rows) in others {
        for r in rows.iter().take(TABLE_CAP) {
            let _ = writeln!(
                d.out,
                "- {} ({}): {}",
                text(name),
                text(&r.label),
                text(&r.value.to_string())
            );
        }
    }
}

pub(super) fn task_table(d: &mut Doc) {
    let a = d.a;
    let _ = writeln!(d.out, "\n### Tasks\n");
    d.line("| task | stage | state | attempts | duration_sec | headline metric | error |");
    d.line("| --- | --- | --- | --- | --- | --- | --- |");
    let failing =
        |t: &&TaskArchive| matches!(t.state.as_str(), "failed" | "blocked" | "interrupted");
    let mut order: Vec<&TaskArchive> = a.tasks.iter().filter(failing).collect();
    order.extend(a.tasks.iter().filter(|t| !failing(t)));
    for t in order.iter().take(TABLE_CAP) {
        let head = metric(&t.metrics, &["loss", "acc"]).or(t.metrics.first());
        let head = head.map(|m| format!("{}={}", m.key, m.last.map(num).unwrap_or("n/a".into())));
        let err = t
            .errors
            .last()
            .and_then(|e| e.line.clone())
            .or_else(|| t.reason.clone());
        d.line(format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&t.label),
            cell(&t.stage),
            t.state,
            t.attempts,
            t.duration_s.map(|x| num(x.round())).unwrap_or("n/a".into()),
            cell(&head.unwrap_or_else(|| "n/a".into())),
            cell(&err.unwrap_or_default())
        ));
    }
    if a.tasks.len() > TABLE_CAP {
        d.line(format!(
            "\n{} more tasks left out (see the JSON archive).",
            a.tasks.len() - TABLE_CAP
        ));
    }
}
