//! The job wrapper's resource sampler (issue 12): a background shell function that samples the
//! task's process group (the task is started with `setsid`) every 2 s from `/proc/*/stat` (one
//! `cat` and one `awk`: ~7 ms of CPU with 120 processes, 0.35 % of one core; `ps` took 9 ms),
//! the GPUs every third sample (6 s) with `nvidia-smi` when the node has it, and writes what it
//! saw to `resources.json` in the attempt folder (when a peak grows, and when it is stopped), for
//! the monitor to read with the job's end. sacct's MaxRSS is the largest single step process;
//! this is the whole tree. A job in a cgroup of its own (SLURM's cgroup plugins) also has the
//! cgroup's exact `memory.peak` recorded.

use serde::Deserialize;
use std::path::Path;

/// The sampler's file in the attempt folder.
pub const RESOURCES_SIDECAR: &str = "resources.json";

/// What the sampler wrote.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Sidecar {
    /// Peak of the summed resident memory of the task's processes, KiB.
    pub peak_tree_rss_kb: u64,
    pub samples: u32,
    /// The job's cgroup `memory.peak`, KiB, when it has a cgroup of its own.
    pub cgroup_peak_kb: Option<u64>,
    /// Per GPU: the task's processes' peak memory.
    #[serde(default)]
    pub gpus: Vec<SidecarGpu>,
}

/// One GPU in the sidecar.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SidecarGpu {
    pub uuid: String,
    pub peak_memory_bytes: u64,
}

