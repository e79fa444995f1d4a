//! Issue 9: labtrail's output piped into a reader that goes away (`| head -1`).

mod common;
use common::*;
use std::io::BufRead;
use std::os::unix::process::ExitStatusExt;

/// Issue 9: `labtrail run exp.toml 2>&1 | head -1`: once the reader of its narration has gone,
/// the run goes on, records every task, and exits with its own code (0: all done). Before,
/// the first line printed after that (the summary) panicked on the closed pipe: exit 101.
#[test]
fn a_run_whose_reader_went_away_finishes_and_exits_with_its_own_code() {
    let exp = Exp::new(
        r#"
[experiment]
name = "headed"
command = "sleep 0.3; echo '{\"i\": {i}}' > $LABTRAIL_RESULT"
[params]
i = [1, 2, 3, 4]
"#,
    );
    let mut child = exp.spawn(&["run", "exp.toml", "-j", "2"]);
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufReader::new(stderr)
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("Starting run headed-"), "{first}");
    drop(stdout); // both read ends closed, as `head -1` leaves them: the stderr one just now
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(exp.count("done"), 4);
}

/// Issue 9: a listing whose reader goes away ends quietly: exit 0, or the SIGPIPE default
/// (141 in a shell), never a panic message.
#[test]
fn a_listing_whose_reader_went_away_ends_quietly() {
    // 1600 tasks: each listing is larger than a pipe's buffer (64 KiB), so it meets the close.
    let values: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let grid = format!("[{}]", values.join(", "));
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"long\"\ncommand = \"true\"\n[params]\na = {grid}\nb = {grid}\n"
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress", "-j", "2"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    for args in [&["tasks"][..], &["tasks", "--json"], &["results"]] {
        let mut child = exp.spawn(args);
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .unwrap();
        let out = finish(child);
        let quiet = out.0.status.code() == Some(0) || out.0.status.signal() == Some(libc::SIGPIPE);
        assert!(quiet, "{args:?}: {:?}", out.0.status);
        assert!(!out.stderr().contains("panicked"), "{}", out.stderr());
    }
}
