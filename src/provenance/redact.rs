//! Secrets out of everything captured. Two tests: a NAME that looks secret (an environment
//! variable or a config key: `HF_TOKEN`, `db_password`, `WANDB_API_KEY`) has its value replaced
//! whatever the value is; a VALUE that has the shape of a known token (`hf_…`, `ghp_…`,
//! `github_pat_…`, `sk-…`, `AKIA…`, `xoxb-…`, a PEM private key, a URL's password) is replaced
//! wherever it appears (config, environment, patch, stderr). Each redaction is listed by place
//! and kind, never by value.
//!
//! Text keeps its lines: a PEM block keeps its `BEGIN`/`END` lines and each body line keeps a
//! leading diff marker, so that a redacted patch is still a patch `git apply` reads.

use super::model::Redaction;
use regex::bytes::{Captures, Regex};
use std::sync::LazyLock;

/// What replaces a redacted value.
pub const REDACTED: &str = "<redacted>";

/// Words that make a name secret wherever they stand in it (`MY_TOKEN`, `auth_header`).
const SECRET_WORDS: &[&str] = &[
    "token",
    "key",
    "secret",
    "secrets",
    "pass",
    "pwd",
    "auth",
    "cookie",
    "cookies",
    "credential",
    "credentials",
    "creds",
    "private",
    "bearer",
    "authorization",
];

/// Pieces that make a name secret even inside a longer word (`PGPASSWORD`, `apikey`).
const SECRET_PIECES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "apikey",
    "accesskey",
    "privatekey",
    "secretkey",
    "authtoken",
    "accesstoken",
    "apitoken",
];

/// A last word that makes a [`SECRET_WORDS`] name describe a secret rather than hold one
/// (`key_dim`, `HF_TOKEN_PATH`, `pad_token_id`): ML configs are full of these, and redacting them
/// would hide real configuration from the archive and from `labtrail diff`.
const DESCRIPTOR_WORDS: &[&str] = &[
    "dim", "dims", "size", "len", "length", "count", "num", "path", "file", "dir", "name", "type",
    "index", "idx", "id", "ids",
];

/// Words that keep a name secret even with a descriptor last (`AWS_ACCESS_KEY_ID`).
const ALWAYS_SECRET_WORDS: &[&str] = &["access", "secret", "api"];

/// Whether a variable or key name looks secret (TOKEN, KEY, SECRET, PASS, CREDENTIAL, AUTH,
/// COOKIE, PRIVATE, as words of the name: `HF_TOKEN`, `apiKey`, `db.password`), but not a name
/// that only contains the letters (`TOKENIZERS_PARALLELISM`, `max_tokens`, `monkey`, `author`) or
/// describes a secret (`key_dim`, `HF_TOKEN_PATH`).
pub fn is_secret_name(name: &str) -> bool {
    let words = words(name);
    if words
        .iter()
        .any(|w| SECRET_PIECES.iter().any(|p| w.contains(p)))
    {
        return true;
    }
    if !words.iter().any(|w| SECRET_WORDS.contains(&w.as_str())) {
        return false;
    }
    let described = words
        .last()
        .is_some_and(|w| DESCRIPTOR_WORDS.contains(&w.as_str()));
    !described
        || words
            .iter()
            .any(|w| ALWAYS_SECRET_WORDS.contains(&w.as_str()))
}

/// The lowercase words of a name: split at anything not a letter or digit and where a lowercase
/// letter meets an uppercase one (`apiKey` → `api`, `key`).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            out.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    out.extend((!word.is_empty()).then_some(word));
    out
}

