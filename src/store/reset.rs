//! Reset: tasks made pending again, and their own folders moved aside so that the next attempt
//! starts from scratch.
//!
//! Moving a folder is a side effect outside the database, so it is done in two steps that a crash
//! may separate, and the store can always tell where it stopped:
//! 1. one transaction makes the tasks pending and records each move as intended: a
//!    `task_dir_move` record `{"from": "tasks/KEY", "to": "tasks/KEY.reset-1"}` (paths relative to
//!    the run folder, so that a moved store still reads);
//! 2. the folders are renamed (atomic within one file system), their parent folder is synced, and
//!    one transaction records the moves as settled (`task_dir_moved` records and events).
//!
//! [`Store::settle_task_dir_moves`], which every holder of the run lock calls before a task folder
//! is used, finishes what a crash interrupted: the destination existing means the rename happened;
//! the source existing means it did not, and it is done now (the reset was committed, so it is
//! carried out, never undone); neither means there was nothing left to move. Moves are settled in
//! the order they were recorded and stop at the first failure, so the settled ones are always a
//! prefix of the intents: those pending are the ones after the last settled.

use super::changes::event;
use super::fault::fault_injection_crash_point;
use super::records::insert_record;
use super::{now, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use std::collections::{BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};

/// Record kind of an intended task folder move.
pub const MOVE_INTENT: &str = "task_dir_move";
/// Record kind of a settled move: `{"move": INTENT_ID, "outcome": ...}`.
pub const MOVE_SETTLED: &str = "task_dir_moved";

/// What a reset does with the tasks' own folders (`LABTRAIL_TASK_DIR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskDirs {
    /// Keep them: the next attempt continues from what they hold (`--keep-task-dir`, retries).
    Keep,
    /// Move each aside, kept under a new name: the next attempt starts with an empty folder.
    MoveAside,
}

/// What a reset did with one task's own folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskDirFate {
    /// Kept where it is.
    Kept,
    /// The task had no folder yet: nothing to move.
    Absent,
    /// Moved aside to this path, relative to the run folder.
    MovedTo(String),
}

/// One task a reset made pending.
#[derive(Debug, Clone)]
pub struct ResetTask {
    pub key: String,
    pub dir: TaskDirFate,
}

/// A recorded task folder move; paths are relative to the run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDirMove {
    /// The id of its `task_dir_move` record.
    pub id: i64,
    pub key: String,
    pub from: String,
    pub to: String,
}

/// How a recorded move was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveSettled {
    /// Renamed now.
    Moved,
    /// Already renamed, by a reset that stopped before recording it.
    FoundMoved,
    /// Neither folder exists: the task's folder was gone before it could be moved.
    NothingToMove,
}

impl MoveSettled {
    fn as_str(self) -> &'static str {
        match self {
            Self::Moved => "moved",
            Self::FoundMoved => "found moved",
            Self::NothingToMove => "nothing to move",
        }
    }
}

fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// A stored relative path, refused if it could leave the run folder (a damaged record).
fn inside(run_dir: &Path, rel: &str) -> Result<PathBuf, StoreError> {
    let p = Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(StoreError::io(
            &run_dir.join(rel),
            std::io::Error::other("a recorded task folder move names a path outside the run"),
        ));
    }
    Ok(run_dir.join(p))
}

