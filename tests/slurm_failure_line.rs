//! Issue 14 on a real SLURM cluster: the monitor's failure line shows the job's error (the
//! exception read from the end of its stderr), between the outcome and the log path.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;

/// Issue 14: a job that raises: its `✗` line (and any `↻` line before it) carries the exception
/// line, so that a user sees why without opening the log.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn slurm_failure_line_shows_the_error() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "failline"
command = "echo 'Traceback (most recent call last):' >&2; echo 'ValueError: bad lr {{lr}} in slurm' >&2; exit 1"
[params]
lr = [7, 8]
{FAST}"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    let line = regex::Regex::new(
        r"^[✗↻] lr=(\d): failed \(.*\); stderr: ValueError: bad lr (\d) in slurm; .*; log: /\S+stderr\.log$",
    )
    .unwrap();
    let ends: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with('✗') || l.starts_with('↻'))
        .collect();
    assert_eq!(
        ends.iter().filter(|l| l.starts_with('✗')).count(),
        2,
        "{err}"
    );
    for l in ends {
        let m = line.captures(l).unwrap_or_else(|| panic!("{l}"));
        assert_eq!(m[1], m[2], "each task's own error: {l}");
    }
}
