//! `du -h`'s number format, so a figure reads the same in a snapshot as in the user's terminal.

/// `bytes` as `du -h` prints it: `0`, `512`, `1.5K`, `45G` (powers of 1024, one decimal below 10).
///
/// Rounded up like `du -h` (gnulib's `human_ceiling`): 1025 bytes is `1.1K`, 10,241 is `11K`, and
/// a value that rounds up to 1024 of a unit moves to the next one (1,048,575 is `1.0M`).
pub fn human(bytes: u64) -> String {
    const BASE: u64 = 1024;
    const UNITS: [char; 6] = ['K', 'M', 'G', 'T', 'P', 'E'];
    if bytes < BASE {
        return bytes.to_string();
    }
    let mut amount = bytes;
    let mut tenths = 0u64;
    // Whether anything below the tenths digit was dropped (any non-zero remainder rounds up).
    let mut dropped = false;
    let mut exponent = 0usize;
    while amount >= BASE && exponent < UNITS.len() {
        let r10 = (amount % BASE) * 10 + tenths;
        dropped |= r10 % BASE != 0;
        tenths = r10 / BASE;
        amount /= BASE;
        exponent += 1;
    }
    if amount < 10 {
        if dropped {
            tenths += 1;
            dropped = false;
            if tenths == 10 {
                amount += 1;
                tenths = 0;
            }
        }
        if amount < 10 {
            return format!("{amount}.{tenths}{}", UNITS[exponent - 1]);
        }
    }
    if tenths > 0 || dropped {
        amount += 1;
        if amount == BASE && exponent < UNITS.len() {
            return format!("1.0{}", UNITS[exponent]);
        }
    }
    format!("{amount}{}", UNITS[exponent - 1])
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn matches_du_h_rounding() {
        let cases = [
            (0, "0"),
            (512, "512"),
            (1023, "1023"),
            (1024, "1.0K"),
            (1025, "1.1K"),
            (1536, "1.5K"),
            (10 * 1024 - 1, "10K"),
            (10 * 1024, "10K"),
            (10 * 1024 + 1, "11K"),
            (1024 * 1024 - 1, "1.0M"),
            (45 * (1 << 30), "45G"),
            (u64::MAX, "16E"),
        ];
        for (bytes, want) in cases {
            assert_eq!(human(bytes), want, "{bytes} bytes");
        }
    }
}
