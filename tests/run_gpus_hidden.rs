//! Issue 14 (review): device lists that leave GPUs out, unseen. One that hides every GPU: CUDA
//! reads `CUDA_VISIBLE_DEVICES` up to its first entry that is neither an index nor a GPU-/MIG-
//! UUID, so `-1` (the usual way to hide GPUs) and `NoDevFiles` (what some schedulers set when a
//! job got none) mean no GPU: handed out as a device, every task would run on the CPU. And one
//! that `gpus_per_task` does not divide: the devices left over never run anything.

mod common;
use common::*;

fn experiment(run: &str) -> Exp {
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"hidden\"\ncommand = \"sh task.sh\"\n[params]\ni = [1, 2]\n[run]\n{run}\n"
    ));
    exp.write("task.sh", "echo \"$CUDA_VISIBLE_DEVICES\" >> ledger.txt\n");
    exp
}

/// Issue 14 (review): `gpus = "auto"` with `CUDA_VISIBLE_DEVICES=-1` or `NoDevFiles`, and
/// `--gpus=-1`, are errors before anything runs that say why (exit 2, bad input, as README's
/// table says; it was 5, "internal error"), not runs on no GPU.
#[test]
fn a_list_that_hides_every_gpu_is_refused_before_anything_runs() {
    let exp = experiment("gpus = \"auto\"");
    for hidden in ["-1", "NoDevFiles", "0,-1"] {
        let out = Out(exp
            .cmd(&["run", "exp.toml", "--no-progress"])
            .env("CUDA_VISIBLE_DEVICES", hidden)
            .output()
            .unwrap());
        assert_eq!(out.code(), 2, "{hidden}: {}", out.stderr());
        let bad = hidden.rsplit(',').next().unwrap();
        for says in [
            "exp.toml: gpus = \"auto\" found no GPU",
            &format!("CUDA_VISIBLE_DEVICES lists `{bad}`"),
            "CUDA shows no GPU from there on",
        ] {
            assert!(out.stderr().contains(says), "{hidden}: {}", out.stderr());
        }
    }
    let out = Out(exp
        .cmd(&["run", "exp.toml", "--no-progress", "--gpus=-1"])
        .env_remove("CUDA_VISIBLE_DEVICES")
        .output()
        .unwrap());
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("--gpus -1: `-1` is not a device index or a GPU-/MIG- UUID"),
        "{}",
        out.stderr()
    );
    assert!(exp.ledger("ledger.txt").is_empty(), "a task ran");

    // What CUDA does take still works: indices and UUIDs, as written.
    let out = Out(exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("CUDA_VISIBLE_DEVICES", "3,MIG-GPU-aa11/1/0")
        .output()
        .unwrap());
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let mut seen = exp.ledger("ledger.txt");
    seen.sort();
    assert_eq!(seen, ["3", "MIG-GPU-aa11/1/0"]);
}

/// Issue 14 (review): 3 devices, 2 per task: the third is never handed out (the lowest free go
/// first), and the run says so before it starts, rather than leaving a GPU idle unseen.
#[test]
fn devices_left_over_by_gpus_per_task_are_named() {
    let exp = experiment("gpus = [0, 1, 2]\ngpus_per_task = 2");
    let out = exp.run(&["run", "exp.toml", "--no-progress", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("labtrail: warning: device 2 of [run] gpus never used: each task takes 2 GPUs and 3 devices make 1 set(s) of 2"),
        "{}",
        out.stderr()
    );
    assert_eq!(exp.ledger("ledger.txt"), ["0,1", "0,1"]);
    let exp = experiment("gpus = [0, 1, 2, 3]\ngpus_per_task = 2");
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert!(!out.stderr().contains("never used"), "{}", out.stderr());
}
