//! Schema versions. `MIGRATIONS[i]` takes a database from version `i` to `i + 1`; the version
//! lives in `PRAGMA user_version`. Never edit a released migration: append a new one.

/// The newest schema this build reads and writes.
pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

/// Version 1: runs, tasks, attempts, events. Version 2: per-attempt resource usage, results
/// per attempt, and streamed metrics. Version 3: scheduler jobs (SLURM job id, node, state,
/// requested resources, log read offset) per attempt, and the run's executor. Version 4: a partial
/// index of scheduler jobs, and each run's folder layout. Version 5: `records`, an append-only
/// table of JSON documents by kind, of a run, a task or the whole store (see `store::records`).
/// Version 6: each run's key scheme (`plan::KeyScheme`), and the digests of declared input files
/// by path, size, modification time and inode (see `plan::inputs`). Version 7: a SLURM
/// attempt's cancel decision (`attempts.cancelling`), committed before `scancel` runs, and
/// `submissions`, the durable intent of every `sbatch` (see `store::submissions`). Version 8:
/// `data_digests`, remembered hashes of `[archive] data` files by identity (see
/// `store::data_digests`), and `blobs`, content-addressed by blake3 (see `store::blobs`).
/// Version 10 (issue 15): `task_counts`, the tasks per run, stage, plan membership and state,
/// kept by triggers, and `attempts_open`, the attempts not ended. Version 9 (issue 15, a small store): an attempt's ordinary `started` and `finished` events
/// are no longer rows of `events` but event ids kept on the attempt, and the default log names
/// are stored empty (see `store::event_log`, `store::paths`); `tasks_by_state` indexes only the
/// tasks that are not done.
pub const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    "CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        experiment TEXT NOT NULL,
        spec_path TEXT NOT NULL,
        spec_text TEXT NOT NULL,
        plan_hash TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE tasks (
        run_id TEXT NOT NULL REFERENCES runs(id),
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        stage TEXT NOT NULL,
        label TEXT NOT NULL,
        params TEXT NOT NULL,
        command TEXT NOT NULL,
        workdir TEXT NOT NULL,
        env TEXT NOT NULL,
        deps TEXT NOT NULL,
        in_plan INTEGER NOT NULL DEFAULT 1,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        reason TEXT,
        finished_at TEXT,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX tasks_by_state ON tasks(run_id, in_plan, state);
    CREATE TABLE attempts (
        run_id TEXT NOT NULL,
        task_key TEXT NOT NULL,
        number INTEGER NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        exit_code INTEGER,
        signal INTEGER,
        outcome TEXT,
        reason TEXT,
        stdout_path TEXT NOT NULL,
        stderr_path TEXT NOT NULL,
        PRIMARY KEY (run_id, task_key, number)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        task_key TEXT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX events_by_run ON events(run_id, id);",
    // 1 -> 2
    "ALTER TABLE attempts ADD COLUMN result TEXT;
    ALTER TABLE attempts ADD COLUMN max_rss_kb INTEGER;
    ALTER TABLE attempts ADD COLUMN user_cpu_s REAL;
    ALTER TABLE attempts ADD COLUMN sys_cpu_s REAL;
    CREATE TABLE metrics (
        run_id TEXT NOT NULL,
        task_key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        line INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (run_id, task_key, attempt, line)
    ) WITHOUT ROWID;",
    // 2 -> 3
    "ALTER TABLE runs ADD COLUMN executor TEXT NOT NULL DEFAULT 'local';
    ALTER TABLE attempts ADD COLUMN job_id TEXT;
    ALTER TABLE attempts ADD COLUMN node TEXT;
    ALTER TABLE attempts ADD COLUMN submitted_at TEXT;
    ALTER TABLE attempts ADD COLUMN scheduler_state TEXT;
    ALTER TABLE attempts ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE attempts ADD COLUMN log_offset INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE attempts ADD COLUMN err_offset INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE attempts ADD COLUMN time_limit_s INTEGER;
    ALTER TABLE attempts ADD COLUMN mem_mb INTEGER;
    CREATE INDEX attempts_by_job ON attempts(job_id);",
    // 3 -> 4: local attempts have no job id; leaving them out of the index spares every local
    // attempt a random index page in its commit. Runs record their folder layout (see
    // `store::folders`): runs made before this have layout 1.
    "DROP INDEX attempts_by_job;
    CREATE INDEX attempts_by_job ON attempts(job_id) WHERE job_id IS NOT NULL;
    ALTER TABLE runs ADD COLUMN layout INTEGER NOT NULL DEFAULT 1;",
    // 4 -> 5: one generic append-only table, so that provenance, resource samples and cluster
    // snapshots need no new tables. `run_id` is NULL for records of the whole store (snapshots).
    // AUTOINCREMENT: a pruned id is never handed out again, so "records after id N" stays exact.
    // Reads are "a run's records of a kind" (records_by_run, id order from the rowid) and "a
    // kind's records by time", which retention deletes from the old end (records_by_kind).
    "CREATE TABLE records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT,
        task_key TEXT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX records_by_run ON records(run_id, kind);
    CREATE INDEX records_by_kind ON records(kind, at);",
    // 5 -> 6: runs made before this keep their keys (scheme 1, the task's own configuration);
    // new runs are created with scheme 2 (lineage and inputs). `input_digests` is a cache: losing
    // a row only costs reading that file again.
    "ALTER TABLE runs ADD COLUMN key_scheme INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE input_digests (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        digest TEXT NOT NULL
    ) WITHOUT ROWID;",
    // 6 -> 7: the monitor's decision to cancel an attempt's job, as JSON `{"outcome", "reason"}`,
    // written and committed before `scancel`: a job found ended (CANCELLED) after a crash then
    // ends as decided, not as "cancelled by someone".
    // A SLURM submission is recorded before `sbatch` runs (`intended`), then with its job id
    // (`submitted`) or as never accepted (`abandoned`): a monitor killed in between finds its
    // job by `job_name` instead of submitting it again. `tasks` is a JSON array of
    // `[task_key, attempt]` in array-element order (one element for a single job).
    "ALTER TABLE attempts ADD COLUMN cancelling TEXT;
    CREATE TABLE submissions (
        run_id TEXT NOT NULL,
        token TEXT NOT NULL,
        job_name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        tasks TEXT NOT NULL,
        time_limit_s INTEGER,
        mem_mb INTEGER,
        script TEXT NOT NULL,
        job_id TEXT,
        state TEXT NOT NULL DEFAULT 'intended',
        PRIMARY KEY (run_id, token)
    ) WITHOUT ROWID;
    CREATE INDEX submissions_intended ON submissions(run_id) WHERE state = 'intended';",
    // 7 -> 8: a cache of `[archive] data` file hashes and newline counts, valid while the
    // file's (dev, inode, size, mtime_ns) are those remembered; a lost row costs one read.
    // Content-addressed blobs (a dirty code patch, a package list), named by blake3 from
    // records: stored once whatever the number of runs that share them. A rowid table: its rows
    // are large, which WITHOUT ROWID tables store badly.
    "CREATE TABLE data_digests (
        path TEXT PRIMARY KEY,
        dev INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        blake3 TEXT NOT NULL,
        lines INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE blobs (
        hash TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        bytes BLOB NOT NULL
    );",
    // 8 -> 9: `started_event` is the event id reserved for the attempt's `started` line (which
    // `events` no longer holds); `finished_event` that of its `finished` line when the attempt
    // ended ordinarily (success, the task done), counted from `started_event` (from 0 when that
    // is NULL), so that a start and end of one commit (ids N and N + 1) cost no byte. Existing
    // rows keep their events as rows: they read the same. The state index leaves out done tasks,
    // almost all of a finished run: what is not done is what the runner and `status` look for.
    "ALTER TABLE attempts ADD COLUMN started_event INTEGER;
    ALTER TABLE attempts ADD COLUMN finished_event INTEGER;
    DROP INDEX tasks_by_state;
    CREATE INDEX tasks_not_done ON tasks(run_id, in_plan, state) WHERE state <> 'done';",
    // 9 -> 10: `task_counts`, how many tasks each (run, stage, in plan, state) has, kept exact by
    // triggers on `tasks` (see `RECOUNT_TASKS` and `store::stream`). `status` and `list` read a
    // row per stage and state instead of every task (issue 15). The triggers run inside the
    // writer's transaction: the counts are exactly as durable as the rows they count. A row whose
    // count falls to 0 stays (readers skip it): deleting it would cost every write a statement.
    // `param_summaries`: each run's parameters, where each first appears and how many values it
    // has (capped), written by the plan sync (see `store::param_summary`); the upgrade fills it
    // from the tasks (`migrate`), as this string cannot.
    // `attempts_open` indexes only the attempts not ended: `recover`, the running-elsewhere check
    // and the SLURM monitor look for those (`run_id = ? AND outcome IS NULL`), and scanned
    // every attempt of the run for them; in a finished run the index is empty.
    "CREATE INDEX attempts_open ON attempts(run_id) WHERE outcome IS NULL;
    CREATE TABLE task_counts (
        run_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        in_plan INTEGER NOT NULL,
        state TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (run_id, stage, in_plan, state)
    ) WITHOUT ROWID;
    INSERT INTO task_counts (run_id, stage, in_plan, state, n)
        SELECT run_id, stage, in_plan, state, COUNT(*) FROM tasks WHERE true
        GROUP BY run_id, stage, in_plan, state;
    CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
        INSERT INTO task_counts (run_id, stage, in_plan, state, n)
            VALUES (NEW.run_id, NEW.stage, NEW.in_plan, NEW.state, 1)
            ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
        UPDATE task_counts SET n = n - 1 WHERE run_id = OLD.run_id AND stage = OLD.stage
            AND in_plan = OLD.in_plan AND state = OLD.state;
    END;
    CREATE TRIGGER task_counts_update AFTER UPDATE OF run_id, stage, in_plan, state ON tasks
    WHEN OLD.run_id IS NOT NEW.run_id OR OLD.stage IS NOT NEW.stage
        OR OLD.in_plan IS NOT NEW.in_plan OR OLD.state IS NOT NEW.state
    BEGIN
        UPDATE task_counts SET n = n - 1 WHERE run_id = OLD.run_id AND stage = OLD.stage
            AND in_plan = OLD.in_plan AND state = OLD.state;
        INSERT INTO task_counts (run_id, stage, in_plan, state, n)
            VALUES (NEW.run_id, NEW.stage, NEW.in_plan, NEW.state, 1)
            ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TABLE param_summaries (
        run_id TEXT PRIMARY KEY,
        params TEXT NOT NULL
    ) WITHOUT ROWID;",
];

/// Makes `task_counts` again from the tasks themselves: what a repair runs once it has put the
/// rows back (the salvaged counts may not match the salvaged tasks), and what `check` compares.
pub const RECOUNT_TASKS: &str = "DELETE FROM task_counts;
    INSERT INTO task_counts (run_id, stage, in_plan, state, n)
        SELECT run_id, stage, in_plan, state, COUNT(*) FROM tasks WHERE true
        GROUP BY run_id, stage, in_plan, state;";
