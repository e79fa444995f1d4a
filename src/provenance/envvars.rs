//! The environment the tasks inherit, by allowlist only: a name is captured when a pattern of
//! `[archive] env` (defaults in [`crate::spec::archive::DEFAULT_ENV`]) matches it, and its value
//! is `<redacted>` when the name looks secret ([`redact::is_secret_name`]) or holds a value that
//! looks like a known token ([`redact::redact_text`]). Values of names off the list are never
//! read into the record.

use super::model::{Env, Redaction};
use super::redact;

/// Whether `pattern` (`CUDA_*`: any suffix; else the exact name) matches `name`.
pub fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The variables of `vars` that `allowlist` names, secrets redacted; each redaction is added to
/// `found` (place `env`, the variable's name).
pub fn capture(
    vars: impl IntoIterator<Item = (String, String)>,
    allowlist: &[String],
    found: &mut Vec<Redaction>,
) -> Env {
    let mut env = Env {
        allowlist: allowlist.to_vec(),
        ..Env::default()
    };
    for (name, value) in vars {
        if !allowlist.iter().any(|p| matches(p, &name)) {
            continue;
        }
        let value = if redact::is_secret_name(&name) {
            found.push(Redaction {
                place: "env".into(),
                what: name.clone(),
            });
            redact::REDACTED.to_string()
        } else {
            redact::redact_text(&value, "env", found)
        };
        env.vars.insert(name, value);
    }
    env
}

/// [`capture`] of this process's environment (what the tasks inherit); names or values that are
/// not UTF-8 are skipped.
pub fn capture_process(allowlist: &[String], found: &mut Vec<Redaction>) -> Env {
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    capture(vars, allowlist, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: only allowlisted names are captured, and a secret name's value never is, even
    /// when its name is on the list.
    #[test]
    fn allowlist_and_secret_names() {
        let canary = "canary-7f3a9c";
        let vars = [
            ("MY_API_TOKEN", canary),
            ("CUDA_FAKE_KEY", canary),
            ("CUDA_VISIBLE_DEVICES", "0,1"),
            ("OMP_NUM_THREADS", "4"),
            ("HOME", "/root"),
            ("PATHOLOGICAL", "x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let allow: Vec<String> = ["CUDA_*", "OMP_*", "PATH", "MY_API_TOKEN"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut found = Vec::new();
        let env = capture(vars, &allow, &mut found);
        let json = serde_json::to_string(&env).unwrap();
        assert!(!json.contains(canary), "{json}");
        assert_eq!(env.vars["CUDA_FAKE_KEY"], redact::REDACTED);
        assert_eq!(env.vars["MY_API_TOKEN"], redact::REDACTED);
        assert_eq!(env.vars["CUDA_VISIBLE_DEVICES"], "0,1");
        assert_eq!(env.vars["OMP_NUM_THREADS"], "4");
        assert!(!env.vars.contains_key("HOME") && !env.vars.contains_key("PATHOLOGICAL"));
        let names: Vec<&str> = found.iter().map(|r| r.what.as_str()).collect();
        assert_eq!(names, ["MY_API_TOKEN", "CUDA_FAKE_KEY"]);
    }
}
