//! Issue 14: GPUs per worker. The devices are given as a list (no GPU needed): each task appends
//! `start end CUDA_VISIBLE_DEVICES LABTRAIL_SLOT` to a ledger, and no two attempts that ran at
//! the same time may ever have shared a device or a slot.

mod common;
use common::*;
use std::collections::BTreeSet;

/// Appends one ledger line per attempt; sleeps a while that varies with the task, so that tasks
/// end out of order and workers take devices in every order.
const TASK: &str = r#"start=$(date +%s%N)
sleep "$1"
echo "$start $(date +%s%N) ${CUDA_VISIBLE_DEVICES-unset} ${LABTRAIL_SLOT-unset}" >> ledger.txt
"#;

/// One attempt as its ledger line says.
#[derive(Debug)]
struct Seen {
    start: u128,
    end: u128,
    devices: Vec<String>,
    slot: String,
}

fn ledger(exp: &Exp) -> Vec<Seen> {
    exp.ledger("ledger.txt")
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            Seen {
                start: f[0].parse().unwrap(),
                end: f[1].parse().unwrap(),
                devices: f[2]
                    .split(',')
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
                    .collect(),
                slot: f[3].to_string(),
            }
        })
        .collect()
}

/// Asserts that no two attempts that overlapped in time shared a device or a slot.
fn assert_never_shared(seen: &[Seen]) {
    for (i, a) in seen.iter().enumerate() {
        for b in &seen[i + 1..] {
            if a.start < b.end && b.start < a.end {
                assert!(
                    a.devices.iter().all(|d| !b.devices.contains(d)),
                    "two running attempts shared a device: {a:?} {b:?}"
                );
                assert_ne!(a.slot, b.slot, "two running attempts shared a slot");
            }
        }
    }
}

fn experiment(run: &str, tasks: usize) -> Exp {
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "gpus"
command = "sh task.sh 0.{{d}}"
[params]
i = {:?}
d = [1, 3]
[run]
{run}
"#,
        (0..tasks / 2).collect::<Vec<_>>()
    ));
    exp.write("task.sh", TASK);
    exp
}

/// Issue 14: more workers than devices: each attempt gets one device of the list, no two
/// running attempts share one (two workers always wait), and each has its own slot.
#[test]
fn more_workers_than_devices_never_share_one() {
    let exp = experiment("gpus = [0, 1, 2, 3]", 24);
    exp.run_ok(&["run", "exp.toml", "-q", "-j", "6"]);
    let seen = ledger(&exp);
    assert_eq!(seen.len(), 24);
    assert_never_shared(&seen);
    let devices: BTreeSet<&str> = seen
        .iter()
        .flat_map(|s| &s.devices)
        .map(|d| d.as_str())
        .collect();
    assert!(seen.iter().all(|s| s.devices.len() == 1), "{seen:?}");
    assert!(
        devices.iter().all(|d| ["0", "1", "2", "3"].contains(d)),
        "{devices:?}"
    );
    let slots: BTreeSet<u32> = seen.iter().map(|s| s.slot.parse().unwrap()).collect();
    assert!(slots.iter().all(|s| (1..=6).contains(s)), "{slots:?}");
    // Which devices each attempt had is recorded.
    let notes = exp.run_ok(&["events", "--json"]).stdout();
    let devices_notes = notes.lines().filter(|l| l.contains("\"devices\"")).count();
    assert_eq!(devices_notes, 24, "{notes}");
    assert!(notes.contains("CUDA_VISIBLE_DEVICES="), "{notes}");
}

