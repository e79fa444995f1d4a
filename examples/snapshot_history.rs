//! Generates a year of 5-minute snapshots (10^5 by default) with realistic churn into a folder,
//! as JSON files and straight into the folder's index, for `bench/snapshot_queries.sh`.
//!
//! About twenty jobs in the queue at a time (each running about half a day, some pending
//! first), experiments of five stages each arriving one after another with a flag per stage
//! every few days, other users' work alongside, a failed job now and then, disks growing.
//!
//!   cargo run --release --example snapshot_history -- DIR [COUNT]

use labtrail::app::snapshots_index_rows::rows;
use labtrail::snapshot::model::{Counts, Disk, EndedJob, Experiment, Flag, Job, Snapshot};
use labtrail::store::snapshot_index::{SnapshotIndex, INDEX_FILE};
use std::path::PathBuf;

/// 2025-01-01T00:00:00Z.
const START: i64 = 1_735_689_600;
const STEP: i64 = 300;

/// A small deterministic generator (xorshift): the same history on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }
}

fn rfc3339(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: snapshot_history DIR [COUNT]")?);
    let count: i64 = args
        .next()
        .map(|c| c.parse())
        .transpose()?
        .unwrap_or(100_000);
    std::fs::create_dir_all(&dir)?;
    let mut index = SnapshotIndex::open(&dir.join(INDEX_FILE), true)?;
    index.fast_fill()?;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut queue: Vec<Job> = Vec::new();
    let mut next_id = 40_000_000u64;
    let mut flags: Vec<Flag> = Vec::new();
    let mut bytes = 50u64 << 30;
    // Experiment k runs from step k * 4,500 (about every 15 days), five stages of ~3 days.
    let exp_of = |step: i64| format!("exp{:02}", step / 4_500);
    let mut batch = Vec::new();
    for i in 0..count {
        let t = START + i * STEP;
        let exp = exp_of(i);
        let mut ended = Vec::new();
        queue.retain_mut(|j| {
            if j.state == "PD" {
                if rng.chance(12) {
                    j.state = "R".into();
                    j.node = format!("gpu-{:02}", rng.next() % 40);
                    j.start_time = Some(rfc3339(t));
                }
                return true;
            }
            j.elapsed_s += STEP as u64;
            if rng.chance(144) {
                let state = if rng.chance(10) {
                    "FAILED"
                } else {
                    "COMPLETED"
                };
                ended.push(EndedJob {
                    job_id: j.job_id.clone(),
                    name: j.name.clone(),
                    state: state.into(),
                    exit_code: Some((state == "FAILED") as i32),
                    end_time: Some(rfc3339(t)),
                    elapsed_s: Some(j.elapsed_s),
                    node: Some(j.node.clone()),
                    experiment: j.experiment.clone(),
                    ..EndedJob::default()
                });
                return false;
            }
            true
        });
        while queue.len() < 15 || (queue.len() < 25 && rng.chance(20)) {
            next_id += 1;
            let ours = !rng.chance(3);
            queue.push(Job {
                job_id: next_id.to_string(),
                name: if ours {
                    format!("{exp}_train")
                } else {
                    format!("other_{}", next_id % 7)
                },
                state: "PD".into(),
                time: "0:00".into(),
                node: "(Priority)".into(),
                submit_time: Some(rfc3339(t)),
                experiment: Some(if ours { exp.clone() } else { "other".into() }),
                ..Job::default()
            });
        }
        if i % 4_500 > 0 && i % 864 == 0 {
            let stage = (i % 4_500) / 864;
            let name = format!("stage_{stage}_complete.flag");
            flags.push(Flag {
                path: format!("{exp}/{name}"),
                name,
                mtime: rfc3339(t - 120),
                experiment: Some(exp.clone()),
            });
        }
        bytes += rng.next() % (64 << 20);
        let mut s = Snapshot {
            snapshot_timestamp: rfc3339(t),
            user: "bench".into(),
            schema: 1,
            host: "login1".into(),
            running_jobs: queue
                .iter()
                .map(|j| Job {
                    time: format!("{}:{:02}:00", j.elapsed_s / 3600, j.elapsed_s / 60 % 60),
                    ..j.clone()
                })
                .collect(),
            completion_flags: flags.iter().map(|f| f.path.clone()).collect(),
            flags: flags.clone(),
            ended_jobs: ended,
            experiments: vec![Experiment {
                name: exp.clone(),
                source: "rule".into(),
                active: true,
                stages: Some(5),
                ..Experiment::default()
            }],
            ..Snapshot::default()
        };
        s.disk.insert(
            "work".into(),
            Disk {
                path: "work".into(),
                bytes,
                ..Disk::default()
            },
        );
        s.disk_usage
            .insert("work".into(), format!("{}G", bytes >> 30));
        s.counts = Counts {
            running: s.running_jobs.iter().filter(|j| j.state == "R").count() as u64,
            pending: s.running_jobs.iter().filter(|j| j.state == "PD").count() as u64,
            ended: s.ended_jobs.len() as u64,
            flags: s.flags.len() as u64,
            active_experiments: 1,
            ..Counts::default()
        };
        let name = jiff::Timestamp::from_second(t)?
            .strftime("snapshot_%Y%m%d_%H%M%S.json")
            .to_string();
        std::fs::write(dir.join(&name), serde_json::to_vec(&s)?)?;
        batch.push(rows(&name, &s)?);
        if batch.len() == 5_000 {
            index.insert_batch(&batch)?;
            batch.clear();
            eprint!("\r{} snapshots", i + 1);
        }
    }
    index.insert_batch(&batch)?;
    // The listing a query's freshness check compares the folder with: without it the first
    // query would read every file again.
    index.record_files(&labtrail::app::snapshots_index_rows::file_stamps(&dir)?)?;
    eprintln!("\r{count} snapshots in {}", dir.display());
    Ok(())
}
