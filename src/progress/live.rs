//! The running tasks under the bar on a terminal: one line each with its elapsed time and, when
//! it writes metrics, its last step and loss; as many as fit, then `… and K more`.

use super::metrics_tail;
use crate::cli::terminal::escape;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often one task's metrics file is read at most.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// One running attempt as the live area shows it.
struct LiveTask {
    /// Which attempt: the caller's handle (the process id).
    id: u32,
    /// Escaped once, when it starts.
    label: String,
    metrics: PathBuf,
    started: Instant,
    /// When its metrics were last read, and what they said.
    read_at: Option<Instant>,
    progress: Option<String>,
}

/// The attempts running now, oldest first.
#[derive(Default)]
pub struct Live {
    tasks: Vec<LiveTask>,
}

impl Live {
    /// Attempt `id` of the task `label` started at `started`; it may append metrics to `metrics`.
    pub fn start(&mut self, id: u32, label: &str, metrics: PathBuf, started: Instant) {
        self.tasks.push(LiveTask {
            id,
            label: escape(label).into_owned(),
            metrics,
            started,
            read_at: None,
            progress: None,
        });
    }

    /// The attempts running now are `tasks` (id, label, metrics file, start), as a scheduler's
    /// queue shows them: the others' lines go; one that stays keeps its start and its last
    /// metrics read (read again only when a second old).
    /// By sets of ids: a SLURM run may have 10^5 jobs running (issue 15).
    pub fn replace(&mut self, tasks: Vec<(u32, String, PathBuf, Instant)>) {
        let now: std::collections::HashSet<u32> = tasks.iter().map(|(id, ..)| *id).collect();
        self.tasks.retain(|t| now.contains(&t.id));
        let shown: std::collections::HashSet<u32> = self.tasks.iter().map(|t| t.id).collect();
        for (id, label, metrics, started) in tasks {
            if !shown.contains(&id) {
                self.start(id, &label, metrics, started);
            }
        }
        self.tasks.sort_by_key(|t| t.started);
    }

    /// Attempt `id` ended: its line goes (its ✓ or ✗ line scrolls above once recorded).
    pub fn end(&mut self, id: u32) {
        self.tasks.retain(|t| t.id != id);
    }

    /// The lines to draw under the bar at `now` on a terminal of `cols` × `rows`: half the rows
    /// at most (the other half keeps the lines scrolled above in view). Reads the metrics of the
    /// tasks shown whose last read is over a second old.
    pub fn lines(&mut self, now: Instant, cols: usize, rows: usize) -> Vec<String> {
        let room = (rows / 2).max(3);
        let shown = if self.tasks.len() <= room {
            self.tasks.len()
        } else {
            room - 1
        };
        let mut out = Vec::with_capacity(shown + 1);
        for t in &mut self.tasks[..shown] {
            if t.read_at
                .is_none_or(|at| now.duration_since(at) >= METRICS_EVERY)
            {
                t.read_at = Some(now);
                t.progress = metrics_tail::latest(&t.metrics).map(|p| escape(&p).into_owned());
            }
            let took = now.saturating_duration_since(t.started);
            out.push(line(&t.label, took, t.progress.as_deref(), cols));
        }
        if shown < self.tasks.len() {
            out.push(format!("  … and {} more", self.tasks.len() - shown));
        }
        out
    }
}

/// `  ELAPSED  LABEL  PROGRESS`, cut to `cols` columns: the label gives way first (its end
/// replaced by `…`), so that the elapsed time and the progress stay in view. Measured in terminal
/// columns: a CJK character or an emoji takes two, and a line counted in characters would wrap.
pub fn line(label: &str, took: Duration, progress: Option<&str>, cols: usize) -> String {
    let head = format!("  {:>6}  ", elapsed(took));
    let tail = progress.map(|p| format!("  {p}")).unwrap_or_default();
    let fixed = columns(&head) + columns(&tail);
    let room = cols.saturating_sub(fixed + 1);
    let text = if columns(label) <= room {
        format!("{head}{label}{tail}")
    } else if room >= 8 {
        format!("{head}{}…{tail}", first_columns(label, room - 1))
    } else {
        format!("{head}{label}{tail}")
    };
    // Too narrow even for that: the whole line is cut, as the terminal would wrap it.
    if columns(&text) >= cols {
        return format!("{}…", first_columns(&text, cols.saturating_sub(2)));
    }
    text
}

/// The terminal columns `text` takes.
pub fn columns(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// The longest start of `text` that takes at most `n` columns.
fn first_columns(text: &str, n: usize) -> String {
    let mut used = 0;
    text.chars()
        .take_while(|c| {
            used += unicode_width::UnicodeWidthChar::width(*c).unwrap_or(0);
            used <= n
        })
        .collect()
}

/// A running time that ticks by whole seconds: `9s`, `1m05s`, `2h03m`.
fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The size of the terminal on stderr, as (columns, rows); 80 × 24 when it cannot be asked.
/// Asked at each draw, so that a resized window is followed.
pub fn terminal_size() -> (usize, usize) {
    match terminal_size::terminal_size_of(std::io::stderr()) {
        Some((terminal_size::Width(w), terminal_size::Height(h))) if w > 0 && h > 0 => {
            (w as usize, h as usize)
        }
        _ => (80, 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: a long label is cut, not the elapsed time or the progress; more tasks than fit
    /// show the first ones and how many more.
    #[test]
    fn lines_fit_the_terminal() {
        let took = Duration::from_secs(65);
        assert_eq!(
            line("rep=a,seed=1", took, Some("step 3  loss 0.25"), 80),
            "   1m05s  rep=a,seed=1  step 3  loss 0.25"
        );
        let long = "x".repeat(100);
        let l = line(&long, took, Some("step 3"), 40);
        assert_eq!(l, format!("   1m05s  {}…  step 3", "x".repeat(20)));
        assert!(l.chars().count() < 40);
        assert_eq!(elapsed(Duration::from_secs(7384)), "2h03m");
        // Issue 14 (review): wide characters count two columns: the line still fits.
        let wide = line(
            &format!("model={}", "日本語".repeat(10)),
            took,
            Some("step 3"),
            40,
        );
        assert_eq!(wide, "   1m05s  model=日本語日本語日…  step 3");
        assert!(columns(&wide) < 40, "{} columns", columns(&wide));

        let mut live = Live::default();
        let now = Instant::now();
        for id in 0..10 {
            live.start(id, &format!("t{id}"), PathBuf::from("/nonexistent"), now);
        }
        let lines = live.lines(now, 80, 12);
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0], "      0s  t0");
        assert_eq!(lines[5], "  … and 5 more");
        live.end(0);
        assert_eq!(live.lines(now, 80, 40).len(), 9, "all fit");

        // A scheduler's view: the list as it is now, oldest first, starts kept.
        let earlier = now - Duration::from_secs(30);
        live.replace(vec![
            (3, "t3".into(), PathBuf::from("/nonexistent"), earlier),
            (42, "new".into(), PathBuf::from("/nonexistent"), earlier),
        ]);
        let lines = live.lines(now, 80, 40);
        assert_eq!(lines, ["     30s  new", "      0s  t3"]);
    }
}
