//! Issue 12: the HTML archive page, on `Archive` values built in memory
//! (`tests/archive_fixture`): self-contained, escaped, deterministic, first screen in order,
//! capped, and within its size limits.

mod archive_fixture;

use archive_fixture::{archive, hostile, HOSTILE};
use labtrail::report::archive::html::render;

/// Issue 12: a 10-task run's page is at most 200 KB.
#[test]
fn ten_task_page_is_under_200_kb() {
    let html = render(&archive(10, 10, 500, true));
    eprintln!(
        "10 tasks, 10 curves of 500 points + previous: {} bytes",
        html.len()
    );
    assert!(html.len() <= 200 * 1024, "{} bytes", html.len());
}

/// Issue 12: 10^4 tasks with 100 curves of 500 points (each with the previous run's curve of
/// 500 points too) stay at most 1 MB: tables are capped and series are compact paths.
#[test]
fn ten_thousand_tasks_and_100_curves_are_under_1_mb() {
    let html = render(&archive(10_000, 100, 500, true));
    eprintln!(
        "10^4 tasks, 100 curves of 500 points + previous: {} bytes",
        html.len()
    );
    assert!(html.len() <= 1024 * 1024, "{} bytes", html.len());
    // Every series is drawn: one path per curve and one per previous curve.
    assert_eq!(html.matches("<path class=\"l ").count(), 200);
}

/// Issue 12: no JavaScript and nothing loaded from anywhere: no script, no src/href, no CSS
/// url() or @import (the page opens offline on a compute node).
#[test]
fn page_is_self_contained() {
    let html = render(&archive(10, 10, 50, true)).to_ascii_lowercase();
    for needle in [
        "<script", "src=", "href=", "url(", "@import", "<link", "<iframe", "<img",
    ] {
        assert!(!html.contains(needle), "page contains {needle}");
    }
}

/// Issue 12: a value holding markup and quotes (in the title, headings, attributes, tables,
/// `<pre>` blocks, SVG text) is shown as text: nothing opens a tag or closes an attribute.
#[test]
fn hostile_values_are_escaped_everywhere() {
    let html = render(&hostile(archive(10, 10, 20, true)));
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a value opened a script");
    assert!(
        !lower.contains("onmouseover=\""),
        "a value opened an attribute"
    );
    assert!(!html.contains(HOSTILE));
    let escaped = "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;";
    assert!(
        html.matches(escaped).count() > 20,
        "the values are still shown, as text"
    );
    // Every `<pre>` the page opens is closed by the page itself, once.
    assert_eq!(
        lower.matches("<pre>").count(),
        lower.matches("</pre>").count()
    );
}

/// Issue 12: the same archive gives the same bytes; another `generated_at` changes only it.
#[test]
fn page_is_deterministic() {
    let a = archive(300, 40, 200, true);
    assert_eq!(render(&a), render(&a));
    let mut b = a.clone();
    b.generated_at = "2027-01-01T00:00:00Z".into();
    assert_eq!(
        render(&a).replace(&a.generated_at, "T"),
        render(&b).replace(&b.generated_at, "T")
    );
}

