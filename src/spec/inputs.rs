//! `inputs = ["train.py", "data/*.csv"]`: the files whose content is part of a task's identity.
//! Here they are only checked as patterns; `plan::inputs` finds and hashes the files.

use super::{line_col, SpecError};
use std::path::Path;
use toml::Spanned;

/// The patterns of one `inputs` list, checked: each is a valid glob and not empty.
pub(super) fn patterns(
    path: &Path,
    source: &str,
    list: Option<&Spanned<Vec<String>>>,
) -> Result<Vec<String>, SpecError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let err = |message: String, help: &str| SpecError {
        path: path.to_path_buf(),
        line_col: Some(line_col(source, list.span().start)),
        message,
        help: Some(help.to_string()),
    };
    let mut out: Vec<String> = Vec::new();
    for p in list.get_ref() {
        if p.trim().is_empty() || p.contains('\0') {
            return Err(err(
                format!("`inputs` has an empty or invalid entry {p:?}"),
                "list files or glob patterns relative to the experiment file, e.g. [\"train.py\", \"data/*.csv\"]",
            ));
        }
        if let Err(e) = glob::Pattern::new(p) {
            return Err(err(
                format!("`inputs` entry `{p}` is not a valid pattern: {}", e.msg),
                "use `*`, `?`, `**` and `[abc]`; write `[*]` for a literal `*`",
            ));
        }
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    Ok(out)
}
