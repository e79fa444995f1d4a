//! Why an attempt failed, read from the end of its stderr: the error line (the last exception
//! line; CUDA out-of-memory, NCCL errors and the shell's `Killed` recognised), the stack's last
//! lines, and warnings counted by kind. Bounded whatever the log's size: the last
//! [`TAIL_BYTES`] are read for the error and the stack, the first [`HEAD_BYTES`] and the tail
//! for the warnings. Bytes that are not UTF-8 are replaced, never an error. Everything kept is
//! redacted ([`super::redact::redact_text`], place `stderr`).

use super::model::{AttemptError, Redaction};
use super::redact::redact_text;
use regex::Regex;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

/// How much of the end of stderr is read for the error line and the stack.
pub const TAIL_BYTES: u64 = 64 << 10;
/// How much of the start of stderr is read besides, for warnings (import-time ones come first).
pub const HEAD_BYTES: u64 = 256 << 10;
/// The most stack lines kept.
pub const STACK_LINES: usize = 30;
/// The longest line kept, in characters; longer ones are cut and end in `…`.
const LINE_CHARS: usize = 1_000;

/// The failure read from the stderr file at `path` of attempt `attempt`; a missing or unreadable
/// file gives an error of kind `other` with no line (the record still says the attempt failed).
pub fn read_attempt_error(path: &Path, attempt: u32) -> AttemptError {
    let (head, tail) = read_ends(path).unwrap_or_default();
    let mut error = parse(&tail.text, tail.from_start);
    error.attempt = attempt;
    count_warnings(&head, &mut error.warnings);
    error
}

/// Part of a file, as text.
#[derive(Default)]
struct Part {
    text: String,
    /// Whether it starts at the file's first byte (else its first line is cut and dropped).
    from_start: bool,
}

/// The head (only what the tail does not cover) and the tail of the file.
fn read_ends(path: &Path) -> std::io::Result<(String, Part)> {
    let mut file = crate::exec::run_dir::open_regular(path)?;
    let size = file.metadata()?.len();
    let tail_from = size.saturating_sub(TAIL_BYTES);
    let mut head = Vec::new();
    (&mut file)
        .take(HEAD_BYTES.min(tail_from))
        .read_to_end(&mut head)?;
    // The head's last line may be cut: dropped (the tail or the next head line has the rest).
    if tail_from > 0 {
        if let Some(nl) = head.iter().rposition(|&b| b == b'\n') {
            head.truncate(nl);
        }
    }
    file.seek(SeekFrom::Start(tail_from))?;
    let mut tail = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut tail)?;
    Ok((
        String::from_utf8_lossy(&head).into_owned(),
        Part {
            text: String::from_utf8_lossy(&tail).into_owned(),
            from_start: tail_from == 0,
        },
    ))
}

