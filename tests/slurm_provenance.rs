//! Issue 12: a SLURM run captures its provenance too: `labtrail run` watching its jobs writes the
//! partial record before submitting and seals it when the watch ends.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;

/// Issue 12: a SLURM run in the foreground leaves a partial and a sealed `provenance` record.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_slurm_run_records_its_provenance() {
    require_slurm();
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"prov\"\ncommand = \"echo {{x}}\"\n[params]\nx = [1, 2]\n{FAST}"
    ));
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(exp.count("done"), 2);
    let records =
        exp.column::<String>("SELECT json FROM records WHERE kind = 'provenance' ORDER BY id");
    assert_eq!(records.len(), 2, "partial, then sealed: {records:?}");
    let first: serde_json::Value = serde_json::from_str(&records[0]).unwrap();
    assert!(
        first["host"]["value"]["hostname"].is_string()
            || first["partial"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "host")
    );
    assert_eq!(
        exp.column::<String>("SELECT json FROM records WHERE kind = 'capture_cost'")
            .len(),
        1
    );
}
