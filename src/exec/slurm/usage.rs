//! What a job asked for and used, as squeue and sacct print it: time limits, memory sizes,
//! CPU times and the trackable resources (TRES) it was given. Parsing only; the monitor records
//! the numbers with the job's attempt.

/// What a job used, from sacct: CPU time, elapsed time and the allocation from the job's own
/// line, peak memory from its steps (`.batch`, `.extern`, `srun` steps), where the processes ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobResources {
    /// Largest resident set of any one task of any step (sacct `MaxRSS`), KiB.
    pub max_rss_kb: Option<u64>,
    /// CPU time of all the job's processes, user + system (sacct `TotalCPU`), milliseconds.
    pub total_cpu_ms: Option<u64>,
    /// User CPU time (sacct `UserCPU`), milliseconds.
    pub user_cpu_ms: Option<u64>,
    /// System CPU time (sacct `SystemCPU`), milliseconds.
    pub sys_cpu_ms: Option<u64>,
    /// Wall time from start to end (sacct `Elapsed`), seconds.
    pub elapsed_s: Option<u64>,
    /// The resources given to the job as sacct prints them (`AllocTRES`:
    /// `billing=1,cpu=4,gres/gpu=2,mem=16G,node=1`).
    pub alloc_tres: Option<String>,
    /// GPUs among them (`gres/gpu=N`, or the sum of the typed `gres/gpu:TYPE=N`).
    pub gpus: Option<u32>,
}

impl JobResources {
    /// The job's own (allocation) line: CPU and elapsed times and the allocation.
    pub fn of_allocation(
        max_rss: &str,
        total_cpu: &str,
        user_cpu: &str,
        sys_cpu: &str,
        elapsed: &str,
        alloc_tres: &str,
    ) -> JobResources {
        let tres = alloc_tres.trim();
        JobResources {
            max_rss_kb: size_kb(max_rss),
            total_cpu_ms: duration_ms(total_cpu),
            user_cpu_ms: duration_ms(user_cpu),
            sys_cpu_ms: duration_ms(sys_cpu),
            elapsed_s: duration_ms(elapsed).map(|ms| ms / 1000),
            alloc_tres: (!tres.is_empty()).then(|| tres.to_string()),
            gpus: gpus_of_tres(tres),
        }
    }

    /// Folds in a step's line: the job's peak memory is the largest of its steps'. CPU times
    /// stay the allocation line's, which already counts every step.
    pub fn add_step(&mut self, max_rss: &str) {
        if let Some(kb) = size_kb(max_rss) {
            self.max_rss_kb = Some(self.max_rss_kb.map_or(kb, |m| m.max(kb)));
        }
    }

    /// Whether sacct gave any number at all (no accounting gatherer: all empty).
    pub fn is_empty(&self) -> bool {
        *self == JobResources::default()
    }
}

/// A Slurm duration in milliseconds: `M:SS`, `H:MM:SS` or `D-HH:MM:SS`, seconds possibly with a
/// fraction (`00:05.123` in `TotalCPU`). None for `UNLIMITED`, `INVALID`, `Partition_Limit`, an
/// empty field or anything else that is not a duration.
pub fn duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let (days, rest) = match text.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let (secs, whole) = (parts[parts.len() - 1], &parts[..parts.len() - 1]);
    let (s, frac) = secs.split_once('.').unwrap_or((secs, ""));
    let digits = |t: &str| !t.is_empty() && t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(s) || !(frac.is_empty() || digits(frac)) || !whole.iter().all(|w| digits(w)) {
        return None;
    }
    let ms_frac: u64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let mut secs_total: u64 = s.parse().ok()?;
    for (i, w) in whole.iter().rev().enumerate() {
        secs_total += w.parse::<u64>().ok()? * if i == 0 { 60 } else { 3600 };
    }
    (days.checked_mul(86_400)?.checked_add(secs_total)?)
        .checked_mul(1000)?
        .checked_add(ms_frac)
}

