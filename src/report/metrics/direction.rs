//! Which way is better for a metric, guessed from its name, and which keys are axes (step, time)
//! rather than metrics.

/// Words that name a metric whose best value is the smallest.
const MIN_WORDS: &[&str] = &[
    "loss",
    "losses",
    "ppl",
    "perplexity",
    "err",
    "error",
    "errors",
    "wer",
    "cer",
    "nll",
    "mse",
    "mae",
    "rmse",
];
/// Words that name a metric whose best value is the largest.
const MAX_WORDS: &[&str] = &[
    "acc",
    "accuracy",
    "f1",
    "bleu",
    "rouge",
    "auc",
    "auroc",
    "map",
    "precision",
    "recall",
];
/// Keys whose value is the record's step, most specific first.
pub const STEP_KEYS: &[&str] = &["step", "global_step", "_step", "iter", "iteration", "epoch"];
/// Keys whose value is the record's time in seconds (Unix time or seconds since the start).
pub const TIME_KEYS: &[&str] = &["time", "t", "timestamp", "_timestamp", "wall_time"];

/// Whether `key` is an axis (a step or a time), not a metric.
pub fn is_axis(key: &str) -> bool {
    STEP_KEYS.contains(&key) || TIME_KEYS.contains(&key)
}

/// Which value of a metric is the best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The smallest.
    Min,
    /// The largest.
    Max,
}

impl Direction {
    /// `min` or `max`, as a summary stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Min => "min",
            Direction::Max => "max",
        }
    }
}

/// The direction of `key`: `[archive] minimize` / `maximize` first, then the name's words
/// (`val_loss`, `eval/accuracy`, `rougeL`, `top1_acc`; the last word that says wins). Words, not
/// substrings: `answer_len` is not a `wer`, `grad_accum` not an `acc`. `None`: the name says
/// neither (`lr`, `grad_norm`), and there is no best.
pub fn direction(key: &str, minimize: &[String], maximize: &[String]) -> Option<Direction> {
    if minimize.iter().any(|k| k == key) {
        return Some(Direction::Min);
    }
    if maximize.iter().any(|k| k == key) {
        return Some(Direction::Max);
    }
    words(key).rev().find_map(|w| {
        let bare = w.trim_end_matches(|c: char| c.is_ascii_digit());
        let is = |list: &[&str]| list.contains(&w.as_str()) || list.contains(&bare);
        if is(MIN_WORDS) {
            Some(Direction::Min)
        } else if is(MAX_WORDS) {
            Some(Direction::Max)
        } else {
            None
        }
    })
}

/// Whether the key names an evaluation metric (`val_loss`, `eval/acc`): preferred to a
/// training one when one metric must stand for the task (its best checkpoint).
pub fn is_eval(key: &str) -> bool {
    words(key).any(|w| {
        matches!(
            w.as_str(),
            "val" | "valid" | "validation" | "eval" | "dev" | "test"
        )
    })
}

/// The lowercase words of a key: split at every non-alphanumeric character and where a
/// lowercase letter meets an uppercase one (`rougeLsum` → `rouge`, `lsum`).
fn words(key: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: the direction comes from the name's words; overrides win; unknown names have
    /// none.
    #[test]
    fn directions_from_names_and_overrides() {
        let none: &[String] = &[];
        for (key, want) in [
            ("loss", Some(Direction::Min)),
            ("val_loss", Some(Direction::Min)),
            ("train/ppl", Some(Direction::Min)),
            ("eval_perplexity", Some(Direction::Min)),
            ("error_rate", Some(Direction::Min)),
            ("wer", Some(Direction::Min)),
            ("valCer", Some(Direction::Min)),
            ("acc", Some(Direction::Max)),
            ("top1_acc", Some(Direction::Max)),
            ("acc1", Some(Direction::Max)),
            ("eval/accuracy", Some(Direction::Max)),
            ("f1", Some(Direction::Max)),
            ("rougeLsum", Some(Direction::Max)),
            ("rouge2", Some(Direction::Max)),
            ("map50", Some(Direction::Max)),
            ("val_auc", Some(Direction::Max)),
            ("recall", Some(Direction::Max)),
            ("lr", None),
            ("grad_norm", None),
            ("answer_len", None),
            ("grad_accum_steps", None),
        ] {
            assert_eq!(direction(key, none, none), want, "{key}");
        }
        let min = vec!["reward".to_string()];
        let max = vec!["loss".to_string()];
        assert_eq!(direction("reward", &min, none), Some(Direction::Min));
        assert_eq!(direction("loss", none, &max), Some(Direction::Max));
        assert!(is_axis("step") && is_axis("epoch") && is_axis("t") && !is_axis("loss"));
        assert!(is_eval("val_loss") && is_eval("eval/acc") && !is_eval("train_loss"));
    }
}
