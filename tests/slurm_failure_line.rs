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
lr = [7]
{FAST}"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    let ends: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with('✗') || l.starts_with('↻'))
        .collect();
    assert!(ends.iter().any(|l| l.starts_with('✗')), "{err}");
    for l in ends {
        assert!(
            l.starts_with("✗ lr=7: failed (") || l.starts_with("↻ lr=7: failed ("),
            "{l}"
        );
        assert!(
            l.contains("; stderr: ValueError: bad lr 7 in slurm; "),
            "the error line, then the decision and the log: {l}"
        );
        assert!(l.ends_with(".stderr.log") || l.contains("log: /"), "{l}");
    }
}
