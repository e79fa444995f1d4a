//! The filesystem a store is on, and the journal mode it allows (docs/store-filesystems.md).
//!
//! SQLite's WAL mode keeps its index in shared memory (the `-shm` file, mapped by every
//! connection), so every process using the database must be on one host: on NFS, Lustre, GPFS and
//! the like, a second login node or a compute node would read and write an index that is not the
//! one the first host sees, and the database is corrupted without any error. There the store uses
//! SQLite's rollback journal, which needs only the POSIX locks the filesystem forwards to its
//! server; WAL, faster, stays on local disks.
//!
//! A wrong "network" verdict only costs speed, a wrong "local" one can cost the store: an unknown
//! filesystem (FUSE, whose sshfs is remote; a magic number not listed here) counts as network.

use rusqlite::{Connection, DatabaseName};
use std::path::Path;

/// The environment variable that overrides detection: `network` or `local`.
pub const STORE_FS_ENV: &str = "LABTRAIL_STORE_FS";

/// Checks [`STORE_FS_ENV`]: unset (or empty), `network` or `local`. Any other value (`Network`,
/// `nfs`) is returned, to be refused: ignoring it would silently pick WAL on a disk the user
/// said is shared.
pub fn check_env() -> Result<(), String> {
    match std::env::var_os(STORE_FS_ENV) {
        Some(v) if !["", "network", "local"].iter().any(|ok| v == *ok) => {
            Err(v.to_string_lossy().into_owned())
        }
        _ => Ok(()),
    }
}

/// Whether the store's files are seen by one host only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// A disk of this host: WAL is safe.
    Local,
    /// A filesystem other hosts may use at the same time, or one that could be: no WAL.
    Network,
}

/// The filesystem of a store, as detected (or forced with [`STORE_FS_ENV`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFs {
    /// Its name (`nfs`, `lustre`, `ext4`...), or its `statfs` magic number when unknown.
    pub name: String,
    /// What it means for the journal mode and the locks.
    pub sharing: Sharing,
    /// Whether [`STORE_FS_ENV`] decided `sharing`.
    pub forced: bool,
    /// The mount option that keeps this network filesystem's locks on this host, if it has one
    /// (`nfs mounted with nolock`): then two hosts using the store do not exclude each other.
    pub local_locks: Option<String>,
}

impl std::fmt::Display for StoreFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.sharing {
            Sharing::Local => "a local filesystem",
            Sharing::Network => "a network filesystem",
        };
        write!(f, "{} ({kind}", self.name)?;
        if self.forced {
            write!(f, ", set by {STORE_FS_ENV}")?;
        }
        if let Some(option) = &self.local_locks {
            write!(f, "; its locks stay on this host: {option}")?;
        }
        write!(f, ")")
    }
}

/// `statfs` magic numbers of filesystems other hosts can share, checked against the kernel's
/// `include/uapi/linux/magic.h`, its fs sources and the projects' own (see the docs).
const NETWORK: &[(u32, &str)] = &[
    (0x6969, "nfs"),
    (0x0BD0_0BD0, "lustre"),
    (0x4750_4653, "gpfs"),
    (0x1983_0326, "beegfs"),
    (0x00C3_6400, "cephfs"),
    (0xFF53_4D42, "cifs"),
    (0xFE53_4D42, "smb2"),
    (0x517B, "smbfs"),
    (0x0102_1997, "9p"),
    (0x5346_414F, "afs"),
    (0x6B41_4653, "kafs"),
    (0x7375_7245, "coda"),
    (0x6573_5546, "fuse"),
    (0x7461_636F, "ocfs2"),
    (0x0116_1970, "gfs2"),
    (0xAAD7_AAEA, "panfs"),
    (0x0131_11A8, "ibrix"),
    (0x6163_6673, "acfs"),
    (0x786F_4256, "vboxsf"),
    (0xBACB_ACBC, "vmhgfs"),
    (0x564C, "ncpfs"),
];