fn patterns() -> &'static [Regex; 6] {
    static P: OnceLock<[Regex; 6]> = OnceLock::new();
    P.get_or_init(|| {
        [
            // An exception line: `ValueError: bad`, `torch.OutOfMemoryError: ...`, `KeyboardInterrupt`.
            Regex::new(r"^([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Failure|Fault)|[A-Za-z_][\w.]*\.[A-Z]\w*)(: .*)?$").unwrap(),
            Regex::new(r"(?i)CUDA out of memory|OutOfMemoryError: CUDA|torch\.cuda\.OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED").unwrap(),
            Regex::new(r"NCCL error|nccl(Internal|System|UnhandledCuda|Remote|InvalidUsage|InvalidArgument)Error").unwrap(),
            // bash: `line 1: 4242 Killed  python train.py`; or a bare `Killed`; SLURM's OOM kill.
            Regex::new(r"(^|\d+\s+)Killed(\s|$)|oom[-_]kill").unwrap(),
            // ANSI sequences (colour and cursor (CSI), a window title or link (OSC, ended by BEL
            // or ST, or cut by the line's end), charset and keypad switches), and torchrun's
            // `[rank1]: ` line prefix.
            Regex::new(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b[()#][0-9A-Za-z]|\x1b[=>78DEHMc]|^\[(default)?(rank)?\d+\]: ?").unwrap(),
            Regex::new(r"\b([A-Z]\w*Warning):|\bWARNING\b").unwrap(),
        ]
    })
}

/// The lines as a terminal shows them: each up to its last `\r` (progress bars), ANSI
/// sequences and torchrun's rank prefix removed, trailing blanks trimmed.
fn clean_lines(text: &str, from_start: bool) -> Vec<String> {
    let ansi = &patterns()[4];
    let mut lines: Vec<&str> = text.split('\n').collect();
    if !from_start && lines.len() > 1 {
        lines.remove(0); // cut by the read
    }
    lines
        .into_iter()
        .map(|l| {
            let shown = l.trim_end_matches('\r');
            let shown = shown.rsplit('\r').next().unwrap_or(shown);
            let shown = ansi.replace_all(shown, "");
            let shown = shown.trim_end();
            if shown.chars().count() > LINE_CHARS {
                let cut: String = shown.chars().take(LINE_CHARS).collect();
                format!("{cut}…")
            } else {
                shown.to_string()
            }
        })
        .collect()
}

/// The failure in the text of stderr's tail (`from_start`: the tail is the whole file).
pub fn parse(tail: &str, from_start: bool) -> AttemptError {
    let [exception, cuda_oom, nccl, killed, _, _] = patterns();
    let lines = clean_lines(tail, from_start);
    let traceback = lines
        .iter()
        .rposition(|l| l.contains("Traceback (most recent call last)"));
    // The exception line: the first unindented line after the last traceback's frames.
    let exception_at = match traceback {
        Some(tb) => lines[tb + 1..]
            .iter()
            .position(|l| !l.is_empty() && !l.starts_with([' ', '\t']) && !l.starts_with('^'))
            .map(|i| tb + 1 + i),
        None => lines
            .iter()
            .rposition(|l| exception.is_match(l.trim_start())),
    };
    let killed_at = lines.iter().rposition(|l| killed.is_match(l));
    let last_line = lines.iter().rposition(|l| !l.trim().is_empty());
    let region = traceback.unwrap_or(0);
    let find = |re: &Regex| {
        lines[region..]
            .iter()
            .rposition(|l| re.is_match(l))
            .map(|i| region + i)
    };
    let (kind, at) = match (killed_at, exception_at) {
        // What came last ended it: a kill after a traceback (or with none) is the kill.
        (Some(k), e) if e.is_none_or(|e| k > e) => ("killed", Some(k)),
        _ => {
            if let Some(oom) = find(cuda_oom) {
                ("cuda_oom", exception_at.or(Some(oom)))
            } else if let Some(n) = find(nccl) {
                ("nccl", exception_at.or(Some(n)))
            } else if let Some(e) = exception_at {
                ("exception", Some(e))
            } else {
                ("other", last_line)
            }
        }
    };
    let mut redactions: Vec<Redaction> = Vec::new();
    let line = at.map(|i| redact_text(lines[i].trim(), "stderr", &mut redactions));
    let stack = match traceback {
        Some(tb) => {
            let end = exception_at.map_or(lines.len(), |e| e + 1);
            let frames = &lines[tb..end];
            frames[frames.len().saturating_sub(STACK_LINES)..]
                .iter()
                .map(|l| redact_text(l, "stderr", &mut redactions))
                .collect()
        }
        None => Vec::new(),
    };
    let mut error = AttemptError {
        attempt: 0,
        line,
        kind: kind.to_string(),
        stack,
        warnings: BTreeMap::new(),
        redactions,
    };
    count_lines(&lines, &mut error.warnings);
    error
}

fn count_warnings(head: &str, counts: &mut BTreeMap<String, u32>) {
    if !head.is_empty() {
        count_lines(&clean_lines(head, true), counts);
    }
}

/// Counts each line once: by its `XxxWarning` category, else `WARNING` (a logger's level).
fn count_lines(lines: &[String], counts: &mut BTreeMap<String, u32>) {
    let warning = &patterns()[5];
    for l in lines {
        if let Some(m) = warning.captures(l) {
            let kind = m.get(1).map_or("WARNING", |k| k.as_str());
            *counts.entry(kind.to_string()).or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
mod tests;
