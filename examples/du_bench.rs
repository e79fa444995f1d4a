//! Benchmark helper (not a test): measures one folder with `snapshot::du::measure` and prints the
//! figure on one line, for `bench/disk_usage.sh` to set next to `du -sb`'s. It calls the library
//! directly so the bench does not depend on the snapshot command.
//!
//! Run: `cargo run --release --example du_bench -- PATH [--threads N] [--cross-mounts]`.
//! Prints `bytes=N allocated=N files=N dirs=N unreadable=N partial=B seconds=S human=H`.

use labtrail::snapshot::du::{human, measure, DuOptions};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut opts = DuOptions::default();
    let mut root = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => {
                let n = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--threads needs a number"))?;
                opts.threads = n.parse()?;
            }
            "--cross-mounts" => opts.cross_mounts = true,
            _ => root = Some(PathBuf::from(arg)),
        }
    }
    let root =
        root.ok_or_else(|| anyhow::anyhow!("usage: du_bench PATH [--threads N] [--cross-mounts]"))?;
    let start = Instant::now();
    let fig = measure(&root, &opts)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "bytes={} allocated={} files={} dirs={} unreadable={} partial={} seconds={seconds:.4} human={}",
        fig.bytes,
        fig.allocated_bytes,
        fig.files,
        fig.dirs,
        fig.unreadable,
        fig.partial,
        human(fig.bytes)
    );
    Ok(())
}
