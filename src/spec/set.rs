//! `labtrail run --set PARAM=VALUES`: replaces a parameter's values in the experiment file's
//! text, as if the file said so. The text is edited (not the parsed spec) so that the run's
//! recorded file, which `monitor`, `reset` and archives read again, carries the values; a
//! comment at its top says which `--set` made it.

use super::SpecError;
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Value};

/// A `--set` that cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("--set {arg}: write PARAM=VALUES, e.g. --set lr=0.1,0.01, --set rep=stats or --set 'seed={{range=[0,5]}}'")]
    Syntax { arg: String },
    #[error("--set {name}: {} has no parameter `{name}`\n  help: its parameters are: {known}", path.display())]
    Unknown {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error("--set {arg}: {message}")]
    Value { arg: String, message: String },
    #[error("{error}\n  (the file as changed by --set {sets})")]
    Invalid { sets: String, error: SpecError },
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// `source` with each `PARAM=VALUES` of `sets` applied to its `[params]`, and a comment line
/// per override at its top.
pub fn apply(path: &Path, source: &str, sets: &[String]) -> Result<String, SetError> {
    let mut doc: DocumentMut =
        source
            .parse()
            .map_err(|e: toml_edit::TomlError| SetError::Value {
                arg: sets.join(" "),
                message: format!("{} cannot be read as TOML: {}", path.display(), e.message()),
            })?;
    let mut notes = Vec::new();
    let mut done: Vec<String> = Vec::new();
    for arg in sets {
        let Some((name, values)) = arg.split_once('=') else {
            return Err(SetError::Syntax { arg: arg.clone() });
        };
        let name = name.trim();
        if name.is_empty() || values.trim().is_empty() {
            return Err(SetError::Syntax { arg: arg.clone() });
        }
        if done.iter().any(|d| d == name) {
            return Err(SetError::Value {
                arg: arg.clone(),
                message: format!("`{name}` is set twice; give its values in one --set"),
            });
        }
        let params = doc.get_mut("params").and_then(Item::as_table_like_mut);
        let Some(params) = params else {
            return Err(unknown(path, name, Vec::new()));
        };
        let Some(item) = params.get_mut(name) else {
            let known: Vec<String> = params.iter().flat_map(|(k, v)| names(k, v)).collect();
            if let Some(group) = params
                .iter()
                .find(|(_, v)| is_group(v) && names("", v).iter().any(|n| n == name))
            {
                return Err(SetError::Value {
                    arg: arg.clone(),
                    message: format!("`{name}` is linked in `{}`, so its values go with the others of that group: set the whole group, e.g. --set '{}=[{{...}}, {{...}}]'", group.0, group.0),
                });
            }
            return Err(unknown(path, name, known));
        };
        let mut value = parse_values(values).map_err(|message| SetError::Value {
            arg: arg.clone(),
            message,
        })?;
        let was = match item.as_value() {
            Some(old) => {
                let mut old = old.clone();
                old.decor_mut().clear();
                old.to_string()
            }
            None => item.to_string(),
        };
        if let Some(old) = item.as_value() {
            // Keeps a comment written after the old value on its line.
            *value.decor_mut() = old.decor().clone();
        }
        *item = Item::Value(value);
        let mut was: String = was.trim().replace('\n', " ");
        if was.chars().count() > 120 {
            was = was.chars().take(117).chain("...".chars()).collect();
        }
        notes.push(format!(
            "# labtrail run --set {} (the file said {name} = {})\n",
            in_comment(arg),
            in_comment(&was)
        ));
        done.push(name.to_string());
    }
    Ok(notes.concat() + &doc.to_string())
}

/// `text` as a TOML comment may hold it: a comment ends at a newline and may hold no other
/// control character, so an override's `\n` or escape code written raw would end the comment
/// early or make the recorded file unreadable (issue 14, review). They are written out.
fn in_comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The `--set` arguments a recorded experiment text was made with, from the comment lines
/// [`apply`] puts at its top, so that a hint to run the experiment again can repeat them (an
/// argument with a control character comes back as the comment writes it, escaped).
pub fn recorded(text: &str) -> Vec<String> {
    text.lines()
        .map_while(|l| l.strip_prefix("# labtrail run --set "))
        .filter_map(|rest| {
            rest.rsplit_once(" (the file said ")
                .map(|(arg, _)| arg.to_string())
        })
        .collect()
}

