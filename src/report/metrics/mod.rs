//! `labtrail metrics`: a task's metric stream, and its summary per key (final, best, step of
//! best, NaN count, throughput, step time).
//!
//! | module | what |
//! |---|---|
//! | [`direction`] | which way is better for a key, and which keys are the step and time axes |
//! | [`record`] | one record's fields, read without building a JSON tree |
//! | [`summary`] | the streaming summary: O(keys) memory |
//! | [`view`] | what `labtrail metrics` shows: the chosen attempt, its columns, the writers |

pub mod direction;
pub mod record;
pub mod summary;
pub mod view;

use super::archive::model::MetricSummary;
pub use summary::Summarizer;

/// Summarises one attempt's metric records (JSON lines as stored), streaming: O(keys) memory.
/// `minimize` / `maximize` override the direction guessed from a key's name.
///
/// Per numeric key, in the order keys first appear: the count of values (NaN and infinities
/// included, and counted apart), the last finite value and its step, the best finite value by
/// direction and its step (none for a key whose name says neither, such as `lr`), and, when
/// records carry a time (`time`, `t`, `timestamp`: seconds), steps per second and the mean and
/// 95th percentile of the time between consecutive records of the key. A record's step is its
/// `step` (or `global_step`, `_step`, `iter`, `iteration`, `epoch`, the first present); these
/// axes are not summarised themselves. Non-numeric values and lines that are not objects are
/// skipped.
pub fn summarize<'a>(
    records: impl Iterator<Item = &'a str>,
    minimize: &[String],
    maximize: &[String],
) -> Vec<MetricSummary> {
    let mut s = Summarizer::new(minimize, maximize);
    for line in records {
        s.push(line);
    }
    s.finish()
}

#[cfg(test)]
mod tests;
