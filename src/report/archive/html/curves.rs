//! Metric curves as small multiples: one panel per (stage, metric key), the stage's tasks
//! overlaid. Up to 8 tasks each get a colour and a legend line; beyond that (a grid of 100
//! tasks) every task is a thin line of one colour and the best task is drawn on top in a
//! second colour and named, which reads better than 100 colours. The previous run's curves are
//! drawn first, in grey, underneath.

use super::super::model::{Archive, Curve, TaskArchive};
use super::super::svg::chart::{panel, Series};
use super::super::svg::fmt_num;
use super::format::clip;
use super::{esc, open_section};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Tasks per panel that get their own colour (`s0`…`s7` in the style).
const COLOURS: usize = 8;

/// The "Curves" section.
pub fn section(out: &mut String, a: &Archive) {
    let stage_pos = |s: &str| {
        a.stages
            .iter()
            .position(|st| st.name == s)
            .unwrap_or(usize::MAX)
    };
    let mut panels: BTreeMap<(usize, &str, &str), Vec<&Curve>> = BTreeMap::new();
    for c in &a.curves {
        panels
            .entry((stage_pos(&c.stage), c.stage.as_str(), c.key.as_str()))
            .or_default()
            .push(c);
    }
    let note = if panels.is_empty() {
        String::new()
    } else {
        format!(
            "{} curves in {} panels (one per stage and metric); the previous run in grey",
            a.curves.len(),
            panels.len()
        )
    };
    open_section(out, "curves", "Curves", &note, true);
    if panels.is_empty() {
        out.push_str(
            "<p class=\"na\">n/a (no task wrote a metric stream to $LABTRAIL_METRICS)</p>\n",
        );
    }
    let tasks: BTreeMap<&str, &TaskArchive> = a.tasks.iter().map(|t| (t.key.as_str(), t)).collect();
    out.push_str("<div class=\"panels\">\n");
    for ((_, stage, key), curves) in &panels {
        one_panel(out, stage, key, curves, &tasks);
    }
    out.push_str("</div>\n</details>\n");
}

/// Whether the smallest value of `key` is the best, from the task's summary or the key's name.
fn minimise(key: &str, task: Option<&TaskArchive>) -> bool {
    if let Some(m) = task.and_then(|t| t.metrics.iter().find(|m| m.key == key)) {
        return m.direction == "min";
    }
    let k = key.to_ascii_lowercase();
    ["loss", "ppl", "perplexity", "err", "wer", "cer"]
        .iter()
        .any(|w| k.contains(w))
}

/// A curve's best value: the task's summary's, else the best finite point.
fn best_of(c: &Curve, min: bool, task: Option<&TaskArchive>) -> Option<f64> {
    if let Some(b) = task
        .and_then(|t| t.metrics.iter().find(|m| m.key == c.key))
        .and_then(|m| m.best)
    {
        return Some(b);
    }
    let finite = c.points.iter().map(|p| p.1).filter(|v| v.is_finite());
    if min {
        finite.reduce(f64::min)
    } else {
        finite.reduce(f64::max)
    }
}

fn one_panel(
    out: &mut String,
    stage: &str,
    key: &str,
    curves: &[&Curve],
    tasks: &BTreeMap<&str, &TaskArchive>,
) {
    let task = |c: &Curve| tasks.get(c.task.as_str()).copied();
    let min = minimise(key, curves.first().and_then(|c| task(c)));
    let many = curves.len() > COLOURS;
    // The best curve: the first with the best value, so ties resolve in plan order.
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in curves.iter().enumerate() {
        if let Some(v) = best_of(c, min, task(c)) {
            let better = best.is_none_or(|(_, b)| if min { v < b } else { v > b });
            if better {
                best = Some((i, v));
            }
        }
    }
    let previous: Vec<Series> = curves
        .iter()
        .filter_map(|c| {
            c.previous.as_deref().map(|p| Series {
                points: p,
                class: "prev",
                title: format!("{} (previous run)", c.label),
            })
        })
        .collect();
    let classes = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"];
    let mut current: Vec<Series> = curves
        .iter()
        .enumerate()
        .map(|(i, c)| Series {
            points: &c.points,
            class: if !many {
                classes[i % COLOURS]
            } else if Some(i) == best.map(|b| b.0) {
                "best"
            } else {
                "many"
            },
            title: format!("{} {}", c.label, key),
        })
        .collect();
    if let (true, Some((i, _))) = (many, best) {
        let top = current.remove(i);
        current.push(top);
    }
    let _ = write!(
        out,
        "<figure class=\"panel\"><figcaption><b>{}</b> · {} <span class=\"note\">{} is best</span></figcaption>",
        esc(stage),
        esc(key),
        if min { "lowest" } else { "highest" }
    );
    out.push_str(&panel(&previous, &current, &format!("{stage} {key}")));
    out.push_str("<ul class=\"legend\">");
    if many {
        let _ = write!(
            out,
            "<li><i class=\"sw many\"></i>{} tasks</li>",
            curves.len()
        );
        if let Some((i, v)) = best {
            let _ = write!(
                out,
                "<li><i class=\"sw best\"></i>best: {} ({})</li>",
                esc(&clip(&curves[i].label, 60)),
                fmt_num(v)
            );
        }
    } else {
        for (i, c) in curves.iter().enumerate() {
            let last = c.points.iter().rev().map(|p| p.1).find(|v| v.is_finite());
            let _ = write!(
                out,
                "<li><i class=\"sw {}\"></i>{}{}</li>",
                classes[i % COLOURS],
                esc(&clip(&c.label, 60)),
                last.map(|v| format!(" <span class=\"note\">{}</span>", fmt_num(v)))
                    .unwrap_or_default()
            );
        }
    }
    if !previous.is_empty() {
        out.push_str("<li><i class=\"sw prev\"></i>previous run</li>");
    }
    out.push_str("</ul></figure>\n");
}
