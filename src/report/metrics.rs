//! `labtrail metrics`: a task's metric stream, and its summary per key (final, best, step of
//! best, NaN count, throughput, step time). CONTRACT STUB (issue 12): the `facts` lane
//! implements it.

use super::archive::model::MetricSummary;

/// Summarises one attempt's metric records (JSON lines as stored), streaming: O(keys) memory.
/// `minimize` / `maximize` override the direction guessed from a key's name.
pub fn summarize<'a>(
    records: impl Iterator<Item = &'a str>,
    minimize: &[String],
    maximize: &[String],
) -> Vec<MetricSummary> {
    let _ = (records.count(), minimize, maximize);
    Vec::new()
}
