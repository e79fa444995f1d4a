//! The machine a run starts on: host, user, OS, kernel, CPU, memory, and the SLURM job it runs
//! in, read from `/proc`, `/etc/os-release` and `uname` (no process started, no crate).

use super::model::{Host, Probed};
use std::collections::BTreeMap;

/// The SLURM variables that say which job, nodes and partition a run was started in.
const SLURM_FACTS: &[&str] = &[
    "SLURM_JOB_ID",
    "SLURM_JOB_NAME",
    "SLURM_JOB_PARTITION",
    "SLURM_JOB_NODELIST",
    "SLURM_JOB_NUM_NODES",
    "SLURM_CPUS_ON_NODE",
    "SLURM_JOB_GPUS",
    "SLURM_CLUSTER_NAME",
];

/// Captures the host; `n/a` only when the kernel's own answers (`uname`) are missing.
pub fn capture() -> Probed<Host> {
    let Some((kernel, arch)) = uname() else {
        return Probed::na("uname failed");
    };
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let slurm: BTreeMap<String, String> = SLURM_FACTS
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    Probed::Value(Host {
        hostname: crate::exec::process::hostname(),
        user: user(),
        os: os_name(&read("/etc/os-release")).unwrap_or_else(|| "unknown".into()),
        kernel,
        arch,
        cpu_model: cpu_model(&read("/proc/cpuinfo")).unwrap_or_else(|| "unknown".into()),
        cpus: usable_cpus(),
        memory_bytes: mem_total(&read("/proc/meminfo")).unwrap_or(0),
        slurm,
    })
}

/// The kernel release and machine (`uname -r`, `uname -m`).
fn uname() -> Option<(String, String)> {
    // SAFETY: uname fills a zeroed struct of fixed-size, NUL-terminated fields.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Some((field(&u.release), field(&u.machine)))
}

/// The login name of this process's user (by uid, so `su` and `sudo -u` are right).
fn user() -> String {
    let uid = nix::unistd::Uid::current();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => u.name,
        _ => std::env::var("USER").unwrap_or_else(|_| uid.to_string()),
    }
}

/// The CPUs this process may run on (its affinity mask, as `nproc` says).
fn usable_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// `PRETTY_NAME` of an os-release file, else `NAME VERSION`.
pub fn os_name(os_release: &str) -> Option<String> {
    let mut fields = BTreeMap::new();
    for line in os_release.lines() {
        if let Some((k, v)) = line.split_once('=') {
            fields.insert(k.trim(), v.trim().trim_matches('"').trim_matches('\''));
        }
    }
    if let Some(p) = fields.get("PRETTY_NAME").filter(|p| !p.is_empty()) {
        return Some(p.to_string());
    }
    let name = fields.get("NAME")?;
    Some(match fields.get("VERSION") {
        Some(v) => format!("{name} {v}"),
        None => name.to_string(),
    })
}

/// The CPU model from `/proc/cpuinfo` (`model name` on x86, `Model`/`Hardware` on ARM).
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Model", "Hardware", "cpu model"]
        .iter()
        .find_map(|key| {
            cpuinfo.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_string())
            })
        })
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_files_as_the_kernel_and_distributions_write_them() {
        let os = "NAME=\"Debian GNU/Linux\"\nVERSION=\"12 (bookworm)\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(os_name(os).unwrap(), "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(
            os_name("NAME=Alpine\nVERSION=3.19\n").unwrap(),
            "Alpine 3.19"
        );
        let cpu =
            "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6230\n";
        assert_eq!(cpu_model(cpu).unwrap(), "Intel(R) Xeon(R) Gold 6230");
        assert_eq!(
            mem_total("MemTotal:       16318412 kB\n").unwrap(),
            16318412 * 1024
        );
    }

    #[test]
    fn this_machine_is_captured() {
        let h = capture();
        let h = h.value().expect("uname works here");
        assert!(!h.kernel.is_empty() && !h.arch.is_empty() && h.cpus >= 1);
        assert!(h.memory_bytes > 0);
    }
}
