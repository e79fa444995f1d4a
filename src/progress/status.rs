//! The status line of the live area (the one line `-q` keeps), made to fit the terminal's
//! width: a line wider than the terminal wraps, and "one status line" would be two or three. The
//! bar gives way first, then the clock, then the ETA; what is left is cut.

use std::time::Duration;

/// The widest the bar is drawn.
const BAR_MAX: usize = 30;
/// Narrower than this, a bar says nothing the counts do not: it goes.
const BAR_MIN: usize = 10;

/// What the status line shows.
pub struct Status<'a> {
    /// Since the display started.
    pub elapsed: Duration,
    /// Tasks finished (done or failed) of `len`.
    pub pos: u64,
    pub len: u64,
    /// `3 done · 1 failed · 2 running`.
    pub counts: &'a str,
    /// The estimate, `4m10s` or `—`.
    pub eta: &'a str,
}

impl Status<'_> {
    /// `00:01:03 [=====>      ] 2/12 1 done · 1 failed · 3 running (ETA 4m10s)` in fewer than
    /// `cols` columns (the spinner and its space, drawn before it, counted).
    pub fn line(&self, cols: usize) -> String {
        let room = cols.saturating_sub(3);
        let s = self.elapsed.as_secs();
        let clock = format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
        let tally = format!("{}/{} {}", self.pos, self.len, self.counts);
        let with_eta = format!("{tally} (ETA {})", self.eta);
        // Everything but the bar: the clock, ` [`, `] `, the tally and the ETA.
        let bar = room.saturating_sub(clock.len() + 4 + width(&with_eta));
        if bar >= BAR_MIN {
            return format!("{clock} [{}] {with_eta}", self.bar(bar.min(BAR_MAX)));
        }
        [format!("{clock} {with_eta}"), with_eta, tally]
            .into_iter()
            .find(|l| width(l) <= room)
            .unwrap_or_else(|| cut(&format!("{}/{} {}", self.pos, self.len, self.counts), room))
    }

    /// `=====>     `: `width` characters, as full as the run is finished.
    fn bar(&self, width: usize) -> String {
        let fraction = match self.len {
            0 => 1.0,
            len => (self.pos as f64 / len as f64).min(1.0),
        };
        let full = (fraction * width as f64).floor() as usize;
        if full >= width {
            return "=".repeat(width);
        }
        let head = usize::from(self.pos > 0);
        format!(
            "{}{}{}",
            "=".repeat(full),
            ">".repeat(head),
            " ".repeat(width - full - head)
        )
    }
}

fn width(text: &str) -> usize {
    super::live::columns(text)
}

/// `text` in `room` characters, its end replaced by `…` when cut.
fn cut(text: &str, room: usize) -> String {
    if width(text) <= room {
        return text.to_string();
    }
    let kept: String = text.chars().take(room.saturating_sub(1)).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(counts: &str) -> Status<'_> {
        Status {
            elapsed: Duration::from_secs(63),
            pos: 120,
            len: 1200,
            counts,
            eta: "1h02m",
        }
    }

    /// Issue 14 (review): the status line fits the terminal: the bar narrows, then goes, then
    /// the clock, then the ETA; what is still too wide is cut.
    #[test]
    fn the_status_line_fits_the_width() {
        let counts = "100 done · 20 failed · 16 running";
        let s = status(counts);
        let wide = s.line(120);
        assert_eq!(
            wide,
            format!(
                "00:01:03 [===>{}] 120/1200 {counts} (ETA 1h02m)",
                " ".repeat(26)
            )
        );
        for cols in [100, 80, 60, 50, 40, 30, 20] {
            let line = s.line(cols);
            assert!(
                width(&line) + 2 < cols,
                "{cols}: {line} is {} wide",
                width(&line)
            );
        }
        assert_eq!(
            s.line(80),
            format!(
                "00:01:03 [=>{}] 120/1200 {counts} (ETA 1h02m)",
                " ".repeat(9)
            )
        );
        assert_eq!(
            s.line(66),
            format!("00:01:03 120/1200 {counts} (ETA 1h02m)")
        );
        assert_eq!(s.line(60), format!("120/1200 {counts} (ETA 1h02m)"));
        assert_eq!(s.line(50), format!("120/1200 {counts}"));
        assert_eq!(s.line(20), "120/1200 100 don…");
        assert!(s.line(0).chars().count() <= 1, "no room: no panic");
    }

    /// The bar as indicatif drew it: empty at 0, a head while under way, full at the end.
    #[test]
    fn the_bar_fills_with_the_run() {
        let mut s = status("");
        s.pos = 0;
        assert_eq!(s.bar(10), " ".repeat(10));
        s.pos = 600;
        assert_eq!(s.bar(10), "=====>    ");
        s.pos = 1200;
        assert_eq!(s.bar(10), "=".repeat(10));
    }
}