/// Issue 14: `gpus_per_task = 2` gives each attempt two devices of its own; without `workers`
/// the run has one worker per pair; a stage with `gpus_per_task = 0` gets
/// `CUDA_VISIBLE_DEVICES=""` (so it does not see every GPU) and does not wait for devices.
#[test]
fn two_devices_per_task_and_a_cpu_stage() {
    let exp = Exp::new(
        r#"
[experiment]
name = "pairs"
[params]
i = [0, 1, 2, 3, 4, 5]
[[stage]]
name = "prep"
command = "sh task.sh 0.1"
gpus_per_task = 0
[[stage]]
name = "train"
command = "sh task.sh 0.2"
[run]
gpus = [0, 1, 2, 3]
gpus_per_task = 2
"#,
    );
    exp.write("task.sh", TASK);
    let out = exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    assert!(
        out.stderr().contains("12 tasks, 2 workers"),
        "{}",
        out.stderr()
    );
    let seen = ledger(&exp);
    assert_eq!(seen.len(), 12);
    assert_never_shared(&seen);
    let (cpu, gpu): (Vec<&Seen>, Vec<&Seen>) = seen.iter().partition(|s| s.devices.is_empty());
    assert_eq!((cpu.len(), gpu.len()), (6, 6));
    for s in gpu {
        assert_eq!(s.devices.len(), 2, "{s:?}");
        assert!(["0,1", "2,3", "0,2", "0,3", "1,2", "1,3"].contains(&s.devices.join(",").as_str()));
    }
    let lines = exp.ledger("ledger.txt");
    assert_eq!(
        lines.iter().filter(|l| l.contains(" unset ")).count(),
        0,
        "{lines:?}"
    );
}

/// Issue 14: `gpus = "auto"` takes `CUDA_VISIBLE_DEVICES` from labtrail's environment, its
/// entries (UUIDs here) kept as written; workers default to one per device.
#[test]
fn auto_takes_cuda_visible_devices_as_written() {
    let exp = experiment("gpus = \"auto\"", 6);
    let out = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("CUDA_VISIBLE_DEVICES", "GPU-aaaa-1,GPU-bbbb-2")
        .output()
        .unwrap();
    let out = Out(out);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("6 tasks, 2 workers"),
        "{}",
        out.stderr()
    );
    let seen = ledger(&exp);
    assert_never_shared(&seen);
    for s in &seen {
        assert!(
            ["GPU-aaaa-1", "GPU-bbbb-2"].contains(&s.devices[0].as_str()),
            "{s:?}"
        );
    }
}

/// A folder whose `nvidia-smi` is a fake (no GPU here) that lists `gpus` GPUs, first on PATH.
fn fake_nvidia_smi(exp: &Exp, gpus: usize) -> String {
    std::fs::create_dir(exp.file("fake-bin")).unwrap();
    let lines: String = (0..gpus)
        .map(|i| format!("echo 'GPU {i}: NVIDIA Fake (UUID: GPU-fake-{i})'\n"))
        .collect();
    exp.write_executable("fake-bin/nvidia-smi", &format!("#!/bin/sh\n{lines}"));
    format!(
        "{}:{}",
        exp.file("fake-bin").display(),
        std::env::var("PATH").unwrap()
    )
}

/// Issue 14: `--gpus auto` without `CUDA_VISIBLE_DEVICES` (and without NVML, as on this
/// machine) asks `nvidia-smi -L`; `--gpus` overrides the file's list.
#[test]
fn auto_asks_nvidia_smi_and_the_flag_overrides_the_file() {
    let exp = experiment("gpus = [7, 8, 9]", 6);
    let path = fake_nvidia_smi(&exp, 2);
    let out = Out(exp
        .cmd(&["run", "exp.toml", "--no-progress", "--gpus", "auto"])
        .env("PATH", &path)
        .env_remove("CUDA_VISIBLE_DEVICES")
        .output()
        .unwrap());
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("2 workers"), "{}", out.stderr());
    let seen = ledger(&exp);
    assert_eq!(seen.len(), 6);
    assert!(
        seen.iter()
            .all(|s| ["0", "1"].contains(&s.devices[0].as_str())),
        "{seen:?}"
    );
}