/// Issue 12: the first screen in order (verdict, changes, provenance), then curves, resources,
/// tasks, and the appendices folded.
#[test]
fn sections_come_in_order() {
    let html = render(&archive(10, 10, 50, true));
    let ids = [
        "<header id=\"verdict\"",
        "id=\"changes\" class=\"section\" open",
        "id=\"provenance\" class=\"section\" open",
        "id=\"curves\" class=\"section\" open",
        "id=\"resources\"",
        "id=\"tasks\"",
        "id=\"config\" class=\"section\">",
        "id=\"environment\"",
        "id=\"packages\"",
        "id=\"data\"",
        "id=\"code\"",
        "id=\"repro\"",
    ];
    let at: Vec<usize> = ids
        .iter()
        .map(|id| html.find(id).unwrap_or_else(|| panic!("no {id}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{ids:?} at {at:?}");
    // The verdict line: status, counts bar (a rect per state with tasks), times, failure.
    let verdict = &html[at[0]..at[1]];
    for needle in [
        ">failed<",
        "class=\"st-done\"",
        "class=\"st-failed\"",
        "class=\"st-blocked\"",
        "class=\"st-pending\"",
        "wall <b>42 m 10 s</b>",
        "<b>0.71</b> CPU-h",
        "<b>1.5</b> GPU-h",
        "CUDA out of memory",
        "last 12 lines of its stack",
    ] {
        assert!(
            verdict.contains(needle),
            "verdict lacks {needle}: {verdict}"
        );
    }
    // Changes: at most 5 lines, better and worse marked.
    let changes = &html[at[1]..at[2]];
    assert!(!changes.contains("sixth line"));
    assert!(changes.contains("<b class=\"worse\">worse</b>"));
    assert!(changes.contains("<b class=\"better\">better</b>"));
    // Provenance strip: commit@branch, dirty files and patch size, host, GPU, driver/CUDA,
    // python, torch.
    let strip = &html[at[2]..at[3]];
    for needle in [
        "<code>0123456789</code>@<b>main</b>",
        "+1 dirty files, patch 12.3 KiB",
        "node07",
        "NVIDIA A100-SXM4-80GB × 2",
        "driver 550.54.15 / CUDA 12.4",
        "3.11.4 (/home/u/venv)",
        "2.3.1",
        "not on any remote",
    ] {
        assert!(strip.contains(needle), "strip lacks {needle}: {strip}");
    }
}

/// Issue 12: the task table lists failures first, then the slowest, and stops at 200 rows
/// with a line saying how many are left out and where they are.
#[test]
fn task_table_is_capped_failures_first() {
    let html = render(&archive(10_000, 4, 10, false));
    let table = &html[html.find("<table class=\"tasks\">").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 201, "header and 200 rows");
    let states: Vec<&str> = table
        .split("<td class=\"st ")
        .skip(1)
        .map(|r| &r[r.find('>').unwrap() + 1..r.find("</td>").unwrap()])
        .collect();
    assert!(
        states[..10].iter().all(|s| *s == "failed"),
        "{:?}",
        &states[..12]
    );
    assert!(states[10..].iter().all(|s| *s != "failed"));
    assert!(html.contains(
        "9800 more tasks not shown (showing 200 of 10000); the JSON archive has all of them."
    ));
}

/// Issue 12: up to 8 tasks per panel get a colour each; a grid of 50 is drawn in one colour
/// with the best task on top, named; one panel per (stage, metric).
#[test]
fn panels_are_per_stage_and_metric() {
    let few = render(&archive(10, 10, 50, true));
    assert_eq!(few.matches("<figure class=\"panel\">").count(), 2);
    assert!(few.contains("class=\"l s4\"") && !few.contains("class=\"l many\""));
    assert!(few.contains("<i class=\"sw prev\"></i>previous run"));
    let many = render(&archive(100, 100, 50, false));
    assert_eq!(many.matches("<figure class=\"panel\">").count(), 2);
    assert_eq!(many.matches("class=\"l best\"").count(), 2);
    assert_eq!(many.matches("class=\"l many\"").count(), 98);
    assert!(many.contains("best: lr="));
}

/// Issue 12: a run without provenance, changes or curves says why, in place.
#[test]
fn missing_facts_say_why() {
    use labtrail::provenance::model::Probed;
    let mut a = archive(10, 0, 0, false);
    a.provenance = Probed::na("run made before capture");
    a.changes = Probed::na("no earlier finished run of this experiment");
    let html = render(&a);
    assert!(html.contains("n/a (run made before capture)"));
    assert!(html.contains("n/a (no earlier finished run of this experiment)"));
    assert!(html.contains("n/a (no task wrote a metric stream"));
}

/// Writes the fixture pages to `$LABTRAIL_HTML_OUT` when set (to look at them by hand).
#[test]
fn write_pages_when_asked() {
    let Some(dir) = std::env::var_os("LABTRAIL_HTML_OUT") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ten.html"), render(&archive(10, 10, 500, true))).unwrap();
    std::fs::write(
        dir.join("many.html"),
        render(&archive(10_000, 100, 500, true)),
    )
    .unwrap();
    std::fs::write(
        dir.join("hostile.html"),
        render(&hostile(archive(10, 10, 50, true))),
    )
    .unwrap();
}
