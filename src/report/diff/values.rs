//! How numbers look in a diff, and when two of them count as the same.

/// `x` with at most `sig` significant digits, trailing zeros dropped (`0.8123`, `1.2e-8`).
pub fn sig(x: f64, sig: usize) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let magnitude = x.abs().log10().floor() as i64;
    if !(-5..=15).contains(&magnitude) {
        let text = format!("{:.*e}", sig.saturating_sub(1), x);
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (sig as i64 - 1 - magnitude).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A number as an archive value shows it: exact for integers, 6 significant digits otherwise.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        sig(x, 6)
    }
}

/// `(b - a) / |a|`, if `a` is not zero.
pub fn relative(a: f64, b: f64) -> Option<f64> {
    (a != 0.0 && a.is_finite() && b.is_finite()).then(|| (b - a) / a.abs())
}

/// Whether `a` and `b` count as the same under a relative `tolerance` (0: exactly equal).
pub fn within(a: f64, b: f64, tolerance: f64) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    match relative(a, b) {
        Some(r) => r.abs() <= tolerance,
        None => false,
    }
}

/// `+0.012 (+1.3%)`: the change from `a` to `b`, absolute and relative.
pub fn delta(a: f64, b: f64) -> String {
    let d = b - a;
    let abs = if d >= 0.0 {
        format!("+{}", sig(d, 4))
    } else {
        sig(d, 4)
    };
    match relative(a, b) {
        Some(r) => format!("{abs} ({:+.1}%)", r * 100.0),
        None => abs,
    }
}

/// `+25%`: the relative change alone (resources), or the absolute one when `a` is zero.
pub fn percent(a: f64, b: f64) -> String {
    match relative(a, b) {
        Some(r) => format!("{:+.0}%", r * 100.0),
        None => delta(a, b),
    }
}

/// `1.5 GiB`: a byte count for a person.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{} {}", sig(v, 3), UNITS[unit])
    }
}

/// The first 8 characters of a hash or commit.
pub fn short(hash: &str) -> &str {
    hash.get(..8).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(sig(0.012345, 3), "0.0123");
        assert_eq!(sig(-0.5, 4), "-0.5");
        assert_eq!(sig(1234.5678, 4), "1235");
        assert_eq!(num(3.0), "3");
        assert_eq!(sig(1.2e-8, 3), "1.2e-8");
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(delta(0.8, 0.812), "+0.012 (+1.5%)");
        assert_eq!(delta(0.0, 2.0), "+2");
        assert_eq!(percent(100.0, 125.0), "+25%");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
        assert!(within(1.0, 1.009, 0.01) && !within(1.0, 1.02, 0.01));
        assert!(!within(0.0, 1e-9, 0.5), "a change from zero is a change");
    }
}
