//! Seed 004's "Repro": a shell script that runs the experiment again from a clone of its
//! repository: `git checkout` of the recorded commit, `git apply` of the recorded patch inline
//! (a here-document), the captured environment (redacted names listed, never set), and
//! `labtrail run` of the experiment file by its path in the repository.

use super::model::{Archive, Repro};
use crate::provenance::model::{Code, Redaction};
use crate::provenance::redact::REDACTED;
use crate::spec::shell_quote;
use crate::store::Store;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// Captured variables the script leaves alone: labtrail sets `LABTRAIL_*` for each task (and
/// `LABTRAIL_STORE` would point the new run at the old store), and another machine's `PATH`
/// would hide its own tools.
fn not_exported(name: &str) -> bool {
    name.starts_with("LABTRAIL_") || name == "PATH"
}

/// The repro block of `archive`; `found` are the redactions made while building it.
pub fn repro(store: &Store, archive: &Archive, mut found: Vec<Redaction>) -> Repro {
    let mut notes = Vec::new();
    let mut s = String::from("#!/bin/sh\n");
    let _ = writeln!(
        s,
        "# Runs experiment {} again (run {}). Run it inside a clone of the repository.",
        archive.summary.experiment, archive.summary.run_id
    );
    s.push_str("set -eu\n");
    let prov = archive.provenance.value();
    let code = prov.and_then(|p| p.code.value());
    let spec = Path::new(&archive.config.spec_path);
    let spec_arg = match code {
        Some(code) => {
            s.push_str("cd \"$(git rev-parse --show-toplevel)\"\n");
            let _ = writeln!(s, "git checkout --detach {}", code.commit);
            patch(store, code, &mut s, &mut notes);
            match spec.strip_prefix(&code.root) {
                Ok(rel) => rel.display().to_string(),
                Err(_) => {
                    notes.push(format!(
                        "the experiment file {} is outside the repository {}: its path is given as recorded",
                        spec.display(),
                        code.root
                    ));
                    spec.display().to_string()
                }
            }
        }
        None => {
            let why = match prov.map(|p| &p.code) {
                Some(crate::provenance::model::Probed::Na(why)) => why.clone(),
                _ => super::build::NO_PROVENANCE.to_string(),
            };
            notes.push(format!(
                "code state unknown ({why}): check out the code the run used by hand"
            ));
            spec.display().to_string()
        }
    };
    let mut env = BTreeMap::new();
    let mut redacted = Vec::new();
    let mut kept_out = Vec::new();
    if let Some(p) = prov {
        for (name, value) in &p.env.vars {
            if value == REDACTED {
                redacted.push(name.clone());
            } else if not_exported(name) {
                kept_out.push(name.clone());
            } else {
                let _ = writeln!(s, "export {name}={}", shell_quote(value));
                env.insert(name.clone(), value.clone());
            }
        }
        found.extend(p.redactions.iter().cloned());
    }
    if !redacted.is_empty() {
        let _ = writeln!(s, "# Redacted, set by hand: {}", redacted.join(" "));
    }
    if !kept_out.is_empty() {
        let _ = writeln!(s, "# Captured but not set here: {}", kept_out.join(" "));
    }
    let _ = writeln!(s, "labtrail run {}", shell_quote(&spec_arg));
    found.sort_by(|a, b| (&a.place, &a.what).cmp(&(&b.place, &b.what)));
    found.dedup();
    Repro {
        script: s,
        env,
        redacted,
        notes,
        redactions: found,
    }
}

/// Appends `git apply` of the recorded patch, inline, or a note saying why it cannot.
fn patch(store: &Store, code: &Code, s: &mut String, notes: &mut Vec<String>) {
    if !code.dirty {
        return;
    }
    let p = &code.patch;
    if p.over_cap {
        notes.push(format!(
            "the patch ({} bytes, blake3 {}) was over the cap and not stored: recreate the dirty files listed under provenance by hand",
            p.bytes, p.checksum
        ));
        return;
    }
    let Some(hash) = &p.blob else {
        notes.push("the working state was dirty but no patch was stored".into());
        return;
    };
    let text = match store.blob(hash) {
        Ok(Some(bytes)) => match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                notes.push(format!(
                    "the patch {hash} is not text: apply it from the store by hand"
                ));
                return;
            }
        },
        Ok(None) => {
            notes.push(format!("the patch {hash} is not in the store"));
            return;
        }
        Err(e) => {
            notes.push(format!("the patch {hash} could not be read: {e}"));
            return;
        }
    };
    if text.is_empty() {
        return;
    }
    // A delimiter the patch itself never holds as a line.
    let mut delim = "LABTRAIL_PATCH".to_string();
    let mut n = 0;
    while text.lines().any(|l| l == delim) {
        n += 1;
        delim = format!("LABTRAIL_PATCH_{n}");
    }
    let _ = writeln!(s, "git apply --whitespace=nowarn <<'{delim}'");
    s.push_str(&text);
    if !text.ends_with('\n') {
        s.push('\n');
    }
    let _ = writeln!(s, "{delim}");
    for o in &p.omitted {
        notes.push(format!(
            "{} ({} bytes) is not in the patch: {}",
            o.path, o.bytes, o.why
        ));
    }
}