/// A Slurm memory size in KiB: `5008K`, `1.50M`, `2G`, `0`; a bare number is bytes (sacct's
/// `MaxRSS`). The `n`/`c` suffix of older `ReqMem` (per node, per CPU) is ignored. None when
/// empty or not a size.
pub fn size_kb(text: &str) -> Option<u64> {
    let t = text.trim().trim_end_matches(['n', 'c']);
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok().filter(|n: &f64| n.is_finite())?;
    let kb = match unit {
        "" => n / 1024.0,
        "K" => n,
        "M" => n * 1024.0,
        "G" => n * 1024.0 * 1024.0,
        "T" => n * 1024.0 * 1024.0 * 1024.0,
        "P" => n * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(kb.ceil() as u64)
}

/// A memory request in MiB (squeue `MinMemory`, sacct `ReqMem`); None for no request (`0`).
pub fn request_mb(text: &str) -> Option<u64> {
    size_kb(text)
        .filter(|&kb| kb > 0)
        .map(|kb| kb.div_ceil(1024))
}

/// GPUs in an `AllocTRES` list.
fn gpus_of_tres(tres: &str) -> Option<u32> {
    let mut plain = None;
    let mut typed: Option<u32> = None;
    for item in tres.split(',') {
        let Some((name, count)) = item.split_once('=') else {
            continue;
        };
        let Ok(count) = count.trim().parse::<u32>() else {
            continue;
        };
        if name == "gres/gpu" {
            plain = Some(count);
        } else if name.starts_with("gres/gpu:") {
            typed = Some(typed.unwrap_or(0).saturating_add(count));
        }
    }
    plain.or(typed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_squeue_and_sacct_print_them() {
        assert_eq!(duration_ms("1:00"), Some(60_000));
        assert_eq!(duration_ms("1:00:00"), Some(3_600_000));
        assert_eq!(duration_ms("365-00:00:00"), Some(365 * 86_400_000));
        assert_eq!(duration_ms("1-02:03:04"), Some(93_784_000));
        assert_eq!(duration_ms("00:00.017"), Some(17));
        assert_eq!(duration_ms("01:02.5"), Some(62_500));
        assert_eq!(duration_ms("00:00:03"), Some(3_000));
        for bad in [
            "UNLIMITED",
            "INVALID",
            "Partition_Limit",
            "",
            "1",
            "a:b",
            "1:2:3:4",
            "-1:00",
        ] {
            assert_eq!(duration_ms(bad), None, "{bad}");
        }
        assert_eq!(duration_ms("99999999999999999999-00:00:00"), None);
    }

    #[test]
    fn sizes_and_requests() {
        assert_eq!(size_kb("5008K"), Some(5008));
        assert_eq!(size_kb("1.50M"), Some(1536));
        assert_eq!(size_kb("2G"), Some(2 * 1024 * 1024));
        assert_eq!(size_kb("2048"), Some(2));
        assert_eq!(size_kb("0"), Some(0));
        assert_eq!(size_kb(""), None);
        assert_eq!(size_kb("lots"), None);
        assert_eq!(request_mb("256M"), Some(256));
        assert_eq!(request_mb("4Gn"), Some(4096));
        assert_eq!(request_mb("500Mc"), Some(500));
        assert_eq!(request_mb("0"), None);
    }

    #[test]
    fn gpus_are_counted_from_the_allocation() {
        assert_eq!(gpus_of_tres("billing=1,cpu=1,mem=256M,node=1"), None);
        assert_eq!(
            gpus_of_tres("cpu=8,gres/gpu=2,gres/gpu:a100=2,mem=64G"),
            Some(2)
        );
        assert_eq!(
            gpus_of_tres("cpu=8,gres/gpu:a100=1,gres/gpu:v100=2"),
            Some(3)
        );
    }

    #[test]
    fn peak_memory_is_the_largest_step() {
        let mut r = JobResources::of_allocation(
            "",
            "00:05.250",
            "00:04.000",
            "00:01.250",
            "00:00:09",
            "billing=1,cpu=1,gres/gpu=1,mem=256M,node=1",
        );
        r.add_step("204800K");
        r.add_step("1024K");
        r.add_step("");
        assert_eq!(r.max_rss_kb, Some(204_800));
        assert_eq!(r.total_cpu_ms, Some(5_250));
        assert_eq!(r.sys_cpu_ms, Some(1_250));
        assert_eq!(r.elapsed_s, Some(9));
        assert_eq!(r.gpus, Some(1));
        assert!(!r.is_empty());
    }
}
