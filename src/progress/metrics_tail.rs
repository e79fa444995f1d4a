//! A running task's latest step and loss, read from the end of its `$LABTRAIL_METRICS` for the
//! live area: only the last complete line, from a bounded tail of the file, so that a metric
//! stream of gigabytes costs the same as one of a few lines.

use crate::protocol::standard_json;
use serde_json::{Map, Value};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How much of the end of the file is read. A last line longer than this is not shown (a
/// metrics line is a few hundred bytes; one this long is not a step-and-loss line).
const TAIL_BYTES: u64 = 16 << 10;

/// The keys that count steps, in order of preference.
const STEP_KEYS: [&str; 3] = ["step", "epoch", "iter"];

/// What the last complete line of the metrics file at `path` says about progress, as shown:
/// `step 1200  loss 0.4312`. `None` while the file is missing or empty, its last complete line
/// is not a JSON object, or holds neither a step nor a loss.
pub fn latest(path: &Path) -> Option<String> {
    summarize(&last_complete_line(path)?)
}

/// The last line of the file that ends in `\n`: what follows the last newline is a line the
/// task is still writing.
fn last_complete_line(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let from = size.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut tail = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut tail).ok()?;
    let end = tail.iter().rposition(|&b| b == b'\n')?;
    let body = &tail[..end];
    let begin = match body.iter().rposition(|&b| b == b'\n') {
        Some(nl) => nl + 1,
        // The line may have started before the tail: then it is not read whole.
        None if from == 0 => 0,
        None => return None,
    };
    Some(String::from_utf8_lossy(&body[begin..]).into_owned())
}

/// The step (`step`, else `epoch`, else `iter`) and the loss (`loss`, else the first key that
/// contains `loss`) of one metrics line, each as `key value`.
pub fn summarize(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(&standard_json(line)).ok()?;
    let record = value.as_object()?;
    let step = STEP_KEYS
        .iter()
        .find_map(|k| record.get_key_value(*k))
        .filter(|(_, v)| !v.is_null());
    let loss = record
        .get_key_value("loss")
        .or_else(|| find_loss(record))
        .filter(|(_, v)| !v.is_null());
    let parts: Vec<String> = [step, loss]
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k} {}", shown(v)))
        .collect();
    (!parts.is_empty()).then(|| parts.join("  "))
}

fn find_loss(record: &Map<String, Value>) -> Option<(&String, &Value)> {
    record.iter().find(|(k, _)| k.contains("loss"))
}

/// A value as the live area shows it: integers whole, other numbers to 4 significant digits
/// at most (scientific when very large or small), strings (`NaN`) as they are.
fn shown(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), compact),
        Value::String(s) => s.chars().take(24).collect(),
        other => other.to_string().chars().take(24).collect(),
    }
}

fn compact(f: f64) -> String {
    let a = f.abs();
    if f == f.trunc() && a < 1e9 {
        format!("{f:.0}")
    } else if !(1e-3..1e5).contains(&a) {
        format!("{f:.3e}")
    } else {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        let text = format!("{f:.decimals$}");
        // 0.25, not 0.2500: zeros the value does not have are noise in a line that changes.
        match text.contains('.') {
            true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
            false => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Issue 14: the step key and the loss key are chosen by preference; values are short.
    #[test]
    fn picks_step_and_loss() {
        let s = |l: &str| summarize(l);
        assert_eq!(
            s(r#"{"step": 1200, "loss": 0.431234}"#).as_deref(),
            Some("step 1200  loss 0.4312")
        );
        assert_eq!(
            s(r#"{"epoch": 3.0, "iter": 9, "val_loss": 12.5, "train_loss": 1}"#).as_deref(),
            Some("epoch 3  val_loss 12.5")
        );
        assert_eq!(
            s(r#"{"iter": 7, "loss": NaN}"#).as_deref(),
            Some("iter 7  loss NaN")
        );
        assert_eq!(
            s(r#"{"loss": 0.0000123}"#).as_deref(),
            Some("loss 1.230e-5")
        );
        assert_eq!(s(r#"{"acc": 0.9}"#), None);
        assert_eq!(s("not json"), None);
        assert_eq!(s("[1, 2]"), None);
    }

    /// Issue 14: only a line that ends in a newline counts; a line being written is not read.
    #[test]
    fn reads_the_last_complete_line_only() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(latest(f.path()), None, "empty");
        write!(
            f,
            "{{\"step\": 1, \"loss\": 2}}\n{{\"step\": 2, \"loss\": 1}}\n{{\"step\": 3, \"lo"
        )
        .unwrap();
        f.flush().unwrap();
        assert_eq!(latest(f.path()).as_deref(), Some("step 2  loss 1"));
        // A long file: only its tail is read, and its last line is found.
        let mut big = String::new();
        for i in 0..5_000 {
            big.push_str(&format!("{{\"step\": {i}, \"loss\": 0.5}}\n"));
        }
        std::fs::write(f.path(), big).unwrap();
        assert_eq!(latest(f.path()).as_deref(), Some("step 4999  loss 0.5"));
        assert_eq!(latest(Path::new("/nonexistent/metrics.jsonl")), None);
    }
}
