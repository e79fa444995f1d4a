//! What the reporting commands print, byte for byte, for one small staged run with a failure, a
//! blocked task and results of every shape. Keys, times and the run id are masked; everything
//! else (order of rows and columns, alignment, quoting, wording) is pinned.

mod common;
use common::*;

const EXP: &str = r#"
[experiment]
name = "pinned"
[params]
opt = ["sgd", "adam"]
lr = [0.1, 0.01, 0.001]
[[stage]]
name = "train"
command = "sh task.sh {opt} {lr}"
[[stage]]
name = "summary"
params = ["opt"]
command = "true"
[run]
retries = 0
"#;

/// One failure (adam, 0.001), which blocks adam's summary; a list result (sgd, 0.01); object
/// results with a field named like a parameter and text that needs CSV quoting.
const TASK: &str = r#"
case "$1-$2" in
adam-0.001) exit 3 ;;
sgd-0.01) echo '[1,2]' > "$LABTRAIL_RESULT" ;;
*) printf '{"acc": %s, "note": "a,\\"%s\\"", "lr": "r%s"}\n' "$2" "$1" "$2" > "$LABTRAIL_RESULT" ;;
esac
"#;

fn ran() -> Exp {
    let exp = Exp::new(EXP);
    exp.write("task.sh", TASK);
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    exp
}

/// `labtrail ARGS`'s stdout with task keys, times and run ids replaced by placeholders.
fn masked(exp: &Exp, args: &[&str]) -> String {
    let out = exp.run(args);
    assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr());
    let text = regex::Regex::new(r"pinned-\d{8}-\d{6}")
        .unwrap()
        .replace_all(&out.stdout(), "<run>")
        .into_owned();
    let text = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
        .unwrap()
        .replace_all(&text, "<time>")
        .into_owned();
    regex::Regex::new(r"\b[0-9a-f]{16}\b")
        .unwrap()
        .replace_all(&text, "<key>")
        .into_owned()
}

#[test]
fn status_prints_stages_then_groups_in_plan_order() {
    let exp = ran();
    assert_eq!(
        masked(&exp, &["status"]),
        "run <run>: 6/8 done, 1 failed, 1 blocked (75.0%)
  stage train                5/6 done, 1 failed
  stage summary              1/2 done, 1 blocked
  opt=sgd   4/4 done
  opt=adam  2/4 done, 1 failed, 1 blocked
"
    );
    assert_eq!(
        masked(&exp, &["status", "--by", "lr", "--by", "opt"]),
        "run <run>: 6/8 done, 1 failed, 1 blocked (75.0%)
  stage train                5/6 done, 1 failed
  stage summary              1/2 done, 1 blocked
  lr=0.1 opt=sgd     1/1 done
  lr=0.01 opt=sgd    1/1 done
  lr=0.001 opt=sgd   1/1 done
  lr=0.1 opt=adam    1/1 done
  lr=0.01 opt=adam   1/1 done
  lr=0.001 opt=adam  0/1 done, 1 failed
  opt=sgd            1/1 done
  opt=adam           0/1 done, 1 blocked
"
    );
    let json: serde_json::Value =
        serde_json::from_str(&exp.run(&["status", "--json"]).stdout()).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["run", "counts", "stages", "groups", "group_by"]);
    assert_eq!(json["group_by"], serde_json::json!(["opt"]));
}

#[test]
fn results_csv_columns_and_quoting() {
    let exp = ran();
    assert_eq!(
        masked(&exp, &["results", "--format", "csv"]),
        r#"key,stage,opt,lr,acc,note,result.lr,result
<key>,train,sgd,0.1,0.1,"a,""sgd""",r0.1,
<key>,train,sgd,0.01,,,,"[1,2]"
<key>,train,sgd,0.001,0.001,"a,""sgd""",r0.001,
<key>,train,adam,0.1,0.1,"a,""adam""",r0.1,
<key>,train,adam,0.01,0.01,"a,""adam""",r0.01,
<key>,summary,sgd,,,,,
"#
    );
    let jsonl = masked(&exp, &["results", "--format", "jsonl"]);
    assert_eq!(
        jsonl.lines().nth(1).unwrap(),
        r#"{"key":"<key>","stage":"train","label":"train/opt=sgd,lr=0.01","params":{"opt":"sgd","lr":0.01},"result":[1,2],"attempts":1,"finished_at":"<time>"}"#
    );
    let json: serde_json::Value = serde_json::from_str(&exp.run(&["results"]).stdout()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 6);
}

#[test]
fn explain_gives_a_reason_per_task() {
    let exp = ran();
    assert_eq!(
        masked(&exp, &["status", "--explain"]),
        "run <run>:
  skip  <key>  train/opt=sgd,lr=0.1  done (attempt 1, <time>)
  skip  <key>  train/opt=sgd,lr=0.01  done (attempt 1, <time>)
  skip  <key>  train/opt=sgd,lr=0.001  done (attempt 1, <time>)
  skip  <key>  train/opt=adam,lr=0.1  done (attempt 1, <time>)
  skip  <key>  train/opt=adam,lr=0.01  done (attempt 1, <time>)
  run   <key>  train/opt=adam,lr=0.001  failed last time (exit code 3); will be retried
  skip  <key>  summary/opt=sgd  done (attempt 1, <time>)
  run   <key>  summary/opt=adam  blocked (upstream task train/opt=adam,lr=0.001 failed); runs once its upstream succeeds
"
    );
    exp.write("exp.toml", &EXP.replace("0.001]", "0.5]"));
    let compared = masked(&exp, &["run", "exp.toml", "--dry-run"]);
    assert_eq!(compared, masked(&exp, &["status", "--explain", "exp.toml"]));
    let lines: Vec<&str> = compared.lines().collect();
    assert_eq!(lines[0], "run <run>, compared with exp.toml:");
    assert_eq!(
        lines[3],
        "  run   <key>  train/opt=sgd,lr=0.5  new task: not in this run before"
    );
    assert_eq!(lines.len(), 9);

    let fresh = Exp::new(EXP);
    assert_eq!(
        masked(&fresh, &["run", "exp.toml", "--dry-run"])
            .lines()
            .take(2)
            .collect::<Vec<_>>(),
        [
            "no run of experiment `pinned` yet: all 8 tasks would run",
            "  run   <key>  train/opt=sgd,lr=0.1  never run",
        ]
    );
}

#[test]
fn list_says_how_far_each_run_is() {
    let exp = ran();
    assert_eq!(
        masked(&exp, &["list"]),
        "RUN                     EXPERIMENT  CREATED                   DONE  FAILED  STATE
<run>  pinned      <time>  6/8   1       has failures
"
    );
}
