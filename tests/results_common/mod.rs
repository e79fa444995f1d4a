//! The ablation the results tests read: 2 representations × 2 layer groups × 3 seeds in a
//! `train` stage (one seed diverges: its `val_acc` is a bare `NaN`, as Python's json writes
//! it), a constant `epochs`, and a `report` stage per representation. Also: running the built
//! binary on a pseudo-terminal, through `script`.
#![allow(dead_code)]

use crate::common::Exp;
use std::process::Command;

pub const ABLATION: &str = r#"
[experiment]
name = "ablation"
[params]
rep = ["stats", "spectral"]
layers = ["low", "all"]
seed = [0, 1, 2]
epochs = [25]
[[stage]]
name = "train"
command = "sh train.sh {rep} {layers} {seed}"
[[stage]]
name = "report"
params = ["rep"]
command = "echo '{\"pages\": 2}' > \"$LABTRAIL_RESULT\""
"#;

/// val_acc per group: stats/low 0.80 0.82 0.84 (mean 0.82, sample std 0.02), stats/all 0.70
/// 0.71 0.72, spectral/low 0.60 0.60 0.60, spectral/all 0.90 0.94 NaN. `loss` is the seed; `note`
/// is text (with a `|`); `tag` is a number for one task and a string for the others.
pub const TRAIN: &str = r#"
case "$1-$2-$3" in
stats-low-0) a=0.80 ;; stats-low-1) a=0.82 ;; stats-low-2) a=0.84 ;;
stats-all-0) a=0.70 ;; stats-all-1) a=0.71 ;; stats-all-2) a=0.72 ;;
spectral-low-*) a=0.60 ;;
spectral-all-0) a=0.90 ;; spectral-all-1) a=0.94 ;; spectral-all-2) a=NaN ;;
esac
case "$1-$2-$3" in stats-low-0) tag=7 ;; *) tag='"x"' ;; esac
printf '{"val_acc": %s, "loss": %s, "note": "ok|%s", "tag": %s}\n' "$a" "$3" "$1" "$tag" > "$LABTRAIL_RESULT"
"#;

/// The ablation, run to its end.
pub fn ran() -> Exp {
    let exp = Exp::new(ABLATION);
    exp.write("train.sh", TRAIN);
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    exp
}

/// `labtrail ARGS` with its stdout on a pseudo-terminal (`script`), `env` added: what a person
/// sees, with `\r\n` turned back into `\n`, and the exit code.
pub fn on_terminal(exp: &Exp, args: &[&str], env: &[(&str, &str)]) -> (String, i32) {
    let mut line = shlex::try_quote(env!("CARGO_BIN_EXE_labtrail"))
        .unwrap()
        .into_owned();
    for a in args {
        line.push(' ');
        line.push_str(&shlex::try_quote(a).unwrap());
    }
    let out = Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .current_dir(exp.path())
        .env_remove("LABTRAIL_STORE")
        .env_remove("COLUMNS")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    (text, out.status.code().unwrap_or(-1))
}
