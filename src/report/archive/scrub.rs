//! The last pass over an archive before it is written: every text a user or a task wrote (the
//! experiment file, commands, parameters, labels, results, error lines, file names, the repro
//! script, the comparison with the previous run) has token-shaped values redacted, and so has
//! every occurrence of a value the experiment file gives a secret name
//! (`env = { HF_TOKEN = "..." }`): such a value is redacted in the flat config by its name, and
//! must not come back through a command or the file's text. Numbers and times are left alone.

use super::model::{Archive, DiffSection};
use crate::provenance::model::Redaction;
use crate::provenance::redact::{redact_text, REDACTED};

/// Secret values shorter than this are not looked for elsewhere: `1` or `yes` would redact
/// half the archive, and are no secret worth the name.
const SHORTEST_SECRET: usize = 6;

/// What to redact besides token shapes.
pub struct Scrubber {
    values: Vec<String>,
    /// What was redacted, by place.
    pub found: Vec<Redaction>,
}

impl Scrubber {
    /// A scrubber that also redacts each of `values` (the values of secret-named keys).
    pub fn new(values: Vec<String>) -> Scrubber {
        let mut values: Vec<String> = values
            .into_iter()
            .filter(|v| v.len() >= SHORTEST_SECRET)
            .collect();
        // Longest first: a secret that holds another is replaced whole.
        values.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        values.dedup();
        Scrubber {
            values,
            found: Vec::new(),
        }
    }

    /// `text` redacted in place, redactions listed under `place`.
    pub fn text(&mut self, text: &mut String, place: &str) {
        let mut out = redact_text(text, place, &mut self.found);
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
                let what = Redaction {
                    place: place.to_string(),
                    what: "a value the experiment file gives a secret name".into(),
                };
                if !self.found.contains(&what) {
                    self.found.push(what);
                }
            }
        }
        if out != *text {
            *text = out;
        }
    }

    /// Every string of `value` (keys too), redacted in place.
    pub fn json(&mut self, value: &mut serde_json::Value, place: &str) {
        match value {
            serde_json::Value::String(s) => self.text(s, place),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.json(v, place)),
            serde_json::Value::Object(map) => {
                let old = std::mem::take(map);
                for (mut k, mut v) in old {
                    self.text(&mut k, place);
                    self.json(&mut v, place);
                    map.insert(k, v);
                }
            }
            _ => {}
        }
    }

    fn opt(&mut self, text: &mut Option<String>, place: &str) {
        if let Some(t) = text {
            self.text(t, place);
        }
    }

    fn diff(&mut self, sections: &mut [DiffSection], place: &str) {
        for e in sections.iter_mut().flat_map(|s| s.entries.iter_mut()) {
            self.text(&mut e.key, place);
            self.opt(&mut e.a, place);
            self.opt(&mut e.b, place);
            self.opt(&mut e.note, place);
        }
    }

    /// Every user-written text of `archive`, redacted in place.
    pub fn archive(&mut self, a: &mut Archive) {
        self.text(&mut a.config.spec_text, "config");
        for v in a.config.flat.values_mut() {
            self.text(v, "config");
        }
        if let Some(f) = &mut a.summary.first_failure {
            self.text(&mut f.label, "tasks");
            self.text(&mut f.line, "stderr");
        }
        for s in &mut a.stages {
            self.text(&mut s.command, "config");
            s.params
                .values_mut()
                .flatten()
                .for_each(|v| self.json(v, "config"));
        }
        for t in &mut a.tasks {
            self.text(&mut t.label, "tasks");
            self.text(&mut t.command, "tasks");
            self.opt(&mut t.reason, "tasks");
            t.params.values_mut().for_each(|v| self.json(v, "tasks"));
            if let Some(r) = &mut t.result {
                self.json(r, "result");
            }
            for e in &mut t.errors {
                self.opt(&mut e.line, "stderr");
                e.stack.iter_mut().for_each(|l| self.text(l, "stderr"));
            }
            for art in &mut t.artifacts {
                self.text(&mut art.path, "artifacts");
            }
        }
        for sections in a.task_sections.values_mut() {
            for s in sections {
                self.text(&mut s.label, "tasks");
                self.json(&mut s.value, "result");
            }
        }
        for c in &mut a.curves {
            self.text(&mut c.label, "tasks");
            self.text(&mut c.key, "metrics");
        }
        if let Some(code) = a.provenance_mut_code() {
            self.opt(&mut code.branch, "code");
            self.opt(&mut code.describe, "code");
            for f in &mut code.dirty_files {
                self.text(&mut f.path, "code");
            }
        }
        if let crate::provenance::model::Probed::Value(c) = &mut a.changes {
            c.summary.iter_mut().for_each(|l| self.text(l, "changes"));
            self.diff(&mut c.diff.sections, "changes");
        }
        self.text(&mut a.repro.script, "repro");
    }
}

impl Archive {
    fn provenance_mut_code(&mut self) -> Option<&mut crate::provenance::model::Code> {
        match &mut self.provenance {
            crate::provenance::model::Probed::Value(p) => match &mut p.code {
                crate::provenance::model::Probed::Value(c) => Some(c),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12 (found in review): a value the experiment file gives a secret name is redacted
    /// wherever it appears, not only under its name.
    #[test]
    fn a_named_secret_is_redacted_everywhere() {
        let mut s = Scrubber::new(vec!["PlainNamedSecret99".into(), "1".into()]);
        let mut t = "login --pw PlainNamedSecret99 --n 1 ghp_abcdefghijklmnopqrstuvwxyz0123456789"
            .to_string();
        s.text(&mut t, "tasks");
        assert_eq!(t, "login --pw <redacted> --n 1 <redacted>");
        assert_eq!(s.found.len(), 2, "{:?}", s.found);
        let mut v = serde_json::json!({"PlainNamedSecret99": ["x", "PlainNamedSecret99"]});
        s.json(&mut v, "result");
        assert_eq!(v, serde_json::json!({"<redacted>": ["x", "<redacted>"]}));
    }
}
