//! Appendices: the code (git facts, dirty files, diffstat, the patch), the sections tasks filled
//! themselves, the artifacts, and the repro script.

use super::super::super::model::Archive;
use super::super::format::{bytes, clip};
use super::super::{esc, left_out, open_section};
use super::{kv, pre};
use crate::provenance::model::Probed;
use std::fmt::Write;

/// Dirty files and diffstat lines listed.
const FILE_ROWS: usize = 200;
/// Entries listed per task section, and the bytes of each entry's JSON shown.
const SECTION_ROWS: usize = 50;
const SECTION_VALUE_CAP: usize = 2048;
/// Artifacts listed over all tasks.
const ARTIFACT_ROWS: usize = 200;

/// The patch inside the repro script: the body of the here-document fed to `git apply`.
pub fn patch_in_script(script: &str) -> Option<&str> {
    let mut pos = 0;
    let mut delimiter: Option<String> = None;
    let mut body_start = 0;
    for line in script.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let bare = line.trim_end_matches(['\n', '\r']);
        match &delimiter {
            Some(d) if bare == d => return Some(&script[body_start..start]),
            Some(_) => {}
            None => {
                let Some(at) = bare
                    .find("git apply")
                    .and_then(|i| bare[i..].find("<<").map(|j| i + j))
                else {
                    continue;
                };
                let rest = bare[at + 2..].trim_start_matches('-').trim_start();
                let word: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '|' | '&' | ')'))
                    .filter(|c| !matches!(c, '\'' | '"' | '\\'))
                    .collect();
                if !word.is_empty() {
                    delimiter = Some(word);
                    body_start = pos;
                }
            }
        }
    }
    None
}

