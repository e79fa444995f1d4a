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

/// A grid with what shapes keys and labels: stages waiting for stages (`after`), a linked
/// group, a declared environment with placeholders, a quoted value, `[[exclude]]` and
/// `[[include]]`.
const PINNED: &str = r#"[experiment]
name = "cmp"
env = { MODE = "fixed" }

[params]
seed = [1, 2, 3]
rep = ["stats", "it's"]
model = [{ arch = "r", lr = 0.1 }, { arch = "v", lr = 0.5 }]
epochs = [25]

[[exclude]]
rep = "stats"
seed = 3

[[include]]
seed = 9
rep = "raw"
arch = "v"
lr = 0.9
epochs = 25

[[stage]]
name = "prep"
command = "echo prep {rep}"
params = ["rep"]

[[stage]]
name = "train"
command = "echo train {rep} {seed} {arch} {lr} {epochs}"
env = { SEED = "{seed}", REP = "{rep}" }
after = ["prep"]

[[stage]]
name = "report"
params = ["arch"]
command = "echo report {arch}"
after = ["train"]
"#;

/// Issue 15: the plan holds its tasks compactly now (keys inline, values as indices, commands
/// and labels made when needed); the dry run of this grid is byte for byte what labtrail 0.9.0
/// printed (copied from its output), keys and labels included, with and without a sample.
#[test]
fn a_dry_run_prints_what_it_printed_before_the_plan_was_made_compact() {
    let exp = Exp::new(PINNED);
    let out = exp.run_ok(&["run", "exp.toml", "--dry-run"]);
    let expected = "no run of experiment `cmp` yet: all 16 tasks would run
  run   8bddcb23591568bc  prep/rep=stats  never run
  run   7cfea3b240108baa  prep/rep=it's  never run
  run   ea4d1183a8da672c  prep/rep=raw  never run
  run   32f4fcb6efbfcbc0  train/seed=1,rep=stats,arch=r,lr=0.1  never run
  run   c9eefe5386c7bdb4  train/seed=1,rep=stats,arch=v,lr=0.5  never run
  run   59e28e29e70592b9  train/seed=1,rep=it's,arch=r,lr=0.1  never run
  run   236c1d502522c66c  train/seed=1,rep=it's,arch=v,lr=0.5  never run
  run   06b777b9ecdc6baf  train/seed=2,rep=stats,arch=r,lr=0.1  never run
  run   cd7eda5e7a357cbe  train/seed=2,rep=stats,arch=v,lr=0.5  never run
  run   6c6cafedeb85d369  train/seed=2,rep=it's,arch=r,lr=0.1  never run
  run   e61fcad923d68581  train/seed=2,rep=it's,arch=v,lr=0.5  never run
  run   f47753d9818376ff  train/seed=3,rep=it's,arch=r,lr=0.1  never run
  run   35e504811179e77c  train/seed=3,rep=it's,arch=v,lr=0.5  never run
  run   f3197cfeb0e8c09a  train/seed=9,rep=raw,arch=v,lr=0.9  never run
  run   34cc24816a24b4fe  report/arch=r  never run
  run   007bf7b00d5f71d3  report/arch=v  never run
";
    assert_eq!(out.stdout(), expected);

    let sampled = PINNED.replace("seed = [1, 2, 3]", "seed = { range = [0, 20] }")
        + "\n[grid]\nsample = 5\nsample_seed = 3\n";
    let exp = Exp::new(&sampled);
    let out = exp.run_ok(&["run", "exp.toml", "--dry-run"]);
    let expected = "no run of experiment `cmp` yet: all 11 tasks would run
  run   8bddcb23591568bc  prep/rep=stats  never run
  run   7cfea3b240108baa  prep/rep=it's  never run
  run   ea4d1183a8da672c  prep/rep=raw  never run
  run   dfcb5016a31471d5  train/seed=5,rep=stats,arch=r,lr=0.1  never run
  run   ea2d47cc189f62f0  train/seed=7,rep=it's,arch=r,lr=0.1  never run
  run   3fbc9d549cb868b6  train/seed=7,rep=it's,arch=v,lr=0.5  never run
  run   59346a9b53137a68  train/seed=17,rep=stats,arch=r,lr=0.1  never run
  run   5f8f1c8027dda6a5  train/seed=19,rep=stats,arch=r,lr=0.1  never run
  run   f3197cfeb0e8c09a  train/seed=9,rep=raw,arch=v,lr=0.9  never run
  run   b46f65323b62061b  report/arch=r  never run
  run   e12dff4a06e8dd84  report/arch=v  never run
";
    assert_eq!(out.stdout(), expected);
}
