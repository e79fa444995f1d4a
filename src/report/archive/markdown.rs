//! The archive as Markdown, following seed 004's template 1:1: its sections in its order, every
//! field of each section present (`n/a (reason)` where labtrail does not know it), and the field
//! checklist at the end with each field's value. Long tables are capped and say how many rows
//! they left out (the JSON archive has them all).

use super::build::NO_PROVENANCE;
use super::model::Archive;
use crate::provenance::model::{Probed, Provenance};
use std::fmt::Write;

/// Rows of a long table (tasks, artifacts, packages, config keys) shown before the rest is cut.
pub const TABLE_CAP: usize = 200;

/// The sections of seed 004, in its order: the Markdown has exactly these `##` headings.
pub const SECTIONS: &[&str] = &[
    "Summary",
    "Dependencies (Versions)",
    "Config Snapshot",
    "Paths",
    "Data Snapshot",
    "Data Copy (Prepare)",
    "Steps",
    "Repro",
    "Artifacts",
    "Resources & Cost",
    "Changes vs Previous",
    "Field Table (Checklist)",
];

/// The Markdown being written and the checklist rows gathered on the way.
pub(super) struct Doc<'a> {
    pub a: &'a Archive,
    pub out: String,
    /// (section, field, description, value) per seed-004 checklist row.
    pub checklist: Vec<[String; 4]>,
}

impl Doc<'_> {
    pub fn line(&mut self, text: impl AsRef<str>) {
        self.out.push_str(text.as_ref());
        self.out.push('\n');
    }
    /// `- name: value` (a top-level field, or one in a list at `indent`).
    pub fn field(&mut self, indent: usize, name: &str, value: impl AsRef<str>) {
        let _ = writeln!(
            self.out,
            "{}- {}",
            " ".repeat(indent),
            pair(name, value.as_ref())
        );
    }
    /// `name: value` under a list item (a step's fields).
    pub fn sub(&mut self, indent: usize, name: &str, value: impl AsRef<str>) {
        let _ = writeln!(
            self.out,
            "{}{}",
            " ".repeat(indent),
            pair(name, value.as_ref())
        );
    }
    pub fn heading(&mut self, name: &str) {
        let _ = write!(self.out, "\n## {name}\n");
    }
    pub fn check(&mut self, section: &str, field: &str, description: &str, value: &str) {
        let row = [section, field, description, value].map(|s| s.to_string());
        self.checklist.push(row);
    }
    /// A captured fact: the value shown by `show`, or `n/a (reason)`.
    pub fn prov<T>(
        &self,
        get: impl Fn(&Provenance) -> &Probed<T>,
        show: impl Fn(&T) -> String,
    ) -> String {
        match self.a.provenance.value().map(get) {
            None => na(NO_PROVENANCE),
            Some(Probed::Na(why)) => na(why),
            Some(Probed::Value(v)) => show(v),
        }
    }
}

fn pair(name: &str, value: &str) -> String {
    if value.is_empty() {
        format!("{name}:")
    } else {
        format!("{name}: {}", text(value))
    }
}

/// A value as Markdown text: `&`, `<` and `>` escaped, so a value a task wrote (a result, an
/// error line) cannot put raw HTML (`<script>`) into a rendered archive. A value that is one
/// code span (`` `...` ``) is left alone: Markdown shows code spans literally.
pub fn text(s: &str) -> String {
    let code_span =
        s.len() > 1 && s.starts_with('`') && s.ends_with('`') && !s[1..s.len() - 1].contains('`');
    if code_span {
        return s.to_string();
    }
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `the code/data changed during the run: sessions ...` when the invocations of a resumed run
/// saw different code or data; `None` when they all saw the same.
pub fn sessions_changed(a: &Archive) -> Option<String> {
    let first = a.sessions.first()?;
    if !a.sessions.iter().any(|s| s.differs(first)) {
        return None;
    }
    let shown: Vec<String> = a
        .sessions
        .iter()
        .map(|s| {
            let commit = s.commit.as_deref().map_or("n/a", |c| &c[..c.len().min(12)]);
            let patch = s
                .patch_checksum
                .as_deref()
                .map_or("n/a", |c| &c[..c.len().min(12)]);
            let mut one = format!("{} commit {commit} patch {patch}", s.captured_at);
            if !s.data_roots.is_empty() {
                one.push_str(&format!(" data {}", s.data_roots.join(" ")));
            }
            one
        })
        .collect();
    Some(format!(
        "the code/data changed during the run: sessions {}",
        shown.join("; ")
    ))
}

/// `n/a (reason)`.
pub fn na(reason: &str) -> String {
    format!("n/a ({reason})")
}

/// A number as Markdown shows it: whole numbers without decimals, others to 6 significant
/// digits, so two archives of one run print the same text.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.6e}");
        s.parse::<f64>().map(|v| v.to_string()).unwrap_or(s)
    }
}