pub fn code(out: &mut String, a: &Archive) {
    let Probed::Value(p) = &a.provenance else {
        return;
    };
    open_section(out, "code", "Code and patch", "", false);
    let c = match &p.code {
        Probed::Value(c) => c,
        Probed::Na(why) => {
            let _ = writeln!(out, "<p class=\"na\">n/a ({})</p></details>", esc(why));
            return;
        }
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    kv(
        out,
        &[
            ("repository", c.root.clone()),
            ("commit", c.commit.clone()),
            (
                "branch",
                c.branch.clone().unwrap_or_else(|| "(detached)".into()),
            ),
            ("describe", opt(&c.describe)),
            (
                "upstream",
                c.upstream
                    .as_ref()
                    .map(|u| format!("{} (ahead {}, behind {})", u.name, u.ahead, u.behind))
                    .unwrap_or_else(|| "none".into()),
            ),
            ("remote", opt(&c.remote_url)),
            (
                "on a remote branch",
                c.on_remote
                    .map(|b| if b { "yes" } else { "no" })
                    .unwrap_or("unknown")
                    .into(),
            ),
            ("working tree", c.tree.clone()),
            (
                "patch",
                format!(
                    "{}, checksum {}{}",
                    bytes(c.patch.bytes),
                    c.patch.checksum,
                    if c.patch.over_cap {
                        ", over the cap: not stored"
                    } else {
                        ""
                    }
                ),
            ),
        ],
    );
    if !c.dirty_files.is_empty() {
        out.push_str("<h3>Dirty files</h3><ul class=\"files\">");
        for f in c.dirty_files.iter().take(FILE_ROWS) {
            let _ = write!(
                out,
                "<li><code>{}</code> {}</li>",
                esc(&f.change),
                esc(&f.path)
            );
        }
        out.push_str("</ul>\n");
        left_out(
            out,
            c.dirty_files.len().min(FILE_ROWS),
            c.dirty_files.len(),
            "dirty files",
        );
    }
    if !c.patch.diffstat.is_empty() {
        out.push_str("<h3>Diffstat</h3>");
        let shown: Vec<&str> = c
            .patch
            .diffstat
            .iter()
            .take(FILE_ROWS)
            .map(String::as_str)
            .collect();
        pre(out, &shown.join("\n"), "diffstat");
        left_out(out, shown.len(), c.patch.diffstat.len(), "diffstat lines");
    }
    if !c.patch.omitted.is_empty() {
        out.push_str("<h3>Left out of the patch</h3><ul class=\"files\">");
        for f in c.patch.omitted.iter().take(FILE_ROWS) {
            let _ = write!(
                out,
                "<li>{} ({}): {}</li>",
                esc(&f.path),
                bytes(f.bytes),
                esc(&f.why)
            );
        }
        out.push_str("</ul>\n");
        left_out(
            out,
            c.patch.omitted.len().min(FILE_ROWS),
            c.patch.omitted.len(),
            "omitted files",
        );
    }
    if let Some(patch) = patch_in_script(&a.repro.script) {
        out.push_str("<h3>Patch</h3>");
        pre(out, patch, "patch");
    }
    out.push_str("</details>\n");
}

/// Sections tasks filled themselves (`archive.<section>` in their result), e.g. `eval`.
pub fn task_sections(out: &mut String, a: &Archive) {
    if a.task_sections.is_empty() {
        return;
    }
    let names: Vec<&str> = a.task_sections.keys().map(String::as_str).collect();
    open_section(
        out,
        "task-sections",
        "Sections filled by tasks",
        &names.join(", "),
        false,
    );
    for (name, entries) in &a.task_sections {
        let _ = write!(out, "<h3>{}</h3><table><tbody>", esc(name));
        for e in entries.iter().take(SECTION_ROWS) {
            let json = serde_json::to_string_pretty(&e.value).unwrap_or_default();
            let _ = write!(
                out,
                "<tr><th>{}</th><td><pre>{}</pre></td></tr>",
                esc(&clip(&e.label, 80)),
                esc(&clip(&json, SECTION_VALUE_CAP))
            );
        }
        out.push_str("</tbody></table>\n");
        left_out(
            out,
            entries.len().min(SECTION_ROWS),
            entries.len(),
            "entries",
        );
    }
    out.push_str("</details>\n");
}

pub fn artifacts(out: &mut String, a: &Archive) {
    let total: usize = a.tasks.iter().map(|t| t.artifacts.len()).sum();
    if total == 0 {
        return;
    }
    open_section(
        out,
        "artifacts",
        "Artifacts",
        &format!("{total} files, referenced, not copied"),
        false,
    );
    out.push_str("<table><thead><tr><th>task</th><th>file</th><th>size</th><th>step</th><th>tags</th><th>modified</th></tr></thead><tbody>");
    let rows = a
        .tasks
        .iter()
        .flat_map(|t| t.artifacts.iter().map(move |f| (t, f)));
    for (t, f) in rows.take(ARTIFACT_ROWS) {
        let _ = write!(
            out,
            "<tr><td>{}/{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.stage),
            esc(&clip(&t.label, 60)),
            esc(&f.path),
            bytes(f.bytes),
            f.step.map(|s| s.to_string()).unwrap_or_default(),
            esc(&f.tags.join(" ")),
            esc(&f.mtime)
        );
    }
    out.push_str("</tbody></table>\n");
    left_out(out, total.min(ARTIFACT_ROWS), total, "artifacts");
    out.push_str("</details>\n");
}

pub fn repro(out: &mut String, a: &Archive) {
    let r = &a.repro;
    open_section(out, "repro", "Repro", "how to run it again", false);
    pre(out, &r.script, "repro script");
    if !r.redacted.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"warn\">Supply these by hand (their values were redacted): <code>{}</code></p>",
            esc(&r.redacted.join(" "))
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(n));
    }
    if !r.redactions.is_empty() {
        out.push_str("<h3>Redactions</h3><ul class=\"files\">");
        for x in r.redactions.iter().take(FILE_ROWS) {
            let _ = write!(out, "<li>{}: {}</li>", esc(&x.place), esc(&x.what));
        }
        out.push_str("</ul>\n");
        left_out(
            out,
            r.redactions.len().min(FILE_ROWS),
            r.redactions.len(),
            "redactions",
        );
    }
    out.push_str("</details>\n");
}

#[cfg(test)]
mod tests {
    use super::patch_in_script;

    /// Issue 12: the patch shown is the here-document `git apply` reads, whatever its delimiter.
    #[test]
    fn patch_is_the_git_apply_here_document() {
        let script = "set -e\ngit checkout abc\ngit apply --whitespace=nowarn <<'LABTRAIL_PATCH_EOF'\ndiff --git a/x b/x\n+y\nLABTRAIL_PATCH_EOF\nlabtrail run exp.toml\n";
        assert_eq!(patch_in_script(script), Some("diff --git a/x b/x\n+y\n"));
        assert_eq!(patch_in_script("git checkout abc\n"), None);
        assert_eq!(patch_in_script("git apply <<EOF\nunterminated\n"), None);
    }
}