impl Store {
    /// Makes the tasks `keys` pending again (done, failed, interrupted and blocked ones; a running
    /// task is left alone) and, for each whose `dirs` is [`TaskDirs::MoveAside`], moves its own folder aside
    /// under a name no earlier reset used (`tasks/KEY.reset-N`), durably recorded first (see the
    /// module doc). Their attempt history stays. Returns the tasks changed, in `keys` order.
    pub fn reset_tasks(
        &mut self,
        run: &str,
        keys: &[String],
        dirs: &dyn Fn(&str) -> TaskDirs,
    ) -> Result<Vec<ResetTask>, StoreError> {
        let folders = self.folders(run)?;
        let mut taken: HashSet<String> = if keys.iter().any(|k| dirs(k) == TaskDirs::MoveAside) {
            self.records(run, MOVE_INTENT)?
                .iter()
                .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.json).ok())
                .filter_map(|v| v["to"].as_str().map(str::to_string))
                .collect()
        } else {
            HashSet::new()
        };
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let t = now();
        let mut out = Vec::new();
        for key in keys {
            let changed = tx
                .execute("UPDATE tasks SET state = 'pending', result = NULL, reason = 'reset', finished_at = NULL WHERE run_id = ?1 AND key = ?2 AND state != 'running'",
                    params![run, key]).map_err(e)?;
            if changed == 0 {
                continue;
            }
            let from = folders.relative(&folders.task_dir(key));
            let fate = match dirs(key) {
                TaskDirs::Keep => TaskDirFate::Kept,
                TaskDirs::MoveAside if !exists(&folders.task_dir(key)) => TaskDirFate::Absent,
                TaskDirs::MoveAside => {
                    let to = (1..)
                        .map(|n| folders.moved_aside(key, n))
                        .find(|to| !exists(to) && !taken.contains(&folders.relative(to)))
                        .map(|to| folders.relative(&to))
                        .expect("some name is free");
                    taken.insert(to.clone());
                    let json = serde_json::json!({ "from": from, "to": to }).to_string();
                    insert_record(&tx, Some(run), Some(key), &t, MOVE_INTENT, &json).map_err(e)?;
                    TaskDirFate::MovedTo(to)
                }
            };
            let detail = match &fate {
                TaskDirFate::Kept => "task folder kept".to_string(),
                TaskDirFate::Absent => "no task folder yet".to_string(),
                TaskDirFate::MovedTo(to) => format!("task folder {from} to be moved aside to {to}"),
            };
            event(&tx, run, Some(key), &t, "reset", Some(&detail)).map_err(e)?;
            out.push(ResetTask {
                key: key.clone(),
                dir: fate,
            });
        }
        tx.commit().map_err(e)?;
        if out.iter().any(|r| matches!(r.dir, TaskDirFate::MovedTo(_))) {
            fault_injection_crash_point("reset-before-move");
            self.settle_task_dir_moves(run)?;
        }
        Ok(out)
    }

    /// Marks tasks to be run again, keeping their own folders (see [`Store::reset_tasks`]).
    /// Returns how many changed.
    pub fn reset(&mut self, run: &str, keys: &[String]) -> Result<usize, StoreError> {
        Ok(self.reset_tasks(run, keys, &|_| TaskDirs::Keep)?.len())
    }

    /// Task folder moves recorded by a reset and not yet settled, oldest first.
    pub fn pending_task_dir_moves(&self, run: &str) -> Result<Vec<TaskDirMove>, StoreError> {
        let last: Option<String> = self
            .conn
            .query_row(
                "SELECT json FROM records WHERE run_id = ?1 AND kind = ?2 ORDER BY id DESC LIMIT 1",
                params![run, MOVE_SETTLED],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let after = last
            .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
            .and_then(|v| v["move"].as_i64())
            .unwrap_or(0);
        let mut st = self
            .conn
            .prepare("SELECT id, task_key, json FROM records WHERE run_id = ?1 AND kind = ?2 AND id > ?3 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![run, MOVE_INTENT, after], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, key, json) = row.map_err(|e| self.err(e))?;
            let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
            let text = |f: &str| v[f].as_str().unwrap_or_default().to_string();
            out.push(TaskDirMove {
                id,
                key: key.unwrap_or_default(),
                from: text("from"),
                to: text("to"),
            });
        }
        Ok(out)
    }

    /// Finishes the task folder moves a reset recorded but did not settle (it was killed between
    /// its transaction and the rename, or before recording the rename): done if the destination
    /// exists, renamed now if only the source does. Must be called with the run lock held, before
    /// any task folder of the run is used. Returns what it settled.
    pub fn settle_task_dir_moves(
        &mut self,
        run: &str,
    ) -> Result<Vec<(TaskDirMove, MoveSettled)>, StoreError> {
        let pending = self.pending_task_dir_moves(run)?;
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let run_dir = self.run_dir(run);
        let (mut settled, mut failure, mut parents) = (Vec::new(), None, BTreeSet::new());
        for mv in pending {
            let step = inside(&run_dir, &mv.from).and_then(|from| {
                let to = inside(&run_dir, &mv.to)?;
                if exists(&to) {
                    Ok(MoveSettled::FoundMoved)
                } else if exists(&from) {
                    std::fs::rename(&from, &to).map_err(|e| StoreError::io(&from, e))?;
                    parents.insert(to.parent().unwrap_or(&run_dir).to_path_buf());
                    Ok(MoveSettled::Moved)
                } else {
                    Ok(MoveSettled::NothingToMove)
                }
            });
            match step {
                Ok(how) => settled.push((mv, how)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // The renames reach the disk before they are recorded as done.
        for dir in &parents {
            std::fs::File::open(dir)
                .and_then(|f| f.sync_all())
                .map_err(|e| StoreError::io(dir, e))?;
        }
        fault_injection_crash_point("reset-after-move");
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let t = now();
        for (mv, how) in &settled {
            let json = serde_json::json!({ "move": mv.id, "outcome": how.as_str() }).to_string();
            insert_record(&tx, Some(run), Some(&mv.key), &t, MOVE_SETTLED, &json).map_err(e)?;
            let detail = match how {
                MoveSettled::Moved => format!("{} moved aside to {}", mv.from, mv.to),
                MoveSettled::FoundMoved => format!(
                    "{} found moved aside to {} (the reset stopped before recording it)",
                    mv.from, mv.to
                ),
                MoveSettled::NothingToMove => {
                    format!("{} was gone before it could be moved aside", mv.from)
                }
            };
            event(&tx, run, Some(&mv.key), &t, "task_dir_moved", Some(&detail)).map_err(e)?;
        }
        tx.commit().map_err(e)?;
        failure.map_or(Ok(settled), Err)
    }
}
