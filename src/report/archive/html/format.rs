//! Fixed formatting of durations, sizes and hours for the page (no locale, no clock): the same
//! value always gives the same text.

use super::super::svg::fmt_num;

/// `4.2 s`, `12 m 05 s`, `3 h 12 m`, `2 d 4 h`.
pub fn duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return fmt_num(s);
    }
    if s < 60.0 {
        return format!("{} s", fmt_num((s * 10.0).round() / 10.0));
    }
    let t = s.round() as u64;
    let (d, h, m, sec) = (t / 86400, t / 3600 % 24, t / 60 % 60, t % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m:02} m")
    } else {
        format!("{m} m {sec:02} s")
    }
}

/// An optional duration, `n/a` when unknown.
pub fn duration_opt(s: Option<f64>) -> String {
    s.map(duration).unwrap_or_else(|| "n/a".into())
}

/// `512 B`, `12.3 KiB`, `4.1 MiB`, `1.95 GiB`.
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{} {}", fmt_num((v * 100.0).round() / 100.0), UNITS[u])
    }
}

/// A size given in KiB.
pub fn kib(kb: u64) -> String {
    bytes(kb.saturating_mul(1024))
}

/// Hours with 3 significant digits at most: `0.532`, `12.4`, `1,234` stays `1234`.
pub fn hours(h: f64) -> String {
    if h == 0.0 {
        return "0".into();
    }
    let a = h.abs();
    let digits = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{h:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The first `n` characters of `s` (on a character boundary), with `…` when cut.
pub fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The first `max` bytes of `s` (on a character boundary) and whether it was cut.
pub fn head(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    (&s[..i], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: fixed, locale-free text for durations, sizes and hours.
    #[test]
    fn durations_sizes_and_hours_have_fixed_text() {
        assert_eq!(duration(4.24), "4.2 s");
        assert_eq!(duration(725.0), "12 m 05 s");
        assert_eq!(duration(3.0 * 3600.0 + 720.0), "3 h 12 m");
        assert_eq!(duration(2.0 * 86400.0 + 4.0 * 3600.0), "2 d 4 h");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(12_595), "12.3 KiB");
        assert_eq!(kib(2 * 1024 * 1024), "2 GiB");
        assert_eq!(hours(0.5321), "0.532");
        assert_eq!(hours(12.44), "12.4");
        assert_eq!(hours(1234.4), "1234");
        assert_eq!(clip("αβγδ", 2), "αβ…");
        assert_eq!(head("αβ", 3), ("α", true));
    }
}
