//! The repair's report for people: where the damaged database is kept, what was read, how many
//! rows of each table were recovered and how, and what was fixed.

use super::rebuild::Filled;
use super::wal_copies::FromCopies;
use std::path::Path;

/// The report's lines.
pub fn lines(
    backup: &Path,
    was_healthy: bool,
    filled: &Filled,
    fixes: &[String],
    header_restored: bool,
) -> Vec<String> {
    let mut out = vec![format!(
        "kept the {} database at {} (labtrail never overwrites or deletes it; remove it yourself once the repaired store serves you)",
        if was_healthy { "previous (healthy)" } else { "damaged" },
        backup.display()
    )];
    if header_restored {
        out.push(
            "its header (the first 100 bytes) was damaged and was restored in a scratch copy"
                .into(),
        );
    }
    if let Some(why) = &filled.unopenable {
        out.push(format!(
            "SQLite could not read it ({why}); rows were read page by page"
        ));
    }
    out.push(format!(
        "read {} page(s); {} could not be read",
        filled.page_count, filled.unreadable_pages
    ));
    let total: usize = filled
        .counts
        .iter()
        .map(|c| c.logical + c.from_tree + c.from_loose_pages + c.from_wal)
        .sum();
    for c in &filled.counts {
        let n = c.logical + c.from_tree + c.from_loose_pages + c.from_wal;
        if n == 0 && !c.listed && filled.unopenable.is_none() {
            out.push(format!(
                "  {}: none (the damaged database, made by an older version, has no such table)",
                c.table
            ));
            continue;
        }
        let mut line = format!("  {}: {n} row(s) recovered", c.table);
        if let Some(why) = &c.stopped {
            line += &format!(", SQLite read {} then stopped ({why})", c.logical);
        }
        if c.from_tree > 0 {
            line += &format!(", {} more read from the table's own pages", c.from_tree);
        }
        if c.from_loose_pages > 0 {
            line += &format!(
                ", {} from pages no longer linked into the table",
                c.from_loose_pages
            );
        }
        if c.from_wal > 0 {
            line += &format!(
                ", {} from kept copies of a damaged write-ahead log",
                c.from_wal
            );
        }
        if c.bad_text > 0 {
            line += &format!(
                ", {} text value(s) that were not valid UTF-8 kept with U+FFFD in place of the bad bytes",
                c.bad_text
            );
        }
        if c.refused > 0 {
            line += &format!(
                ", {} row(s) read but refused by the new database ({})",
                c.refused,
                c.first_refusal.as_deref().unwrap_or("no reason given")
            );
        }
        out.push(line);
    }
    out.push(format!("  in all: {total} row(s)"));
    if filled.unplaced > 0 {
        out.push(format!(
            "  {} row(s) on pages no table reaches fit {} equally well; rather than guess, they were left in the kept file",
            filled.unplaced,
            filled.unplaced_between.join(" and ")
        ));
    }
    for t in &filled.foreign_tables {
        out.push(format!(
            "  {t}: not part of this version's schema; its rows stay in the kept file"
        ));
    }
    for f in fixes {
        out.push(format!("fixed: {f}"));
    }
    out.push("the next `labtrail run` resumes from what was recovered; tasks whose records were lost run again".into());
    out
}

/// What the kept copies of damaged WALs gave back, as lines of the report's "fixed:" list.
pub fn from_copies(f: &FromCopies) -> Vec<String> {
    if f.copies == 0 {
        return Vec::new();
    }
    let mut out = vec![format!(
        "{} row(s) came back from {} kept copy(ies) of a damaged write-ahead log (rows the database had were left as they were)",
        f.rows, f.copies
    )];
    if f.completed_attempts > 0 {
        out.push(format!(
            "{} attempt(s) recorded as still running had their end filled in from a kept copy",
            f.completed_attempts
        ));
    }
    if f.done_tasks > 0 {
        out.push(format!(
            "{} task(s) whose recovered latest attempt succeeded are done (they do not run again)",
            f.done_tasks
        ));
    }
    if f.diverged_tasks > 0 {
        out.push(format!(
            "{} task(s) ran again after the damage: their attempts in the copy were left out, the store's own history kept",
            f.diverged_tasks
        ));
    }
    out
}
