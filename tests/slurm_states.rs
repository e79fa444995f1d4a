//! Issue 11: labtrail's one table of SLURM job states, checked against the real `sacct` and the
//! man pages of the installed Slurm.

mod common;
mod slurm_common;
use slurm_common::*;

/// The state names of Slurm 22.05's man pages (JOB STATE CODES of `squeue(1)` and `sacct(1)`),
/// for a machine without them installed.
const MAN_PAGE_STATES: &[&str] = &[
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "CONFIGURING",
    "COMPLETING",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PENDING",
    "PREEMPTED",
    "RUNNING",
    "REQUEUED",
    "RESIZING",
    "REVOKED",
    "SUSPENDED",
    "TIMEOUT",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESV_DEL_HOLD",
    "SIGNALING",
    "SPECIAL_EXIT",
    "STAGE_OUT",
    "STOPPED",
];

/// The state names in the JOB STATE CODES section of `man PAGE`, if the page is installed.
fn states_in_man_page(page: &str) -> Option<Vec<String>> {
    let out = std::process::Command::new("man")
        .arg(page)
        .env("MANWIDTH", "200")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout);
    // Entries look like `  CD  COMPLETED   Job has terminated ...`; the section ends at the
    // next heading (a line that starts with a capital letter).
    let names: Vec<String> = text
        .lines()
        .skip_while(|l| l.trim_end() != "JOB STATE CODES")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (code, name) = (words.next()?, words.next()?);
            let is_code = code.len() <= 3 && code.bytes().all(|b| b.is_ascii_uppercase());
            let is_name =
                name.len() >= 4 && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
            (is_code && is_name).then(|| name.to_string())
        })
        .collect();
    (!names.is_empty()).then_some(names)
}

/// Whether the real sacct knows `state` by name (22.05 refuses an unknown name with
/// "unrecognized job state value"; a known one it does not account is refused differently).
fn sacct_knows_state(state: &str) -> bool {
    let out = std::process::Command::new("sacct")
        .args(["-n", "-X", "-S", "now-1minutes", "-o", "JobID", "-s", state])
        .output()
        .expect("sacct");
    !String::from_utf8_lossy(&out.stderr).contains("unrecognized job state value")
}

/// Issue 11: SPECIAL_EXIT and REVOKED were over for squeue and unknown to the classifier (such a
/// job waited for ever). One table now serves both; every name in it is one the real sacct
/// knows, and every state Slurm documents (its man pages, `sacct --helpstate` where it exists)
/// is in it.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn the_table_of_states_is_the_one_slurm_has() {
    require_slurm();
    use labtrail::exec::slurm::states::STATES;
    assert!(
        !sacct_knows_state("NO_SUCH_STATE"),
        "sacct no longer tells an unknown state name: this test checks nothing"
    );
    for (name, _) in STATES {
        assert!(sacct_knows_state(name), "sacct does not know `{name}`");
    }
    let mut documented: Vec<String> = MAN_PAGE_STATES.iter().map(|s| s.to_string()).collect();
    for page in ["squeue", "sacct"] {
        let installed = std::process::Command::new("man")
            .args(["-w", page])
            .output()
            .is_ok_and(|o| o.status.success());
        match states_in_man_page(page) {
            Some(names) => {
                assert!(names.len() >= 15, "man {page}: only {names:?} found");
                documented.extend(names);
            }
            None => assert!(
                !installed,
                "man {page} is installed but its states were not found"
            ),
        }
    }
    // Newer Slurm lists its states itself (22.05 has no --helpstate).
    if let Ok(out) = std::process::Command::new("sacct")
        .arg("--helpstate")
        .output()
    {
        if out.status.success() {
            documented.extend(
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter(|w| {
                        w.len() >= 4 && w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                    })
                    .map(str::to_string),
            );
        }
    }
    documented.sort();
    documented.dedup();
    let missing: Vec<&String> = documented
        .iter()
        .filter(|d| !STATES.iter().any(|(name, _)| name == d))
        .collect();
    assert!(
        missing.is_empty(),
        "states Slurm documents that labtrail's table lacks: {missing:?}"
    );
}
