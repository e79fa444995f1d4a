//! `run --dry-run` shows what the same command without `--dry-run` would do.

mod common;
use common::*;

const EXP: &str =
    "[experiment]\nname = \"d\"\ncommand = \"echo {i} >> ledger.txt\"\n[params]\ni = [1, 2]\n";

/// Issue 10 (review): after a finished run, `run --dry-run --fresh` said "skip" for the done
/// tasks though `run --fresh` runs them all, and `run --dry-run --id NEW` exited 2 "run NEW is
/// not in the store" though `run --id NEW` creates it. Both now show a new run in which every
/// task runs, as the commands then do.
#[test]
fn a_dry_run_of_a_new_run_shows_every_task_running() {
    let exp = Exp::new(EXP);
    exp.run_ok(&["run", "exp.toml", "-q"]);
    for args in [
        &["run", "exp.toml", "--dry-run", "--fresh"][..],
        &["run", "exp.toml", "--dry-run", "--id", "NEW"],
    ] {
        let out = exp.run_ok(args);
        let stdout = out.stdout();
        let rows: Vec<&str> = stdout.lines().skip(1).collect();
        assert_eq!(rows.len(), 2, "{args:?}: {}", out.stdout());
        assert!(
            rows.iter().all(|r| r.trim_start().starts_with("run ")),
            "{args:?}: {}",
            out.stdout()
        );
        assert!(out.stdout().contains("a new run"), "{}", out.stdout());
    }
    // What they said: the commands themselves run both tasks again.
    exp.run_ok(&["run", "exp.toml", "--fresh", "-q"]);
    exp.run_ok(&["run", "exp.toml", "--id", "NEW", "-q"]);
    assert_eq!(exp.ledger("ledger.txt").len(), 6);
    // A dry run of an existing run still compares with it.
    let out = exp.run_ok(&["run", "exp.toml", "--dry-run", "--id", "NEW"]);
    assert!(out.stdout().contains("skip"), "{}", out.stdout());
}
