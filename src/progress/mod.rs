//! What a run shows while it works. On a terminal, a live area: the bar (counts and ETA) and
//! one line per running task under it, the event lines scrolling above (with `--quiet`, the bar
//! alone). Otherwise (a pipe, a log, `--no-progress`), one plain line per event. Event lines
//! are reported only after the change they describe is committed to the store.
//!
//! The live area is one indicatif bar whose template ends in the running-task lines (a custom
//! key that writes several lines): indicatif counts them, so that the lines printed above and
//! each redraw clear exactly what was drawn, and it already owns the terminal for the bar. A
//! `MultiProgress` with a bar per task would redraw the same way with more to keep in step.

mod echo;
mod eta;
mod live;
mod metrics_tail;
mod status;

use echo::EchoOff;
pub use eta::{Eta, ETA_MIN_ELAPSED, ETA_MIN_FINISHED};
use live::Live;

use crate::cli::terminal::escape;
use crate::spec::format_duration;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most characters of a failed attempt's error line that its `✗` line shows.
pub const ERROR_LINE_CHARS: usize = 160;

/// The part of a failure line that shows the attempt's error (the exception, else the last
/// non-empty line of its stderr, as [`crate::provenance::attempt_end::AttemptFacts`] read it):
/// `; stderr: ValueError: bad lr`, cut to [`ERROR_LINE_CHARS`]; empty when there is none.
/// Escaped with the rest of the line by [`Reporter::line`].
pub fn error_part(error: Option<&str>) -> String {
    let Some(line) = error.map(str::trim).filter(|l| !l.is_empty()) else {
        return String::new();
    };
    if line.chars().count() > ERROR_LINE_CHARS {
        let cut: String = line.chars().take(ERROR_LINE_CHARS - 1).collect();
        format!("; stderr: {cut}…")
    } else {
        format!("; stderr: {line}")
    }
}

/// Whether the live area can be drawn: stderr is a terminal that moves its cursor as told. A
/// `TERM=dumb` one (Emacs `M-x shell`, some CI pseudo-terminals) prints the cursor movements of
/// every redraw as they come, so it gets the plain lines of a pipe, as cargo does.
pub fn can_draw() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

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
    /// The running tasks under the bar: only on a terminal without `--quiet`.
    live: Option<Arc<Mutex<Live>>>,
    /// The estimate the bar shows, fed by [`Reporter::counts`].
    eta: Arc<Mutex<Eta>>,
    /// `3 done · 1 failed · 2 running`, as the status line shows it.
    counts: Arc<Mutex<String>>,
    /// When this invocation's display started: the clock of [`Eta`].
    started: Instant,
    /// The terminal's echo, off while the bar is drawn (see [`echo`]); back on when dropped.
    _echo: Option<EchoOff>,
}

impl Reporter {
    /// `progress`: draw the live area (only sensible on a terminal); `quiet`: no event lines,
    /// only warnings and the final summary (and, with `progress`, the bar alone).
    pub fn new(progress: bool, quiet: bool, total: u64, already_done: u64) -> Reporter {
        let eta = Arc::new(Mutex::new(Eta::new(already_done)));
        let started = Instant::now();
        let live = (progress && !quiet).then(|| Arc::new(Mutex::new(Live::default())));
        let counts = Arc::new(Mutex::new(String::new()));
        let bar = progress.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let (shown, tally) = (Arc::clone(&eta), Arc::clone(&counts));
            let status = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let elapsed = started.elapsed();
                let eta = match shown.lock().map(|e| e.at(elapsed.as_secs_f64())) {
                    Ok(Some(secs)) => format_duration(Duration::from_secs(secs.round() as u64)),
                    _ => "—".to_string(),
                };
                let Ok(counts) = tally.lock() else { return };
                let line = status::Status {
                    elapsed,
                    pos: state.pos(),
                    len: state.len().unwrap_or(0),
                    counts: &counts,
                    eta: &eta,
                };
                let _ = w.write_str(&line.line(live::terminal_size().0));
            };
            let tasks = live.clone();
            let running = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let Some(Ok(mut tasks)) = tasks.as_ref().map(|t| t.lock()) else {
                    return;
                };
                let (cols, rows) = live::terminal_size();
                for line in tasks.lines(Instant::now(), cols, rows) {
                    let _ = w.write_str("\n");
                    let _ = w.write_str(&line);
                }
            };
            bar.set_style(
                ProgressStyle::with_template("{spinner:.green} {status}{running}")
                    .expect("valid template")
                    .with_key("status", status)
                    .with_key("running", running),
            );
            bar.set_position(already_done);
            bar.reset_eta();
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        let _echo = bar.as_ref().and_then(|_| EchoOff::on_stderr());
        Reporter {
            bar,
            quiet,
            live,
            eta,
            counts,
            started,
            _echo,
        }
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
        if let Ok(mut eta) = self.eta.lock() {
            let now = self.started.elapsed().as_secs_f64();
            eta.observe(now, c.done + c.failed, c.total);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(c.done + c.failed);
            let failed = if c.failed > 0 {
                format!(" · {} failed", c.failed)
            } else {
                String::new()
            };
            let text = format!("{} done{failed} · {} running", c.done, c.running);
            if let Ok(mut shown) = self.counts.lock() {
                shown.clone_from(&text);
            }
            // Not drawn (the status line is), but a new message redraws the bar at once.
            bar.set_message(text);
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
    /// Attempt `id` (its process id) of the task `label` started at `started`, writing its
    /// metrics to `metrics`: it gets a line in the live area until [`Reporter::task_ended`].
    pub fn task_started(&self, id: u32, label: &str, metrics: PathBuf, started: Instant) {
        if let Some(Ok(mut live)) = self.live.as_ref().map(|l| l.lock()) {
            live.start(id, label, metrics, started);
        }
    }

    /// Whether running tasks are shown (a live area under the bar): when not, a SLURM poll
    /// spares itself listing them (issue 15).
    pub fn shows_running(&self) -> bool {
        self.live.is_some()
    }

    /// The attempts running now, for an engine that sees them all at once (the SLURM monitor,
    /// at each poll): `(id, label, metrics file, start)`.
    pub fn running_now(&self, tasks: Vec<(u32, String, PathBuf, Instant)>) {
        if let Some(Ok(mut live)) = self.live.as_ref().map(|l| l.lock()) {
            live.replace(tasks);
        }
    }

    /// Attempt `id` ended: its line leaves the live area.
    pub fn task_ended(&self, id: u32) {
        if let Some(Ok(mut live)) = self.live.as_ref().map(|l| l.lock()) {
            live.end(id);
        }
    }

    /// Whether start lines are wanted: only in line mode, where they are the only sign of
    /// progress (a bar already shows what is running).
    pub fn wants_start_lines(&self) -> bool {
        !self.quiet && self.bar.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: the error part of a failure line: trimmed, cut to a sane width, absent without
    /// an error line.
    #[test]
    fn error_part_is_short_or_absent() {
        assert_eq!(
            error_part(Some("  KeyError: 'x' ")),
            "; stderr: KeyError: 'x'"
        );
        assert_eq!(error_part(Some("   ")), "");
        assert_eq!(error_part(None), "");
        let long = error_part(Some(&"e".repeat(500)));
        assert_eq!(long.chars().count(), "; stderr: ".len() + ERROR_LINE_CHARS);
        assert!(long.ends_with('…'));
    }
}
