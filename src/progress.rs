//! What a run shows while it works: a progress bar on a terminal, one line per event otherwise.
//! Reports happen only after the change they describe is committed to the store.

use crate::cli::terminal::escape;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;

/// Counts shown in the progress display.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub running: u64,
}

/// How run output is shown.
pub struct Reporter {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Reporter {
    /// `progress`: draw a bar (only sensible on a terminal); `quiet`: only the final summary.
    pub fn new(progress: bool, quiet: bool, total: u64, already_done: u64) -> Reporter {
        let bar = (progress && !quiet).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner:.green} {elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} {msg} (ETA {eta})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_position(already_done);
            bar.reset_eta();
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Reporter { bar, quiet }
    }

    /// A line about one event (a task finished, a retry, a signal). Escaped as a whole: the
    /// lines labtrail makes are single lines, and the values in them (labels, reasons) must not
    /// start lines of their own.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let text = &*escape(text);
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{text}");
            }
        }
    }

    /// A line shown even with `--quiet` (warnings, the final summary); escaped as in
    /// [`Reporter::line`].
    pub fn always(&self, text: &str) {
        let text = &*escape(text);
        match &self.bar {
            Some(bar) => bar.println(text),
            // A closed terminal (SIGHUP) must not turn a message into a panic mid-stop.
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// Updates the counts on the bar.
    pub fn counts(&self, c: Counts) {
        if let Some(bar) = &self.bar {
            bar.set_position(c.done + c.failed);
            let failed = if c.failed > 0 {
                format!(" · {} failed", c.failed)
            } else {
                String::new()
            };
            bar.set_message(format!("{} done{failed} · {} running", c.done, c.running));
        }
    }

    /// Removes the bar before the final summary.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Reporter {
    /// Whether start lines are wanted: only in line mode, where they are the only sign of
    /// progress (a bar already shows what is running).
    pub fn wants_start_lines(&self) -> bool {
        !self.quiet && self.bar.is_none()
    }
}
