//! The cluster limit job arrays are planned by, read from `scontrol show config` (issue 15).

/// SLURM's default `MaxArraySize`, assumed when `scontrol` does not say: with it the largest
/// array index is 1000, so an array has at most 1001 elements.
pub const DEFAULT_MAX_ARRAY_SIZE: usize = 1001;

/// `MaxArraySize` in the output of `scontrol show config` (a line `MaxArraySize = 1001`), if
/// it is there and a number. SLURM's largest array index is one less: an array of at most this
/// many elements, indices `0..MaxArraySize-1`, is accepted; 0 means arrays are disabled.
pub fn parse_max_array_size(config: &str) -> Option<usize> {
    config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "MaxArraySize")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15: the limit is read from scontrol's own layout; anything else is not a limit.
    #[test]
    fn max_array_size_is_read_from_scontrol_show_config() {
        let config = "Configuration data as of 2026-11-30T14:50:00\n\
                      MailProg                = /bin/mail\n\
                      MaxArraySize            = 1001\n\
                      MaxJobCount             = 10000\n";
        assert_eq!(parse_max_array_size(config), Some(1001));
        assert_eq!(parse_max_array_size("MaxArraySize = 0\n"), Some(0));
        assert_eq!(parse_max_array_size("MaxArraySizeX = 5\n"), None);
        assert_eq!(parse_max_array_size("MaxArraySize = (null)\n"), None);
        assert_eq!(parse_max_array_size(""), None);
    }
}
