//! Issue 10, items 4-6: how the store is written when something else happens to it at the same
//! time: a second runner on a new store, the store deleted or replaced during a run, the disk
//! full or the runner killed while a new run is created.

mod common;
use common::*;
use std::io::Write;
use std::process::Child;
use std::time::Duration;

/// Whether process `pid` sleeps reading a pipe (our barrier FIFO).
fn blocked_on_pipe(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("pipe"))
}

/// Starts `labtrail ARGS` in `exp` once per entry of `copies`, each held at a barrier (a FIFO
/// every one reads a line from) until all are waiting there, then released at once.
fn start_together(exp: &Exp, copies: usize, args: &[&str]) -> Vec<Child> {
    let fifo = exp.file("barrier");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Read-write: opening does not wait for a reader, and the FIFO stays open until all read.
    let mut gate = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let line = format!(
        "read _ < barrier && exec {} \"$@\"",
        env!("CARGO_BIN_EXE_labtrail")
    );
    let children: Vec<Child> = (0..copies)
        .map(|_| {
            std::process::Command::new("sh")
                .current_dir(exp.path())
                .env_remove("LABTRAIL_STORE")
                .args(["-c", &line, "sh"])
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_until("every copy waits at the barrier", Duration::from_secs(60), || {
        children.iter().all(|c| blocked_on_pipe(c.id()))
    });
    gate.write_all("go\n".repeat(copies).as_bytes()).unwrap();
    children
}

/// Issue 10, item 6: two `labtrail run` started at the same instant on a new store. One always
/// died with "table runs already exists" or "duplicate column" (exit 3), or both made a run
/// and every task ran twice. Now the schema is made once, the run is chosen and created in one
/// transaction: each ends with 0 (it ran the tasks, or found them done) or 4 (the other holds
/// the run), and each task runs exactly once.
#[test]
fn two_runners_on_a_new_store_run_each_task_once() {
    for round in 0..12 {
        let exp = Exp::new(
            r#"
[experiment]
name = "twin"
command = "echo {i} >> ledger.txt"
[params]
i = [1, 2, 3, 4, 5, 6]
[run]
workers = 2
"#,
        );
        let children = start_together(&exp, 2, &["run", "exp.toml", "--no-progress"]);
        let outs: Vec<Out> = children.into_iter().map(finish).collect();
        for out in &outs {
            assert!(
                [0, 4].contains(&out.code()),
                "round {round}: exit {}: {}",
                out.code(),
                out.stderr()
            );
            assert!(!out.stderr().contains("panicked"), "{}", out.stderr());
        }
        let mut ledger = exp.ledger("ledger.txt");
        ledger.sort();
        assert_eq!(
            ledger,
            ["1", "2", "3", "4", "5", "6"],
            "round {round}: each task runs once: {}\n---\n{}",
            outs[0].stderr(),
            outs[1].stderr()
        );
        assert_eq!(exp.run(&["list", "--json"]).code(), 0);
        assert_eq!(
            exp.column::<String>("SELECT id FROM runs").len(),
            1,
            "round {round}: one run"
        );
    }
}