/// Whether an entry of `[params]` is a linked group (a list of tables).
fn is_group(item: &Item) -> bool {
    item.as_array()
        .and_then(|a| a.get(0))
        .is_some_and(Value::is_inline_table)
}

/// The parameters an entry of `[params]` defines: its own name, or the members of a linked group.
fn names(key: &str, item: &Item) -> Vec<String> {
    let tables = item
        .as_array()
        .and_then(|a| a.get(0))
        .and_then(Value::as_inline_table);
    match tables {
        Some(t) => t.iter().map(|(k, _)| k.to_string()).collect(),
        None => vec![key.to_string()],
    }
}

fn unknown(path: &Path, name: &str, known: Vec<String>) -> SetError {
    SetError::Unknown {
        name: name.to_string(),
        path: path.to_path_buf(),
        known: if known.is_empty() {
            "none ([params] is empty or missing)".into()
        } else {
            known.join(", ")
        },
    }
}

/// `0.1,0.01` (TOML scalars; a word that is no TOML value is a string), or one TOML value when
/// the text starts with `[` or `{`.
fn parse_values(text: &str) -> Result<Value, String> {
    let text = text.trim();
    if text.starts_with('[') || text.starts_with('{') {
        return text
            .parse::<Value>()
            .map(|mut v| {
                v.decor_mut().clear();
                v
            })
            .map_err(|e| format!("`{text}` is not a TOML value: {}", e.message().trim()));
    }
    let mut items = Vec::new();
    for piece in text.split(',') {
        let piece = piece.trim();
        if piece.is_empty() {
            return Err(format!(
                "`{text}` has an empty value; separate values with single commas: 0.1,0.01"
            ));
        }
        let scalar = match piece.parse::<Value>() {
            Ok(
                v @ (Value::String(_) | Value::Integer(_) | Value::Float(_) | Value::Boolean(_)),
            ) => v,
            _ => Value::from(piece),
        };
        items.push(scalar);
    }
    let mut value = match items.len() {
        1 => items.pop().expect("one"),
        _ => Value::Array(items.into_iter().collect()),
    };
    value.decor_mut().clear();
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "[experiment]\nname = \"e\"\ncommand = \"echo {lr} {rep}\"\n\n[params]\nlr = [0.1, 0.2]  # learning rates\nrep = [\"a\"]\n";

    fn set(sets: &[&str]) -> Result<String, SetError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        apply(Path::new("exp.toml"), FILE, &sets)
    }

    #[test]
    fn values_are_toml_scalars_or_words() {
        let text = set(&["lr=0.5,1e-3", "rep=stats"]).unwrap();
        assert!(
            text.contains("lr = [0.5, 1e-3]  # learning rates"),
            "{text}"
        );
        assert!(text.contains("rep = \"stats\"\n"), "{text}");
        assert!(
            text.starts_with("# labtrail run --set lr=0.5,1e-3 (the file said lr = [0.1, 0.2])\n"),
            "{text}"
        );
    }

    #[test]
    fn a_table_or_list_is_one_value() {
        let text = set(&["lr={range=[0,5]}"]).unwrap();
        assert!(text.contains("lr = {range=[0,5]}"), "{text}");
    }

    #[test]
    fn unknown_parameters_are_listed() {
        let e = set(&["seed=1"]).unwrap_err().to_string();
        assert!(
            e.contains("no parameter `seed`") && e.contains("lr, rep"),
            "{e}"
        );
        assert!(matches!(set(&["lr"]), Err(SetError::Syntax { .. })));
    }

    /// Issue 14: a member of a linked group cannot be set alone: its rows go with the others.
    #[test]
    fn a_linked_member_asks_for_its_group() {
        let text = "[experiment]\nname = \"e\"\ncommand = \"true\"\n[params]\nmodel = [{ arch = \"a\" }]\n";
        let e = apply(Path::new("exp.toml"), text, &["arch=b".to_string()]).unwrap_err();
        assert!(e.to_string().contains("`arch` is linked in `model`"), "{e}");
        let ok = apply(
            Path::new("exp.toml"),
            text,
            &["model=[{arch=\"b\"}]".to_string()],
        )
        .unwrap();
        assert!(ok.contains("model = [{arch=\"b\"}]"), "{ok}");
    }
}
