//! Issue 14 (review): `labtrail tasks TASK --command` reproduces where the attempt ran, not only
//! what it was: its worker slot (`LABTRAIL_SLOT`, `{slot}` in the command), the GPUs it was
//! handed (`CUDA_VISIBLE_DEVICES`), and `PYTHONUNBUFFERED` as the engine set it.

mod common;
use common::*;

/// Each task writes what it got, from its command line and its environment, in its own folder.
const TASK: &str = r#"
printf '%s slot=%s cuda=%s unbuffered=%s\n' "$1" "$LABTRAIL_SLOT" "${CUDA_VISIBLE_DEVICES-unset}" \
  "${PYTHONUNBUFFERED-unset}" > "$LABTRAIL_TASK_DIR/seen.txt"
sleep 0.3
echo '{"ok": 1}' > "$LABTRAIL_RESULT"
"#;

/// Runs `exp` with 2 workers and returns it.
fn ran(toml: &str) -> Exp {
    let exp = Exp::new(toml);
    exp.write("task.sh", TASK);
    std::fs::create_dir(exp.file("code")).unwrap();
    exp.run_ok(&["run", "exp.toml", "--no-progress", "-j", "2"]);
    exp
}

/// The snippet of each task of `exp`, run with `sh` from another folder with nothing of this
/// environment but PATH, must write what the attempt wrote. Returns what they wrote.
fn each_reproduced(exp: &Exp) -> Vec<String> {
    let mut seen = Vec::new();
    for task in exp.tasks() {
        let key = task["key"].as_str().unwrap();
        // The shell that asks may have PYTHONUNBUFFERED itself: the snippet says it anyway.
        let out = exp
            .cmd(&["tasks", key, "--command"])
            .env("PYTHONUNBUFFERED", "1")
            .output()
            .unwrap();
        let snippet = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{snippet}");
        let file = exp.run_dir().join("tasks").join(key).join("seen.txt");
        let before = std::fs::read_to_string(&file).unwrap();
        std::fs::remove_file(&file).unwrap();
        run_by_hand(&snippet);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), before, "{snippet}");
        seen.push(before);
    }
    seen
}

/// Issue 14 (review): with GPUs handed out, each snippet exports the worker slot and the
/// devices its attempt had (both workers' slots and both devices occur), substitutes `{slot}`
/// in the command as the launch did, and says so in a comment.
#[test]
fn the_snippet_has_the_attempts_slot_and_gpus() {
    let exp = ran(r#"
[experiment]
name = "gpus"
command = "sh ../task.sh slot{slot}"
workdir = "code"
[params]
i = [1, 2, 3, 4]
[run]
gpus = ["0", "1"]
gpus_per_task = 1
"#);
    let seen = each_reproduced(&exp);
    let all = seen.concat();
    for want in [
        "slot1 slot=1 ",
        "slot2 slot=2 ",
        "cuda=0 ",
        "cuda=1 ",
        "unbuffered=1",
    ] {
        assert!(all.contains(want), "{want} in {all}");
    }
    let key = exp.tasks()[0]["key"].as_str().unwrap().to_string();
    let snippet = exp.run_ok(&["tasks", &key, "--command"]).stdout();
    assert!(
        snippet.contains("CUDA_VISIBLE_DEVICES=") && snippet.contains("as the attempt had them"),
        "{snippet}"
    );
    assert!(!snippet.contains("{slot}"), "{snippet}");
}

/// Issue 14 (review): without GPUs, a command with `{slot}` still gets its slot back (the run
/// records it as a `slot` note), and no `CUDA_VISIBLE_DEVICES` is made up.
#[test]
fn without_gpus_the_slot_of_a_slot_command_is_kept() {
    let exp = ran(r#"
[experiment]
name = "slots"
command = "sh ../task.sh slot{slot}"
workdir = "code"
[params]
i = [1, 2, 3, 4]
"#);
    let seen = each_reproduced(&exp);
    let all = seen.concat();
    assert!(
        all.contains("slot1 slot=1 cuda=unset") && all.contains("slot2 slot=2 cuda=unset"),
        "{all}"
    );
    let events = exp.run_ok(&["events"]).stdout();
    assert!(events.contains("attempt 1: worker slot "), "{events}");
}

/// Issue 14 (review): an attempt with no slot note (a run of a labtrail that wrote none; the
/// notes are deleted here to stand for one) gets slot 1 in both `LABTRAIL_SLOT` and `{slot}`,
/// and the snippet says so: never a `{slot}` left for `sh` to run.
#[test]
fn an_attempt_without_a_slot_note_gets_slot_one() {
    let exp = ran(r#"
[experiment]
name = "old"
command = "sh ../task.sh slot{slot}"
workdir = "code"
[params]
i = [1, 2]
"#);
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("DELETE FROM events WHERE kind = 'slot'", [])
        .unwrap();
    drop(db);
    for task in exp.tasks() {
        let key = task["key"].as_str().unwrap();
        let snippet = exp.run_ok(&["tasks", key, "--command"]).stdout();
        assert!(snippet.ends_with("\nsh ../task.sh slot1\n"), "{snippet}");
        assert!(snippet.contains("\nexport LABTRAIL_SLOT=1\n"), "{snippet}");
        assert!(snippet.contains("was not recorded"), "{snippet}");
    }
}

/// Issue 14 (review): the snippet of an attempt still running says so (its pid) at its top:
/// run beside it, the copy would write the same result and metrics files at once.
#[test]
fn the_snippet_of_a_running_attempt_says_it_runs() {
    let exp = Exp::new(
        "[experiment]\nname = \"busy\"\ncommand = \"touch started; sleep 30\"\n[params]\ni = [1]\n",
    );
    let mut runner = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("the task runs", std::time::Duration::from_secs(60), || {
        exp.file("started").exists() && exp.count("running") == 1
    });
    let snippet = exp.run_ok(&["tasks", "i=1", "--command"]).stdout();
    signal(&runner, libc::SIGTERM);
    let _ = runner.wait();
    assert!(
        snippet.contains("# That attempt has not ended (pid "),
        "{snippet}"
    );
}