/// A table cell: one line, pipes and HTML (see [`text`]) escaped.
pub fn cell(s: &str) -> String {
    text(s).replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The archive as Markdown.
pub fn render(a: &Archive) -> String {
    let mut d = Doc {
        a,
        out: String::new(),
        checklist: Vec::new(),
    };
    let _ = writeln!(
        d.out,
        "# Experiment Archive: {} / {}",
        a.summary.experiment, a.summary.run_id
    );
    let _ = writeln!(
        d.out,
        "\nGenerated by labtrail {} at {} (schema {}).",
        a.labtrail_version, a.generated_at, a.schema
    );
    summary(&mut d);
    super::markdown_deps::dependencies(&mut d);
    super::markdown_tail::config(&mut d);
    super::markdown_tail::paths_and_data(&mut d);
    super::markdown_steps::steps(&mut d);
    super::markdown_tail::repro(&mut d);
    super::markdown_tail::artifacts(&mut d);
    super::markdown_cost::resources(&mut d);
    super::markdown_cost::changes(&mut d);
    super::markdown_cost::checklist(&mut d);
    d.out
}

fn summary(d: &mut Doc) {
    let s = &d.a.summary;
    d.heading("Summary");
    d.field(0, "experiment", &s.experiment);
    d.field(0, "run_id", &s.run_id);
    d.check("Summary", "run_id", "Run identifier", &s.run_id);
    d.field(0, "status", &s.status);
    let counts: Vec<String> = s.counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    d.field(0, "tasks", counts.join(", "));
    d.field(0, "executor", &s.executor);
    d.field(0, "started_at", &s.started_at);
    let fin = s
        .finished_at
        .clone()
        .unwrap_or_else(|| na("the run has not finished"));
    d.field(0, "finished_at", fin);
    let dur = s
        .duration_s
        .map(|x| num(x.round()))
        .unwrap_or_else(|| na("the run has not finished"));
    d.field(0, "duration_sec", dur);
    let commit = d.prov(|p| &p.code, |c| c.commit.clone());
    let dirty = d.prov(
        |p| &p.code,
        |c| match (&c.patch.missing, c.dirty_files.len()) {
            (Some(why), _) => na(why),
            (None, 0) => c.dirty.to_string(),
            (None, n) => format!("{} ({n} files)", c.dirty),
        },
    );
    d.field(0, "git_commit", &commit);
    d.field(0, "git_dirty", &dirty);
    d.check(
        "Summary",
        "git_commit/git_dirty",
        "Repo state",
        &format!("{commit} / {dirty}"),
    );
    if !d.a.earlier_commits.is_empty() {
        d.field(0, "earlier_commits", d.a.earlier_commits.join(", "));
    }
    if let Some(line) = sessions_changed(d.a) {
        d.field(0, "sessions", line);
    }
    let host = d.prov(|p| &p.host, |h| h.hostname.clone());
    d.field(0, "host", host);
    let user = d.prov(|p| &p.host, |h| h.user.clone());
    d.field(0, "user", user);
    let os = d.prov(
        |p| &p.host,
        |h| format!("{} ({} {})", h.os, h.kernel, h.arch),
    );
    d.field(0, "os", os);
    let py = d.prov(
        |p| &p.python,
        |p| match &p.version {
            Some(v) => format!("{v} ({})", p.executable),
            None => format!("{} (version unknown)", p.executable),
        },
    );
    d.field(0, "python", py);
    let conda = d.prov(
        |p| &p.python,
        |p| {
            p.conda_env.clone().unwrap_or_else(|| match &p.venv {
                Some(v) => na(&format!("not a conda environment; venv {v}")),
                None => na("not a conda environment"),
            })
        },
    );
    d.field(0, "conda_env", conda);
    let cuda = d.prov(|p| &p.gpus, |g| g.cuda.clone());
    d.field(0, "cuda", cuda);
    let driver = d.prov(|p| &p.gpus, |g| g.driver.clone());
    d.field(0, "cuda_driver", &driver);
    d.check("Environment", "cuda_driver", "Driver version", &driver);
    let torch = super::markdown_deps::package(d, "torch");
    d.field(0, "torch", torch);
    let gpus = d.prov(|p| &p.gpus, super::markdown_deps::gpu_line);
    d.field(0, "gpus", gpus);
    d.field(0, "cpu_hours", num(s.cpu_hours));
    let gh = s
        .gpu_hours
        .map(num)
        .unwrap_or_else(|| na("no GPU use recorded"));
    d.field(0, "gpu_hours", gh);
    if let Some(f) = &s.first_failure {
        d.field(0, "first_failure", format!("{}: {}", f.label, f.line));
    }
}
