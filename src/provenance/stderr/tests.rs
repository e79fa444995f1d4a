use super::*;
use std::io::Write;

fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

/// Issue 12: a real Python traceback (from python3 itself): the exception line, the stack from
/// `Traceback` to it, and the warnings Python printed before, by kind.
#[test]
fn a_real_python_traceback() {
    let script = r#"
import warnings, sys
warnings.warn("old api", DeprecationWarning, stacklevel=1)
warnings.warn("careful", UserWarning)
warnings.warn("careful again", UserWarning)
print("WARNING: low disk", file=sys.stderr)
def inner(x):
    return {}[x]
def outer():
    try:
        inner("lr")
    except KeyError as e:
        raise ValueError("learning rate missing from config") from e
outer()
"#;
    let out = std::process::Command::new("python3")
        .args(["-W", "always", "-c", script])
        .output()
        .expect("python3 runs");
    assert!(!out.status.success());
    let f = file_with(&out.stderr);
    let e = read_attempt_error(f.path(), 2);
    assert_eq!(e.attempt, 2);
    assert_eq!(e.kind, "exception");
    assert_eq!(
        e.line.as_deref(),
        Some("ValueError: learning rate missing from config")
    );
    assert!(
        e.stack[0].starts_with("Traceback (most recent call last)"),
        "{:?}",
        e.stack
    );
    assert_eq!(e.stack.last(), e.line.as_ref());
    assert!(e.stack.iter().any(|l| l.contains("in outer")));
    assert!(e.stack.len() <= STACK_LINES);
    assert_eq!(e.warnings.get("UserWarning"), Some(&2), "{:?}", e.warnings);
    assert_eq!(e.warnings.get("DeprecationWarning"), Some(&1));
    assert_eq!(e.warnings.get("WARNING"), Some(&1));
}

/// Issue 12: CUDA out of memory (with and without a traceback), NCCL, `Killed`; otherwise the
/// last non-empty line.
#[test]
fn recognised_failures() {
    let oom = "Traceback (most recent call last):\n  File \"t.py\", line 3, in <module>\n    x = torch.empty(10**12, device='cuda')\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.73 TiB. GPU 0 has a total capacity of 79.15 GiB\n";
    let e = parse(oom, true);
    assert_eq!(e.kind, "cuda_oom");
    assert!(e
        .line
        .unwrap()
        .starts_with("torch.OutOfMemoryError: CUDA out of memory."));
    let bare_oom = "step 10\nRuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n";
    assert_eq!(parse(bare_oom, true).kind, "cuda_oom");
    let nccl = "[rank1]: Traceback (most recent call last):\n  File \"ddp.py\", line 9\ntorch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/NCCLUtils.hpp:275, unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.20.5\nncclSystemError: System call (e.g. socket, malloc) or external library call failed\n";
    let e = parse(nccl, true);
    assert_eq!(e.kind, "nccl");
    assert!(e
        .line
        .unwrap()
        .starts_with("torch.distributed.DistBackendError: NCCL error"));
    let killed =
        "epoch 1\nepoch 2\n/tmp/x.sh: line 3: 4242 Killed                  python train.py\n";
    let e = parse(killed, true);
    assert_eq!(
        (e.kind.as_str(), e.line.as_deref()),
        (
            "killed",
            Some("/tmp/x.sh: line 3: 4242 Killed                  python train.py")
        )
    );
    assert_eq!(parse("loading\nKilled\n\n", true).kind, "killed");
    let slurm = "slurmstepd: error: Detected 1 oom_kill event in StepId=12.batch. Some of the step tasks have been OOM Killed.\n";
    assert_eq!(parse(slurm, true).kind, "killed");
    let other = "loading data\nsegfault in libfoo at 0x1234\n\n  \n";
    let e = parse(other, true);
    assert_eq!(
        (e.kind.as_str(), e.line.as_deref()),
        ("other", Some("segfault in libfoo at 0x1234"))
    );
    assert!(e.stack.is_empty());
    let nothing = parse("", true);
    assert_eq!((nothing.kind.as_str(), nothing.line), ("other", None));
    // A progress bar's carriage returns and colours: the line as a terminal shows it.
    let bar = "\x1b[31mfailed\x1b[0m\r 10%|#   |\rFatal: disk full\n";
    assert_eq!(parse(bar, true).line.as_deref(), Some("Fatal: disk full"));
    // Issue 14 (review): a window title (OSC, ended by BEL or ST) and a charset switch go too.
    let titled = "Err\x1b]0;TITLE\x07or: bad \x1b]8;;http://x\x1b\\link\x1b(B\n";
    assert_eq!(parse(titled, true).line.as_deref(), Some("Error: bad link"));
}

/// Issue 12: bytes that are not UTF-8 are replaced, never an error.
#[test]
fn non_utf8_stderr_is_read() {
    let f = file_with(b"\xff\xfe binary junk \x80\nTraceback (most recent call last):\n  File \"a.py\", line 1\nOSError: [Errno 5] bad \xe9 byte\n");
    let e = read_attempt_error(f.path(), 1);
    assert_eq!(e.kind, "exception");
    assert_eq!(
        e.line.as_deref(),
        Some("OSError: [Errno 5] bad \u{fffd} byte")
    );
}

/// Issue 12: a 50 MB stderr is read only at its ends: the traceback at the end is found, a
/// warning at its start is counted, and one in the middle (neither head nor tail) is not.
#[test]
fn a_large_stderr_is_read_only_at_its_ends() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"w.py:1: FutureWarning: soon\n").unwrap();
    let size = 50u64 << 20;
    f.as_file().set_len(size / 2).unwrap(); // sparse: no disk used
    f.as_file_mut().seek(SeekFrom::End(0)).unwrap();
    f.write_all(b"\nm.py:1: RuntimeWarning: in the middle\n")
        .unwrap();
    f.as_file().set_len(size).unwrap();
    f.as_file_mut().seek(SeekFrom::End(0)).unwrap();
    f.write_all(b"\nTraceback (most recent call last):\n  File \"a.py\", line 1\nMemoryError\n")
        .unwrap();
    let e = read_attempt_error(f.path(), 1);
    assert_eq!(
        (e.kind.as_str(), e.line.as_deref()),
        ("exception", Some("MemoryError"))
    );
    assert_eq!(e.warnings.get("FutureWarning"), Some(&1));
    assert_eq!(e.warnings.get("RuntimeWarning"), None, "{:?}", e.warnings);
    // A missing file is a failure with no line.
    let gone = read_attempt_error(Path::new("/nonexistent/stderr.log"), 3);
    assert_eq!(
        (gone.kind.as_str(), gone.line, gone.attempt),
        ("other", None, 3)
    );
}

/// Issue 12: a stack is its last 30 lines, ending at the exception line.
#[test]
fn the_stack_is_capped() {
    let mut text = String::from("Traceback (most recent call last):\n");
    for i in 0..100 {
        text.push_str(&format!(
            "  File \"f.py\", line {i}, in f{i}\n    f{}()\n",
            i + 1
        ));
    }
    text.push_str("RecursionError: maximum recursion depth exceeded\nafter\n");
    let e = parse(&text, true);
    assert_eq!(e.stack.len(), STACK_LINES);
    assert_eq!(
        e.stack.last().unwrap(),
        "RecursionError: maximum recursion depth exceeded"
    );
}