/// The token shapes, each a named group of one alternation (one pass over the text), with the
/// kind a redaction is listed under.
const SHAPES: &[(&str, &str, &str)] = &[
    (
        "pem",
        "PEM private key",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
    ),
    (
        "github_pat",
        "GitHub token",
        r"\bgithub_pat_[A-Za-z0-9_]{22,}",
    ),
    ("github", "GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    ("hf", "Hugging Face token", r"\bhf_[A-Za-z0-9]{20,}"),
    ("sk", "API secret key (sk-)", r"\bsk-[A-Za-z0-9_-]{20,}"),
    ("aws", "AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("slack", "Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("gitlab", "GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    ("google", "Google API key", r"\bAIza[0-9A-Za-z_-]{35}"),
    (
        "url",
        "URL password",
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]+:(?P<url_pass>[^\s/@]+)@",
    ),
];

/// All of [`SHAPES`] in one pattern, compiled once.
static TOKENS: LazyLock<Regex> = LazyLock::new(|| {
    let alternation: Vec<String> = SHAPES
        .iter()
        .map(|(group, _, pattern)| format!("(?P<{group}>{pattern})"))
        .collect();
    Regex::new(&format!("(?-u){}", alternation.join("|"))).expect("token patterns compile")
});

/// `text` with every value that looks like a known token (`hf_`, `ghp_`, `sk-`, `AKIA`, PEM
/// blocks, ...) replaced by [`REDACTED`]; each one is added to `found` with `place`.
pub fn redact_text(text: &str, place: &str, found: &mut Vec<Redaction>) -> String {
    let out = redact_bytes(text.as_bytes(), place, found);
    // Only ASCII spans between ASCII boundaries are replaced: still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`redact_text`] for bytes that need not be UTF-8 (a patch of a Latin-1 file): the bytes
/// around each redaction are kept as they were.
pub fn redact_bytes(bytes: &[u8], place: &str, found: &mut Vec<Redaction>) -> Vec<u8> {
    let out = TOKENS.replace_all(bytes, |caps: &Captures| {
        let (group, kind, _) = SHAPES
            .iter()
            .find(|(group, ..)| caps.name(group).is_some())
            .expect("one group matched");
        let whole = caps.get(0).expect("a match").as_bytes();
        if *group == "sk" && !whole.iter().any(u8::is_ascii_digit) {
            // A hyphenated word (`sk-learn-style-pipeline-config`), not a key.
            return whole.to_vec();
        }
        let what = Redaction {
            place: place.to_string(),
            what: kind.to_string(),
        };
        if !found.contains(&what) {
            found.push(what);
        }
        match *group {
            "pem" => redact_pem(whole),
            "url" => {
                let pass = caps.name("url_pass").expect("the password group");
                let start = pass.start() - caps.get(0).expect("a match").start();
                let mut kept = whole[..start].to_vec();
                kept.extend_from_slice(REDACTED.as_bytes());
                kept.push(b'@');
                kept
            }
            _ => REDACTED.as_bytes().to_vec(),
        }
    });
    out.into_owned()
}

/// A PEM block with each line between `BEGIN` and `END` replaced by [`REDACTED`], the line's
/// leading diff marker (`+`, `-`, space) and indentation kept.
fn redact_pem(block: &[u8]) -> Vec<u8> {
    if !block.contains(&b'\n') {
        return redact_pem_on_one_line(block);
    }
    let lines: Vec<&[u8]> = block.split(|b| *b == b'\n').collect();
    let last = lines.len() - 1;
    let ended = lines[last].windows(9).any(|w| w == b"-----END ");
    let mut out = Vec::with_capacity(block.len());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if i == 0 || (i == last && ended) {
            out.extend_from_slice(line);
            continue;
        }
        let marker = usize::from(matches!(line.first(), Some(b'+' | b'-' | b' ')));
        let indent = line[marker..]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let keep = marker + indent;
        out.extend_from_slice(&line[..keep]);
        let rest = &line[keep..];
        if rest == b"\r" || rest.is_empty() {
            out.extend_from_slice(rest);
        } else {
            out.extend_from_slice(REDACTED.as_bytes());
            if rest.ends_with(b"\r") {
                out.push(b'\r');
            }
        }
    }
    out
}

/// A PEM block written on one line, its line ends escaped (`\\n` in a JSON string: a cloud
/// service account's `"private_key"`): everything between the `BEGIN` line and the `END` line
/// is replaced.
fn redact_pem_on_one_line(block: &[u8]) -> Vec<u8> {
    let header_end = block
        .windows(5)
        .enumerate()
        .skip(5)
        .find(|(_, w)| *w == b"-----")
        .map_or(block.len(), |(i, _)| i + 5);
    let footer = block
        .windows(9)
        .rposition(|w| w == b"-----END ")
        .filter(|&i| i >= header_end)
        .unwrap_or(block.len());
    let mut out = block[..header_end].to_vec();
    out.extend_from_slice(REDACTED.as_bytes());
    out.extend_from_slice(&block[footer..]);
    out
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
