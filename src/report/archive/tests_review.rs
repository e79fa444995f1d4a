//! Issue 12, review fixes: what a task writes cannot put raw HTML into the Markdown, labels are
//! not prefixed with their stage twice, the JSON keeps how memory was measured, a missing data
//! snapshot says why, and the diff's summary counts tasks once each.

use crate::report::diff::tests::{archive, package, prov, task};
use crate::report::diff::{compare, summary_lines, DiffOptions};

/// Issue 12: `<script>` in a task's error and in a section it filled is escaped in the
/// Markdown (table cells and list lines), never passed through as HTML.
#[test]
fn markdown_escapes_html_in_values_tasks_wrote() {
    let mut a = archive("r");
    a.tasks[0].state = "failed".into();
    a.tasks[0].reason = Some("<script>alert(1)</script> a|b\nc & d".into());
    a.task_sections
        .entry("notes".into())
        .or_default()
        .push(super::model::TaskSection {
            task: "k1".into(),
            label: "train/rep=a".into(),
            value: serde_json::json!("<img src=x onerror=alert(1)>"),
        });
    let md = super::markdown::render(&a);
    assert!(!md.contains("<script>") && !md.contains("<img"), "{md}");
    assert!(
        md.contains("&lt;script&gt;alert(1)&lt;/script&gt; a\\|b c &amp; d"),
        "{md}"
    );
}

/// Issue 12: a staged task's label already names its stage (`train/rep=a`): the HTML showed
/// `train/train/rep=a`.
#[test]
fn html_shows_a_staged_label_once() {
    let html = super::html::render(&archive("r"));
    assert!(html.contains("train/rep=a"), "the task is listed");
    assert!(!html.contains("train/train/"), "stage doubled");
}

/// Issue 12: the JSON archive carries how a task's tree peak was measured and the samples.
#[test]
fn json_task_resources_carry_rss_source_and_samples() {
    let json = super::json::render(&archive("r"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let r = &v["tasks"][0]["resources"];
    assert_eq!(r["rss_source"], "sampled", "{r}");
    assert_eq!(r["samples"], 12, "{r}");
}

/// Issue 12: `[archive] data` patterns configured but the snapshot never finished (capture
/// lists `data` as partial): the Data Snapshot says so instead of "no patterns".
#[test]
fn an_unfinished_data_snapshot_is_partial_not_absent() {
    let mut a = archive("r");
    a.summary.status = "interrupted".into();
    let p = prov(&mut a);
    p.data.clear();
    p.partial = vec!["data".into()];
    let md = super::markdown::render(&a);
    assert!(!md.contains("no `[archive] data` patterns"), "{md}");
    assert!(
        md.contains("n/a (data snapshot partial: patterns are configured"),
        "{md}"
    );
    let html = super::html::render(&a);
    assert!(html.contains("data snapshot partial"), "{html}");
    prov(&mut a).partial.clear();
    let md = super::markdown::render(&a);
    assert!(md.contains("n/a (no `[archive] data` patterns)"), "{md}");
}

/// Issue 12: the diff summary counts a new task as added (not changed), a task whose command
/// and key both changed once, and a non-PEP-440 version change is labelled `changed`.
#[test]
fn diff_summary_counts_each_task_once_by_what_happened() {
    let a = archive("a");
    let mut b = archive("b");
    b.tasks[0].command = "python train.py --rep a --fast".into();
    b.tasks[0].key = "k1-new".into();
    b.tasks.push(task("eval", "b", "k4"));
    let diff = compare(&a, &b, &DiffOptions::default());
    let line = summary_lines(&diff)
        .into_iter()
        .find(|l| l.starts_with("tasks:"))
        .expect("a tasks line");
    assert_eq!(line, "tasks: 1 added (eval/rep=b); 1 changed (train/rep=a)");

    let mut c = archive("c");
    if let crate::provenance::model::Probed::Value(p) = &mut prov(&mut c).packages {
        p.all = vec![package("weird", "abc")];
    }
    let mut d = c.clone();
    if let crate::provenance::model::Probed::Value(p) = &mut prov(&mut d).packages {
        p.all = vec![package("weird", "def")];
    }
    let diff = compare(&c, &d, &DiffOptions::default());
    let entry = diff
        .sections
        .iter()
        .flat_map(|s| &s.entries)
        .find(|e| e.key == "weird")
        .expect("the package differs");
    assert_eq!(entry.note.as_deref(), Some("changed"));
}

/// Issue 12: a resumed run whose invocations saw different code says so (Markdown and HTML),
/// listing each session; sessions that all saw the same say nothing.
#[test]
fn sessions_that_saw_different_code_are_shown() {
    let session = |at: &str, commit: &str| super::model::Session {
        captured_at: at.into(),
        commit: Some(commit.into()),
        patch_checksum: Some("p".repeat(64)),
        data_roots: vec!["data/*=r".into()],
    };
    let mut a = archive("r");
    a.sessions = vec![
        session("t1", &"a".repeat(40)),
        session("t2", &"a".repeat(40)),
    ];
    assert!(!super::markdown::render(&a).contains("changed during the run"));
    a.sessions[1] = session("t2", &"b".repeat(40));
    let md = super::markdown::render(&a);
    assert!(
        md.contains(
            "- sessions: the code/data changed during the run: sessions t1 commit aaaaaaaaaaaa"
        ),
        "{md}"
    );
    assert!(md.contains("t2 commit bbbbbbbbbbbb"), "{md}");
    assert!(super::html::render(&a).contains("the code/data changed during the run"));
}
