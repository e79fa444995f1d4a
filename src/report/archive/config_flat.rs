//! The experiment file as recorded with the run, flattened to dotted keys (`params.lr`,
//! `stage.train.command`) with values as JSON text, secrets redacted: what the archive shows
//! and `labtrail diff` compares key by key.

use super::model::Config;
use crate::provenance::model::Redaction;
use crate::provenance::redact::{is_secret_name, redact_text, REDACTED};
use std::collections::BTreeMap;

/// The run's [`Config`]: its file's text (redacted) and every key flattened. A text that no
/// longer parses as TOML keeps its text and has no keys (`flat` is empty). The values of
/// secret-named keys are added to `secrets`, for [`super::scrub`] to find elsewhere.
pub fn config(
    spec_path: &str,
    spec_text: &str,
    found: &mut Vec<Redaction>,
    secrets: &mut Vec<String>,
) -> Config {
    let text = redact_text(spec_text, "config", found);
    let mut flat = BTreeMap::new();
    if let Ok(table) = toml::from_str::<toml::Table>(spec_text) {
        for (k, v) in &table {
            flatten(k, v, &mut flat, found, secrets);
        }
    }
    Config {
        spec_path: spec_path.to_string(),
        spec_text: text,
        flat,
    }
}

/// Adds `value` under `key`: tables by their keys, arrays of tables by each table's `name`
/// (`stage.train`) or position, other values as JSON text.
fn flatten(
    key: &str,
    value: &toml::Value,
    out: &mut BTreeMap<String, String>,
    found: &mut Vec<Redaction>,
    secrets: &mut Vec<String>,
) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&format!("{key}.{k}"), v, out, found, secrets);
            }
        }
        toml::Value::Array(items) if !items.is_empty() && items.iter().all(|v| v.is_table()) => {
            for (i, item) in items.iter().enumerate() {
                let name = item
                    .get("name")
                    .and_then(toml::Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string());
                flatten(&format!("{key}.{name}"), item, out, found, secrets);
            }
        }
        other => {
            let last = key.rsplit('.').next().unwrap_or(key);
            let json = serde_json::to_string(other).unwrap_or_default();
            let json = if is_secret_name(last) {
                secret_strings(other, secrets);
                found.push(Redaction {
                    place: "config".into(),
                    what: key.to_string(),
                });
                serde_json::to_string(REDACTED).unwrap_or_default()
            } else {
                redact_text(&json, "config", found)
            };
            out.insert(key.to_string(), json);
        }
    }
}

/// The strings `value` holds (itself, or an array's), as they are.
fn secret_strings(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(items) => items.iter().for_each(|v| secret_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: stages are keyed by name, tables by key, values as JSON.
    #[test]
    fn flattens_tables_and_named_stages() {
        let text = r#"
[experiment]
name = "x"
env = { OMP_NUM_THREADS = "4" }
[params]
lr = [0.1, 0.2]
[[stage]]
name = "train"
command = "echo {lr}"
[[stage]]
command = "echo"
"#;
        let mut found = Vec::new();
        let c = config("/e/exp.toml", text, &mut found, &mut Vec::new());
        let keys: Vec<&str> = c.flat.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "experiment.env.OMP_NUM_THREADS",
                "experiment.name",
                "params.lr",
                "stage.1.command",
                "stage.train.command",
                "stage.train.name"
            ]
        );
        assert_eq!(c.flat["params.lr"], "[0.1,0.2]");
        assert_eq!(c.flat["experiment.name"], "\"x\"");
        assert_eq!(c.spec_text, text);
        assert!(config("p", "not = = toml", &mut found, &mut Vec::new())
            .flat
            .is_empty());
    }
}
