//! Runs whose row was lost while rows that belong to them survived (damage to the `runs`
//! table's pages): a placeholder row is made for each, from what the surviving rows tell, so
//! that the tasks keep a run and `labtrail run exp.toml` resumes it rather than starting a new
//! run and doing all the work again (Issue 10, review).

use rusqlite::{params, Connection, OptionalExtension};

/// The experiment a run id made by labtrail names: `NAME-YYYYMMDD-HHMMSS`, with `-N` after it
/// when several runs started within the same second. An id given with `--id` tells nothing:
/// the id itself is taken then.
fn experiment_of(run: &str) -> String {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts: Vec<&str> = run.split('-').collect();
    if parts.len() > 3
        && parts
            .last()
            .is_some_and(|p| p.len() < 6 && digits(p, p.len()))
    {
        parts.pop();
    }
    match parts.as_slice() {
        [name @ .., day, time] if !name.is_empty() && digits(day, 8) && digits(time, 6) => {
            name.join("-")
        }
        _ => run.to_string(),
    }
}

/// Makes a row for every run that tasks, attempts or events name and `runs` lacks; returns
/// one line per run made, for the report.
pub(super) fn rebuild(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let lost: Vec<String> = conn
        .prepare(
            "SELECT run_id FROM tasks UNION SELECT run_id FROM attempts UNION SELECT run_id FROM events
             EXCEPT SELECT id FROM runs",
        )?
        .query_map([], |r| r.get::<_, Option<String>>(0))?
        .filter_map(|r| r.transpose())
        .collect::<rusqlite::Result<_>>()?;
    let mut lines = Vec::new();
    for run in lost {
        // The run's first event, `run_created`, holds the experiment file's path.
        let created: Option<(String, Option<String>)> = conn
            .query_row(
                "SELECT at, detail FROM events WHERE run_id = ?1 AND kind = 'run_created' ORDER BY id LIMIT 1",
                [&run],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let first_event: Option<String> = conn.query_row(
            "SELECT MIN(at) FROM events WHERE run_id = ?1",
            [&run],
            |r| r.get(0),
        )?;
        let created_at = created
            .as_ref()
            .map(|(at, _)| at.clone())
            .or(first_event)
            .unwrap_or_else(super::super::now);
        let spec_path = created.and_then(|(_, p)| p).unwrap_or_default();
        // Only a SLURM run's attempts have job ids; a wrong executor would make `run` refuse.
        let slurm: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM attempts WHERE run_id = ?1 AND job_id IS NOT NULL)",
            [&run],
            |r| r.get(0),
        )?;
        let executor = if slurm { "slurm" } else { "local" };
        let experiment = experiment_of(&run);
        // No plan hash and no experiment text: the next `run` syncs the plan, which keeps every
        // task whose key is unchanged, with its state and results.
        conn.execute(
            "INSERT INTO runs (id, experiment, spec_path, spec_text, plan_hash, created_at, updated_at, executor, layout, key_scheme)
             VALUES (?1, ?2, ?3, '', NULL, ?4, ?4, ?5, ?6, ?7)",
            params![
                run,
                experiment,
                spec_path,
                created_at,
                executor,
                super::super::folders::LAYOUT,
                super::super::inputs::NEW_RUN_KEY_SCHEME
            ],
        )?;
        let path = if spec_path.is_empty() {
            "unknown".to_string()
        } else {
            spec_path
        };
        lines.push(format!(
            "the row of run `{run}` was lost and was rebuilt from its tasks and events (experiment `{experiment}`, experiment file {path}, executor {executor}); the next `labtrail run` of that experiment resumes it"
        ));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::experiment_of;

    #[test]
    fn the_experiment_is_read_from_a_stamped_run_id() {
        assert_eq!(experiment_of("grid-20261130-004604"), "grid");
        assert_eq!(experiment_of("my-grid-20261130-004604-2"), "my-grid");
        assert_eq!(experiment_of("chosen"), "chosen");
        assert_eq!(experiment_of("20261130-004604"), "20261130-004604");
    }
}
