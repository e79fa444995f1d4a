//! Issue 14 on a real SLURM cluster: on a terminal, the monitor's live area lists the running
//! jobs under the bar, with the step and loss of their metrics.

mod common;
mod live_common;
mod slurm_common;
use common::*;
use live_common::OnTerminal;
use slurm_common::*;

/// Issue 14: a running job gets a line under the bar (its time so far, label, last step and
/// loss, read from its metrics file on the shared file system); the line goes when it ends.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn slurm_monitor_shows_running_jobs_with_step_and_loss() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "slurmlive"
command = "printf '{{\"step\": 7, \"loss\": 0.25}}\n' >> $LABTRAIL_METRICS; while [ ! -e {{dir}}/gate ]; do sleep 0.2; done"
[params]
x = [1, 2]
{FAST}"#
    ));
    let dir = exp.path().display().to_string();
    let toml = std::fs::read_to_string(exp.file("exp.toml"))
        .unwrap()
        .replace("{dir}", &dir);
    exp.write("exp.toml", &toml);
    let mut term = OnTerminal::start(&exp, "run exp.toml", 120, 30);
    // The jobs wait for the gate: a failing test must not leave them waiting.
    let _cancel = CancelJobsOf(wait_for_run(&exp));
    let line = regex::Regex::new(r"^ +\d+s  x=[12]  step 7  loss 0.25$").unwrap();
    let shown = term.wait_for("both running jobs with their step and loss", |l| {
        l.iter().filter(|l| line.is_match(l)).count() == 2
    });
    let bar = shown.iter().position(|l| l.contains("2 running")).unwrap();
    assert!(
        line.is_match(&shown[bar + 1]) && line.is_match(&shown[bar + 2]),
        "{shown:#?}"
    );
    exp.write("gate", "");
    let (code, end) = term.finish();
    assert_eq!(code, 0, "{end:#?}");
    assert!(
        !end.iter().any(|l| line.is_match(l)),
        "the area is cleared: {end:#?}"
    );
    assert!(
        end.iter().filter(|l| l.starts_with("✓ x=")).count() == 2,
        "{end:#?}"
    );
}
