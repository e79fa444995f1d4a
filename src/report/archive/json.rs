//! The archive as JSON (`"schema": "labtrail.archive/1"`) and its JSON Schema, generated from
//! the model with schemars and committed as `docs/archive.schema.json`.

use super::model::Archive;

/// The archive as pretty JSON, ending in a newline. Deterministic: maps are sorted, lists are in
/// plan order.
pub fn render(archive: &Archive) -> String {
    let mut s = serde_json::to_string_pretty(archive).expect("an archive is plain data");
    s.push('\n');
    s
}

/// The JSON Schema of [`Archive`], pretty, ending in a newline.
pub fn schema() -> String {
    let mut s = serde_json::to_string_pretty(&schemars::schema_for!(Archive))
        .expect("a schema is plain data");
    s.push('\n');
    s
}

/// Reads an archive back (`labtrail diff` of archive files).
pub fn parse(text: &str) -> Result<Archive, serde_json::Error> {
    serde_json::from_str(text)
}