/// Filesystems of a disk of this host.
const LOCAL: &[(u32, &str)] = &[
    (0xEF53, "ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683E, "btrfs"),
    (0x2FC1_2FC1, "zfs"),
    (0x0102_1994, "tmpfs"),
    (0x8584_58F6, "ramfs"),
    (0x794C_7630, "overlayfs"),
    (0xF2F5_2010, "f2fs"),
    (0xCA45_1A4E, "bcachefs"),
    (0x3153_464A, "jfs"),
    (0x5265_4973, "reiserfs"),
    (0x3434, "nilfs2"),
    (0x2011_BAB0, "exfat"),
    (0x4D44, "vfat"),
    (0x5346_544E, "ntfs"),
    (0xF15F, "ecryptfs"),
];

/// What a `statfs` magic number says about a filesystem; an unknown one counts as network.
pub fn classify(magic: u32) -> (String, Sharing) {
    if let Some((_, name)) = LOCAL.iter().find(|(m, _)| *m == magic) {
        return (name.to_string(), Sharing::Local);
    }
    let name = NETWORK.iter().find(|(m, _)| *m == magic).map_or_else(
        || format!("unknown filesystem 0x{magic:x}"),
        |(_, n)| n.to_string(),
    );
    (name, Sharing::Network)
}

/// The filesystem of `dir` (an existing folder): [`STORE_FS_ENV`] if set, else `statfs`.
pub fn detect(dir: &Path) -> StoreFs {
    let (name, sharing) = match statfs_magic(dir) {
        Some(magic) => classify(magic),
        None => ("unknown filesystem".to_string(), Sharing::Network),
    };
    // Only a shared filesystem's mount options are worth reading the mount table for.
    let local_locks = match sharing {
        Sharing::Network => super::mountinfo::local_lock_option(dir),
        Sharing::Local => None,
    };
    let (sharing, forced) = match std::env::var(STORE_FS_ENV).as_deref() {
        Ok("network") => (Sharing::Network, true),
        Ok("local") => (Sharing::Local, true),
        _ => (sharing, false),
    };
    StoreFs {
        name,
        sharing,
        forced,
        local_locks,
    }
}

fn statfs_magic(dir: &Path) -> Option<u32> {
    // `f_type` is a signed word on some targets: the magic is its low 32 bits.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return rustix::fs::statfs(dir).ok().map(|s| s.f_type as u32);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = dir;
        None
    }
}

/// Sets the journal mode of the store database `conn`, in folder `dir`, that its filesystem
/// allows: rollback journal (`DELETE`) on a network filesystem, WAL on a new store on a local
/// disk. A store already in rollback mode stays so when detection says "local" (the NFS server
/// itself sees its export as a local disk while its clients do not); `LABTRAIL_STORE_FS=local`
/// switches it to WAL. A read-only connection changes nothing.
///
/// Leaving WAL needs every other connection closed; they are waited for as long as the busy
/// timeout, then the error says what to do (BUSY, so that it is never taken for damage).
pub fn apply_journal_mode(conn: &Connection, dir: &Path) -> rusqlite::Result<()> {
    if conn.is_readonly(DatabaseName::Main)? {
        return Ok(());
    }
    let fs = detect(dir);
    let current: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    let current = current.to_ascii_lowercase();
    let new_store = conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))? == 0;
    let wanted = match fs.sharing {
        Sharing::Network => "delete",
        Sharing::Local if fs.forced || new_store || current == "wal" => "wal",
        Sharing::Local => return Ok(()),
    };
    if current == wanted {
        return Ok(());
    }
    // SQLite refuses the switch at once while another connection has the file open: waited
    // out for as long as the busy timeout.
    let switched = super::busy::retry_while_busy(|| {
        conn.pragma_update_and_check(None, "journal_mode", wanted, |r| r.get::<_, String>(0))
    });
    let busy =
        |e: &rusqlite::Error| e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy);
    match switched {
        // Still in WAL after asking to leave it: another connection keeps it there.
        Ok(mode) if wanted == "delete" && mode.eq_ignore_ascii_case("wal") => {
            Err(still_open_in_wal(dir, &fs))
        }
        // Any other answer is a safe mode: where WAL is impossible (no shared memory) SQLite
        // keeps the rollback journal.
        Ok(_) => Ok(()),
        Err(e) if wanted == "delete" && busy(&e) => Err(still_open_in_wal(dir, &fs)),
        Err(e) => Err(e),
    }
}

fn still_open_in_wal(dir: &Path, fs: &StoreFs) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        Some(format!(
            "the store {} is in WAL mode, which is not safe on {fs}, and another process still has it open, so it cannot leave WAL mode yet\n  help: stop the other labtrail processes using this store (a labtrail 0.4.0 or older, or one started with {STORE_FS_ENV}=local), then run the command again; see docs/store-filesystems.md",
            dir.display()
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10: the filesystems of clusters are told from local disks by their magic numbers.
    #[test]
    fn cluster_filesystems_are_network_and_disks_are_local() {
        for (magic, name) in [
            (0x6969, "nfs"),
            (0x0BD0_0BD0, "lustre"),
            (0x4750_4653, "gpfs"),
            (0x1983_0326, "beegfs"),
            (0xFF53_4D42, "cifs"),
        ] {
            assert_eq!(classify(magic), (name.to_string(), Sharing::Network));
        }
        assert_eq!(classify(0xEF53), ("ext4".to_string(), Sharing::Local));
        assert_eq!(classify(0x5846_5342), ("xfs".to_string(), Sharing::Local));
        // Whatever is not known may be remote.
        assert_eq!(classify(0x1234_5678).1, Sharing::Network);
    }

    #[test]
    fn a_forced_verdict_says_so() {
        let fs = StoreFs {
            name: "ext4".into(),
            sharing: Sharing::Network,
            forced: true,
            local_locks: None,
        };
        assert_eq!(
            fs.to_string(),
            format!("ext4 (a network filesystem, set by {STORE_FS_ENV})")
        );
    }
}
