//! Issue 14: the README is a guide that points into `docs/`, and the lanes' texts are merged into
//! it by hand. Every relative link in README.md and docs/*.md must lead somewhere: the file
//! exists and, for a `#anchor` into a Markdown file, a heading there has that anchor (GitHub's
//! rule: lower-cased, punctuation dropped, spaces as hyphens).

use std::path::{Path, PathBuf};

/// The Markdown files a reader of the repository opens.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![root.join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// The text outside fenced code blocks, where a `](` is code, not a link.
fn prose(text: &str) -> String {
    let mut fenced = false;
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The anchor GitHub gives a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("read");
    prose(&text)
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// Relative link targets in `text`: what stands in `](…)`, web addresses left out.
fn links(text: &str) -> Vec<String> {
    prose(text)
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|t| !t.contains(char::is_whitespace) && !t.contains("://"))
        .map(str::to_string)
        .collect()
}

/// Issue 14: no relative link in the README or in docs/ is broken.
#[test]
fn every_relative_link_in_the_documentation_resolves() {
    let mut broken = Vec::new();
    let mut count = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("read");
        for target in links(&text) {
            count += 1;
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                doc.clone()
            } else {
                doc.parent().expect("folder").join(path)
            };
            if !file.exists() {
                broken.push(format!("{}: {target}: no such file", doc.display()));
            } else if !anchor.is_empty()
                && file.extension().is_some_and(|x| x == "md")
                && !anchors(&file).iter().any(|a| a == anchor)
            {
                broken.push(format!("{}: {target}: no such heading", doc.display()));
            }
        }
    }
    assert!(
        count > 40,
        "the README links into docs/ ({count} links found)"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The anchors GitHub makes, for the headings this documentation links to.
#[test]
fn slugs_follow_github() {
    assert_eq!(
        slug(" Scenarios, as a short guide"),
        "scenarios-as-a-short-guide"
    );
    assert_eq!(slug(" `labtrail archive`"), "labtrail-archive");
    assert_eq!(
        slug(" How to keep a long run alive"),
        "how-to-keep-a-long-run-alive"
    );
}
