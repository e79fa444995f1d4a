use super::*;

/// A fake NVML: no GPU can be had in the test suite, so the devices, their processes and
/// figures are given.
struct FakeNvmlForTests {
    devices: Vec<FakeDevice>,
}

/// A device, its processes (pid, bytes), their utilisation (pid, %), its own figures.
type FakeDevice = (GpuDevice, Vec<(u32, u64)>, Vec<(u32, u32)>, DeviceUsage);

impl FakeNvmlForTests {
    fn one_gpu(procs: Vec<(u32, u64)>, utils: Vec<(u32, u32)>) -> FakeNvmlForTests {
        let used = procs.iter().map(|(_, b)| b).sum::<u64>() + (300 << 20);
        FakeNvmlForTests {
            devices: vec![(
                GpuDevice {
                    index: 0,
                    uuid: "GPU-aaaa-0000".into(),
                },
                procs,
                utils,
                DeviceUsage {
                    used_memory_bytes: used,
                    util_pct: Some(97),
                },
            )],
        }
    }
}

impl GpuProbe for FakeNvmlForTests {
    fn devices(&self) -> Vec<GpuDevice> {
        self.devices.iter().map(|d| d.0.clone()).collect()
    }
    fn processes(&self, device: u32) -> Vec<(u32, u64)> {
        self.devices[device as usize].1.clone()
    }
    fn process_utilization(&self, device: u32, _since_us: u64) -> Vec<(u32, u32)> {
        self.devices[device as usize].2.clone()
    }
    fn device_usage(&self, device: u32) -> Option<DeviceUsage> {
        Some(self.devices[device as usize].3)
    }
}

fn pids(p: &[u32]) -> HashSet<u32> {
    p.iter().copied().collect()
}

const GIB: u64 = 1 << 30;

/// Issue 12: two tasks on one GPU each get their own processes' memory and utilisation, never
/// the device's.
#[test]
fn two_tasks_on_one_gpu_get_separate_memory_by_pid() {
    let probe = FakeNvmlForTests::one_gpu(
        vec![(101, 3 * GIB), (102, GIB), (201, 5 * GIB)],
        vec![(101, 30), (102, 10), (201, 50)],
    );
    let (a, b) = (pids(&[100, 101, 102]), pids(&[200, 201]));
    let gpu0 = vec!["0".to_string()];
    let tasks = [
        TaskView {
            pids: &a,
            allocated: Some(&gpu0),
        },
        TaskView {
            pids: &b,
            allocated: None,
        },
    ];
    let s = attribute(&probe, &tasks, 0);
    assert_eq!(
        s[0],
        vec![GpuSample {
            uuid: "GPU-aaaa-0000".into(),
            memory_bytes: 4 * GIB,
            util_pct: Some(40.0),
            attribution: "process",
        }]
    );
    assert_eq!(s[1][0].memory_bytes, 5 * GIB);
    assert_eq!(s[1][0].util_pct, Some(50.0));
    assert_eq!(s[1][0].attribution, "process");
}

/// Issue 12: a task alone on a GPU is measured by its PIDs when NVML shows them, and by the
/// device's figures, labelled `device`, when it does not (a PID namespace) but the GPU is
/// allocated to it alone.
#[test]
fn a_task_alone_on_a_gpu_gets_its_figures() {
    let mine = pids(&[100, 101]);
    let other = pids(&[200]);
    let gpu0 = vec!["GPU-aaaa".to_string()];
    let gpu1 = vec!["1".to_string()];
    let seen = FakeNvmlForTests::one_gpu(vec![(101, 2 * GIB)], vec![(101, 80)]);
    let alone = [TaskView {
        pids: &mine,
        allocated: None,
    }];
    let s = attribute(&seen, &alone, 0);
    assert_eq!(s[0][0].memory_bytes, 2 * GIB);
    assert_eq!(s[0][0].attribution, "process");

    // NVML shows host PIDs that are not ours: the device is this task's alone by allocation.
    let hidden = FakeNvmlForTests::one_gpu(vec![(90001, 2 * GIB)], vec![(90001, 80)]);
    let tasks = [
        TaskView {
            pids: &mine,
            allocated: Some(&gpu0),
        },
        TaskView {
            pids: &other,
            allocated: Some(&gpu1),
        },
    ];
    let s = attribute(&hidden, &tasks, 0);
    assert_eq!(s[0].len(), 1);
    assert_eq!(s[0][0].attribution, "device");
    assert_eq!(s[0][0].memory_bytes, 2 * GIB + (300 << 20));
    assert_eq!(s[0][0].util_pct, Some(97.0));
    assert!(s[1].is_empty());

    let mut tally = GpuTally::default();
    tally.add(&s[0]);
    let used = tally.finish();
    assert_eq!(used[0].attribution, "device");
    assert_eq!(used[0].max_util_pct, Some(97.0));
}

/// Issue 12: a task whose PIDs NVML does not show, on a GPU another running task may use, gets
/// nothing rather than the device's figures.
#[test]
fn hidden_pids_on_a_shared_gpu_get_nothing() {
    let probe = FakeNvmlForTests::one_gpu(vec![(90001, 2 * GIB), (90002, GIB)], vec![]);
    let (a, b) = (pids(&[100]), pids(&[200]));
    let gpu0 = vec!["0".to_string()];
    for other in [Some(&gpu0[..]), None] {
        let tasks = [
            TaskView {
                pids: &a,
                allocated: Some(&gpu0),
            },
            TaskView {
                pids: &b,
                allocated: other,
            },
        ];
        let s = attribute(&probe, &tasks, 0);
        assert!(s.iter().all(Vec::is_empty), "{s:?}");
    }
    // Alone in the pool but without an allocation: the GPU may be anyone's.
    let tasks = [TaskView {
        pids: &a,
        allocated: None,
    }];
    assert!(attribute(&probe, &tasks, 0)[0].is_empty());
}

/// Peaks and means over samples; one process-level sample makes the GPU's attribution `process`.
#[test]
fn the_tally_keeps_peaks_and_means() {
    let sample = |mem, util, attribution| GpuSample {
        uuid: "GPU-x".into(),
        memory_bytes: mem,
        util_pct: util,
        attribution,
    };
    let mut tally = GpuTally::default();
    tally.add(&[sample(GIB, Some(20.0), "device")]);
    tally.add(&[sample(3 * GIB, Some(60.0), "process")]);
    tally.add(&[sample(2 * GIB, None, "process")]);
    let used = tally.finish();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].peak_memory_bytes, 3 * GIB);
    assert_eq!(used[0].mean_util_pct, Some(40.0));
    assert_eq!(used[0].max_util_pct, Some(60.0));
    assert_eq!(used[0].attribution, "process");
}

/// No driver here (or one): loading NVML never fails the caller.
#[test]
fn loading_nvml_without_a_driver_is_none_not_an_error() {
    if let Some(p) = NvmlProbe::load() {
        let _ = p.devices();
    }
}
