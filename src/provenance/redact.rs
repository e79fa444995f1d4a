//! Secrets out of everything captured. CONTRACT STUB (issue 12): the `code` lane implements it.

use super::model::Redaction;

/// What replaces a redacted value.
pub const REDACTED: &str = "<redacted>";

/// Whether a variable or key name looks secret (TOKEN, KEY, SECRET, PASS, CREDENTIAL, AUTH, ...).
pub fn is_secret_name(name: &str) -> bool {
    // Stand-in until the code lane's version is merged (theirs replaces this body).
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "KEY",
        "SECRET",
        "PASS",
        "CREDENTIAL",
        "AUTH",
        "COOKIE",
        "PRIVATE",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// `text` with every value that looks like a known token (`hf_`, `ghp_`, `sk-`, `AKIA`, PEM
/// blocks, ...) replaced by [`REDACTED`]; each one is added to `found` with `place`.
pub fn redact_text(text: &str, place: &str, found: &mut Vec<Redaction>) -> String {
    let _ = (place, found);
    text.to_string()
}
