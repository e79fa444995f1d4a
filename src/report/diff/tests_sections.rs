//! Issue 12: `labtrail diff`'s code, environment, data and resources sections, and its
//! renderers, on archives built by [`super::tests`].

use super::tests::{archive, data_file, prov};
use super::tests_cases::{default_diff, entries, entry};
use super::*;
use crate::provenance::model::DirtyFile;

/// Issue 12: code (commit range, a dirty patch that changed), environment (driver, env vars),
/// data (root and files) and resources beyond the tolerance.
#[test]
fn code_environment_data_and_resources() {
    let a = archive("r1");
    let mut b = archive("r2");
    let p = prov(&mut b);
    if let Probed::Value(c) = &mut p.code {
        c.commit = "b".repeat(40);
        c.dirty = true;
        c.dirty_files = vec![DirtyFile {
            path: "train.py".into(),
            change: "M".into(),
        }];
        c.patch.checksum = "c".repeat(64);
    }
    if let Probed::Value(g) = &mut p.gpus {
        g.driver = "560.28.03".into();
    }
    p.env.vars.insert("OMP_NUM_THREADS".into(), "16".into());
    p.data[0].root = "s".repeat(64);
    p.data[0].per_file = Some(vec![
        data_file("data/a.jsonl", "1"),
        data_file("data/b.jsonl", "9"),
    ]);
    b.tasks[2].resources.peak_tree_rss_kb = Some(1_600_000);
    let diff = default_diff(&a, &b);
    assert_eq!(
        entry(&diff, "code", "commit").note.as_deref(),
        Some("aaaaaaaa..bbbbbbbb")
    );
    assert_eq!(
        entry(&diff, "code", "patch").note.as_deref(),
        Some("patch changed (0 → 1 files)")
    );
    assert_eq!(
        entry(&diff, "environment", "driver").b.as_deref(),
        Some("560.28.03")
    );
    assert_eq!(
        entry(&diff, "environment", "env.OMP_NUM_THREADS").change,
        CHANGED
    );
    assert_eq!(entry(&diff, "data", "data/*.jsonl").change, CHANGED);
    let files: Vec<&str> = entries(&diff, "data")
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    assert_eq!(files, ["data/*.jsonl", "data/*.jsonl: data/b.jsonl"]);
    let rss = entry(&diff, "resources", "eval/rep=a: peak rss");
    assert_eq!(rss.note.as_deref(), Some("+100%"));
    let lines = summary_lines(&diff);
    assert!(lines.len() <= 5, "{lines:?}");
    assert_eq!(lines[0], "code: commit aaaaaaaa..bbbbbbbb; dirty clean → dirty (1 files); patch changed (0 → 1 files)");
    assert!(
        lines[1].starts_with("data: data/*.jsonl changed (1 files"),
        "{lines:?}"
    );
}

/// Issue 12: a value of a run never reaches the terminal raw: escapes and line breaks in a
/// config value are written out in the text, and a Markdown cell stays one cell.
#[test]
fn renderers_keep_values_inert() {
    let a = archive("r1");
    let mut b = archive("r2");
    b.config
        .flat
        .insert("params.lr".into(), "\u{1b}[2J|x\nok".into());
    let diff = default_diff(&a, &b);
    let text = render_text::render(&diff);
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(
        text.contains("~ params.lr  0.1 → \\u{1b}[2J|x\\nok"),
        "{text}"
    );
    let md = render_md::render(&diff);
    assert!(
        md.contains("| params.lr | changed | 0.1 | \\u{1b}\\[2J\\|x<br>ok |  |"),
        "{md}"
    );
}

/// Issue 12: the commit range says how many commits lie between A and B when B's repository
/// on this machine has both (a real git repository), and nothing when it does not.
#[test]
fn commit_range_counts_commits_in_a_local_repository() {
    let repo = tempfile::tempdir().expect("tempdir");
    let git = |args: &[&str]| -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    let mut commits = Vec::new();
    for i in 0..4 {
        git(&["commit", "-q", "--allow-empty", "-m", &format!("c{i}")]);
        commits.push(git(&["rev-parse", "HEAD"]));
    }
    let mut a = archive("r1");
    let mut b = archive("r2");
    for (archive, commit) in [(&mut a, &commits[0]), (&mut b, &commits[3])] {
        if let Probed::Value(c) = &mut prov(archive).code {
            c.root = repo.path().display().to_string();
            c.commit = commit.clone();
        }
    }
    let mut diff = default_diff(&a, &b);
    code::count_commits(&mut diff, &a, &b);
    let note = entry(&diff, "code", "commit")
        .note
        .clone()
        .unwrap_or_default();
    assert!(note.ends_with(" (3 commits)"), "{note}");

    if let Probed::Value(c) = &mut prov(&mut b).code {
        c.commit = "f".repeat(40);
    }
    let mut diff = default_diff(&a, &b);
    code::count_commits(&mut diff, &a, &b);
    let note = entry(&diff, "code", "commit")
        .note
        .clone()
        .unwrap_or_default();
    assert!(
        !note.contains("commit"),
        "an unknown commit is not counted: {note}"
    );
}