/// Reads the sidecar of the attempt in `dir`: `None` when there is none (a job from before
/// issue 12, a wrapper that never started) or it cannot be read.
pub fn read_sidecar(dir: &Path) -> Option<Sidecar> {
    let text = std::fs::read_to_string(dir.join(RESOURCES_SIDECAR)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The shell function `sample PGID`, run in the background by the wrapper (which sets `$D`).
/// POSIX sh and awk; `sleep & wait` so that a SIGTERM (the wrapper's at the task's end, SLURM's
/// at a cancel or time limit) is handled at once: the file is written and the sampler exits.
pub const SHELL_SAMPLER: &str = r#"sample() {
  g=$1 n=0 state="0" cgp= kb=$(( $(getconf PAGESIZE 2>/dev/null || echo 4096) / 1024 ))
  cg=$(sed -n 's/^0:://p' /proc/self/cgroup 2>/dev/null)
  case "$cg" in */job_*) for r in /sys/fs/cgroup /sys/fs/cgroup/unified; do [ -r "$r$cg/memory.peak" ] && cgp="$r$cg/memory.peak" && break; done ;; esac
  smi=; command -v nvidia-smi >/dev/null 2>&1 && smi=1
  write() {
    c=null; [ -n "$cgp" ] && c=$(( $(cat "$cgp" 2>/dev/null || echo 0) / 1024 ))
    echo "$state" | awk -v n="$n" -v c="$c" '{ printf "{\"peak_tree_rss_kb\":%s,\"samples\":%s,\"cgroup_peak_kb\":%s,\"gpus\":[", $1, n, c; for (i = 2; i <= NF; i++) { split($i, u, "="); printf "%s{\"uuid\":\"%s\",\"peak_memory_bytes\":%s}", (i > 2 ? "," : ""), u[1], u[2] } print "]}" }' > "$D/resources.json.tmp" && mv -f "$D/resources.json.tmp" "$D/resources.json"
  }
  trap 'write; exit 0' TERM
  while kill -0 "$g" 2>/dev/null; do
    n=$((n + 1))
    new=$( { cat /proc/[0-9]*/stat 2>/dev/null; echo --
      if [ -n "$smi" ] && [ $((n % 3)) -eq 1 ]; then nvidia-smi --query-compute-apps=gpu_uuid,pid,used_memory --format=csv,noheader,nounits 2>/dev/null | tr -d ','; fi
    } | awk -v g="$g" -v kb="$kb" -v st="$state" '
      $1 == "--" { gpu = 1; next }
      !gpu { p = $1; sub(/.*\) /, ""); if ($3 == g) { s += $22 * kb; mine[p] = 1 }; next }
      ($2 in mine) { use[$1] += $3 * 1048576 }
      END {
        k = split(st, a, " "); peak = a[1] + 0; if (s > peak) peak = s
        for (i = 2; i <= k; i++) { split(a[i], u, "="); if (!(u[1] in use) || use[u[1]] < u[2]) use[u[1]] = u[2] }
        line = peak; for (id in use) line = line " " id "=" use[id]; print line
      }')
    [ -n "$new" ] && [ "$new" != "$state" ] && state=$new && write
    sleep 2 & wait $!
  done
  write
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The sampler, run by hand as the wrapper runs it, sums the group it is given and writes
    /// a sidecar the monitor can read.
    #[test]
    fn the_shell_sampler_writes_the_groups_peak() {
        let tmp = tempfile::tempdir().unwrap();
        let script = format!(
            "{SHELL_SAMPLER}\nD=\"$1\"\nsetsid /bin/sh -c 'sleep 3 & sleep 3 & wait' &\nchild=$!\nsample \"$child\" &\ns=$!\nwait \"$child\"\nkill \"$s\"; wait \"$s\""
        );
        let out = Command::new("/bin/sh")
            .args(["-c", &script, "sh", tmp.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let s = read_sidecar(tmp.path()).expect("a sidecar");
        assert!(s.samples >= 2, "{s:?}");
        // A shell and two sleeps: each a few hundred KiB at least.
        assert!(s.peak_tree_rss_kb > 3 * 200, "{s:?}");
        assert_eq!(s.cgroup_peak_kb, None);
        assert!(s.gpus.is_empty());
    }

    /// Issue 12: with `nvidia-smi` on the node, the task's processes' GPU memory is summed per
    /// GPU; another process on the same GPU is not the task's.
    #[test]
    fn gpu_memory_is_the_tasks_processes_only() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // A fake nvidia-smi: no GPU here. It lists the task's child and a stranger.
        let fake = bin.join("nvidia-smi");
        std::fs::write(
            &fake,
            "#!/bin/sh\nprintf 'GPU-fake-0, %s, 512\\nGPU-fake-0, 999999, 4096\\n' \"$(cat \"$PIDFILE\")\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = format!(
            "{SHELL_SAMPLER}\nD=\"$1\"\nsetsid /bin/sh -c 'sleep 3 & echo $! > \"$PIDFILE\"; wait' &\nchild=$!\nsleep 0.3\nsample \"$child\" &\ns=$!\nwait \"$child\"\nkill \"$s\"; wait \"$s\""
        );
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let out = Command::new("/bin/sh")
            .args(["-c", &script, "sh", tmp.path().to_str().unwrap()])
            .env("PATH", path)
            .env("PIDFILE", tmp.path().join("pid"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let s = read_sidecar(tmp.path()).expect("a sidecar");
        assert_eq!(
            s.gpus,
            vec![SidecarGpu {
                uuid: "GPU-fake-0".into(),
                peak_memory_bytes: 512 << 20,
            }],
            "{s:?}"
        );
    }

    #[test]
    fn a_missing_or_broken_sidecar_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(read_sidecar(tmp.path()), None);
        std::fs::write(tmp.path().join(RESOURCES_SIDECAR), "{\"peak").unwrap();
        assert_eq!(read_sidecar(tmp.path()), None);
        std::fs::write(
            tmp.path().join(RESOURCES_SIDECAR),
            r#"{"peak_tree_rss_kb":5,"samples":2,"cgroup_peak_kb":null,"gpus":[{"uuid":"GPU-1","peak_memory_bytes":7}]}"#,
        )
        .unwrap();
        assert_eq!(
            read_sidecar(tmp.path()).unwrap().gpus[0].peak_memory_bytes,
            7
        );
    }
}
