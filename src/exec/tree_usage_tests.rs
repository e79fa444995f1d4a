use super::*;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

#[test]
fn a_stat_line_is_read_past_a_command_with_spaces_and_parentheses() {
    let line = b"4242 (my (odd) cmd) S 1 4240 4240 0 -1 4194304 100 0 0 0 25 7 0 0 20 0 1 0 100 1000000 300 18446744073709551615";
    let (pgid, p) = parse_stat(4242, line, 4).unwrap();
    assert_eq!(pgid, 4240);
    assert_eq!(p.ticks, 32);
    assert_eq!(p.rss_kb, 1200);
    assert!(parse_stat(1, b"1 (x) S 1", 4).is_none());
}

/// A shell leading its own group with `n` sleeping children.
fn group_of(n: usize) -> Child {
    let script = format!("for i in $(seq {n}); do sleep 30 & done; wait");
    Command::new("/bin/sh")
        .args(["-c", &script])
        .process_group(0)
        .spawn()
        .unwrap()
}

fn stop(mut c: Child) {
    crate::exec::process::signal_group(c.id(), nix::sys::signal::Signal::SIGKILL);
    let _ = c.wait();
}

fn no_gpu() -> ProbeLoader {
    Box::new(|| None)
}

/// Every process of the group is counted, and only those of groups being watched.
#[test]
fn the_sampler_sums_every_process_of_the_group() {
    let child = group_of(3);
    let pgid = child.id();
    let sampler = TreeSampler::start(
        Duration::from_millis(50),
        Duration::from_secs(3600),
        no_gpu(),
    )
    .unwrap();
    sampler.watch(pgid);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0;
    while Instant::now() < deadline {
        seen = sampler.tasks().by_pgid[&pgid].pids.len();
        if seen == 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(seen, 4, "the shell and its 3 children");
    let usage = sampler.finish(pgid);
    stop(child);
    assert!(usage.samples >= 1);
    assert_eq!(usage.source, Some("sampled pss"), "more than one process");
    // Four processes, sharing their libraries' pages, of some private memory each.
    assert!(usage.peak_rss_kb.unwrap() > 4 * 50, "{usage:?}");
    assert_eq!(
        sampler.finish(pgid),
        TreeUsage::default(),
        "no longer watched"
    );
}

/// Issue 12: what one sample costs with 8 tasks of 10 processes each (run by hand:
/// `cargo test --lib exec::tree_usage -- --ignored --nocapture`).
#[test]
#[ignore]
fn cost_of_one_sample() {
    let children: Vec<Child> = (0..8).map(|_| group_of(9)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let groups: HashSet<u32> = children.iter().map(Child::id).collect();
    let mut buf = Vec::new();
    let rounds = 200;
    let all = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .count();
    let cpu = || {
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
        let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        s(u.ru_utime) + s(u.ru_stime)
    };
    let (t0, c0) = (Instant::now(), cpu());
    let mut found = 0;
    for _ in 0..rounds {
        found = scan(&groups, &mut buf)
            .values()
            .map(Vec::len)
            .sum::<usize>();
    }
    let (wall, used) = (t0.elapsed().as_secs_f64(), cpu() - c0);
    for c in children {
        stop(c);
    }
    println!(
        "one sample: {:.3} ms wall, {:.3} ms CPU, over {all} processes ({found} in 8 groups); at 1 s: {:.3} % of one core",
        wall * 1e3 / rounds as f64,
        used * 1e3 / rounds as f64,
        used * 100.0 / rounds as f64
    );
    assert_eq!(found, 80);
}

/// Issue 12: what the sampler costs over 30 s with 8 tasks of 10 processes, each task a parent
/// holding 300 MB and 9 forked children sharing it (2.4 GB in all; PSS walks their page tables):
/// `cargo test --lib exec::tree_usage -- --ignored --nocapture cost_with_pss`.
#[test]
#[ignore]
fn cost_with_pss_of_eight_300_mb_trees() {
    let script = "import os,time\nb=bytearray(300<<20)\nfor i in range(0,len(b),4096): b[i]=1\n\
                  for _ in range(9):\n    if os.fork()==0: time.sleep(120); os._exit(0)\ntime.sleep(120)";
    let children: Vec<Child> = (0..8)
        .map(|_| {
            Command::new("python3")
                .args(["-c", script])
                .process_group(0)
                .spawn()
                .unwrap()
        })
        .collect();
    let groups: HashSet<u32> = children.iter().map(Child::id).collect();
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while scan(&groups, &mut buf)
        .values()
        .map(Vec::len)
        .sum::<usize>()
        < 80
    {
        assert!(Instant::now() < deadline, "the trees did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3)); // Every parent's 300 MB written.
    let mut tallies: HashMap<u32, Tally> = groups.iter().map(|&g| (g, Tally::default())).collect();
    let mut budget = pss::Budget::new();
    let cpu = || {
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
        let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        s(u.ru_utime) + s(u.ru_stime)
    };
    let (t0, c0) = (Instant::now(), cpu());
    for _ in 0..30 {
        let seen = scan(&groups, &mut buf);
        let tasks = Tasks {
            by_pgid: std::mem::take(&mut tallies),
            stop: false,
        };
        let pss = read_pss(pss_due(&tasks, &seen), &mut budget);
        tallies = tasks.by_pgid;
        for (g, t) in tallies.iter_mut() {
            let procs = seen.get(g).map(Vec::as_slice).unwrap_or_default();
            t.record(procs, pss.get(g).copied());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let (wall, used) = (t0.elapsed().as_secs_f64(), cpu() - c0);
    for c in children {
        stop(c);
    }
    let peaks: Vec<(u64, &str)> = tallies.values().map(|t| t.shared.peak(t.peak_kb)).collect();
    println!(
        "30 samples at 1 s: {:.1} ms CPU in all, {:.3} % of one core; peaks (KiB, source): {peaks:?}",
        used * 1e3,
        used * 100.0 / wall
    );
}