/// Issue 14: what cannot be handed out is an error before anything runs, that says what to
/// write: `auto` finding nothing, a stage needing more devices than exist, `gpus_per_task`
/// without devices, a bad `--gpus`, and `gpus` with `executor = "slurm"`.
#[test]
fn devices_that_cannot_be_handed_out_are_errors_before_anything_runs() {
    let exp = experiment("gpus = \"auto\"", 2);
    let path = fake_nvidia_smi(&exp, 0);
    let out = Out(exp
        .cmd(&["run", "exp.toml"])
        .env("PATH", &path)
        .env_remove("CUDA_VISIBLE_DEVICES")
        .output()
        .unwrap());
    assert_ne!(out.code(), 0);
    for says in [
        "found no GPU",
        "CUDA_VISIBLE_DEVICES is not set",
        "nvidia-smi",
        "gpus = [0, 1]",
    ] {
        assert!(out.stderr().contains(says), "{says}: {}", out.stderr());
    }
    let out = Out(exp
        .cmd(&["run", "exp.toml"])
        .env("CUDA_VISIBLE_DEVICES", "")
        .output()
        .unwrap());
    assert!(out.stderr().contains("hides every GPU"), "{}", out.stderr());

    let exp2 = experiment("gpus = [0]\ngpus_per_task = 2", 2);
    let out = exp2.run(&["run", "exp.toml"]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr()
            .contains("stage `main` asks for 2 GPU(s) per task, but the run has 1"),
        "{}",
        out.stderr()
    );
    let out = exp2.run(&["run", "exp.toml", "--gpus", "0,,1"]);
    assert!(out.stderr().contains("--gpus 0,,1"), "{}", out.stderr());

    let exp3 = experiment("gpus_per_task = 1", 2);
    let out = exp3.run(&["run", "exp.toml"]);
    assert!(
        out.stderr().contains("has none to hand out"),
        "{}",
        out.stderr()
    );

    let exp4 = experiment("executor = \"slurm\"\ngpus = [0, 1]", 2);
    let out = exp4.run(&["run", "exp.toml"]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr().contains("exp.toml:") && out.stderr().contains("gres"),
        "{}",
        out.stderr()
    );
    for e in [&exp, &exp2, &exp3, &exp4] {
        assert!(e.ledger("ledger.txt").is_empty(), "a task ran");
    }
}

/// Issue 14: an attempt that leaves a process running in its group keeps its devices until
/// that process is gone (it may still hold GPU memory): the next attempt on the device starts
/// only after labtrail's leak schedule has ended the leftover.
#[test]
fn a_lingering_process_group_keeps_its_devices_until_it_is_gone() {
    let exp = Exp::new(
        r#"
[experiment]
name = "linger"
command = "sh task.sh"
[params]
i = [1, 2]
[run]
gpus = [0]
grace = "5s"
"#,
    );
    // The leftover writes when the leak schedule's SIGTERM reaches it, then ends.
    exp.write(
        "task.sh",
        r#"echo "$(date +%s%N) start $CUDA_VISIBLE_DEVICES" >> ledger.txt
(trap 'echo "$(date +%s%N) leftover-end $CUDA_VISIBLE_DEVICES" >> ledger.txt; exit 0' TERM; sleep 30 & wait) &
"#,
    );
    exp.run_ok(&["run", "exp.toml", "-q", "-j", "2"]);
    let lines = exp.ledger("ledger.txt");
    let at = |what: &str, n: usize| -> u128 {
        let l: Vec<&String> = lines.iter().filter(|l| l.contains(what)).collect();
        l[n].split(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        at(" start ", 1) > at("leftover-end", 0),
        "the second attempt got the device while the first one's leftover still ran: {lines:?}"
    );
}

/// Issue 14: a worker that waits for devices first reports the attempt it ran before: that
/// attempt (a CPU task here) is recorded done while a GPU task runs, not once the devices come
/// back (hours later).
#[test]
fn an_end_is_recorded_while_its_worker_waits_for_devices() {
    let exp = Exp::new(
        r#"
[experiment]
name = "wait"
[params]
i = [1, 2]
[[stage]]
name = "prep"
params = []
command = "true"
gpus_per_task = 0
[[stage]]
name = "train"
after = []
command = "while [ ! -f gate ]; do sleep 0.05; done"
[run]
gpus = [0]
workers = 2
"#,
    );
    let child = exp.spawn(&["run", "exp.toml", "-q"]);
    let store = exp.file(".labtrail");
    let recorded = std::panic::catch_unwind(|| {
        wait_until(
            "the CPU task recorded done",
            std::time::Duration::from_secs(30),
            || done_in_db(&store) == 1,
        )
    });
    std::fs::write(exp.file("gate"), "").unwrap();
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        recorded.is_ok(),
        "the CPU task's end waited for the devices"
    );
}
