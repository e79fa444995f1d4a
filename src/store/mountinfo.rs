//! Mount options that keep a shared filesystem's locks on one host (docs/store-filesystems.md):
//! NFS `nolock` / `local_lock=...`, Lustre `localflock`, CIFS `nobrl`. No error reveals them:
//! every lock is granted, and two hosts do not exclude each other. They are read from
//! `/proc/self/mountinfo`, for the mount that holds the store.

use std::path::{Path, PathBuf};

/// The option of the mount holding `dir` that keeps its locks on this host, described
/// (`nfs4 mounted with local_lock=all`); `None` when there is none or it cannot be read.
pub fn local_lock_option(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    local_lock_option_in(&table, &dir)
}

/// [`local_lock_option`] on the text of a `mountinfo` table.
pub fn local_lock_option_in(table: &str, dir: &Path) -> Option<String> {
    // The last of the longest mount points above `dir`: a later mount hides an earlier one.
    let mount = table
        .lines()
        .filter_map(parse)
        .filter(|m| dir.starts_with(&m.point))
        .fold(None::<Mount>, |best, m| match best {
            Some(b) if b.point.as_os_str().len() > m.point.as_os_str().len() => Some(b),
            _ => Some(m),
        })?;
    let local = |option: &str| match mount.fstype.as_str() {
        "nfs" | "nfs4" => {
            option == "nolock"
                || option
                    .strip_prefix("local_lock=")
                    .is_some_and(|v| v != "none")
        }
        "lustre" => option == "localflock",
        "cifs" | "smb3" => option == "nobrl",
        _ => false,
    };
    let option = mount.options.iter().find(|o| local(o))?;
    Some(format!("{} mounted with {option}", mount.fstype))
}

struct Mount {
    point: PathBuf,
    fstype: String,
    /// The mount's options and its superblock's.
    options: Vec<String>,
}

/// One line: `ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS`.
fn parse(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let before: Vec<&str> = before.split(' ').collect();
    let after: Vec<&str> = after.split(' ').collect();
    let point = unescape(before.get(4)?);
    let fstype = after.first()?.to_string();
    let options = [before.get(5).copied(), after.get(2).copied()]
        .into_iter()
        .flatten()
        .flat_map(|o| o.split(','))
        .map(str::to_string)
        .collect();
    Some(Mount {
        point: PathBuf::from(point),
        fstype,
        options,
    })
}

/// Undoes the kernel's octal escapes (`\040` for a space) in a mount point.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
40 27 0:50 / /home rw,relatime - nfs4 fs1:/home rw,vers=4.2,hard,proto=tcp,local_lock=none,addr=10.0.0.1
41 27 0:51 / /scratch rw,relatime - lustre 10.0.0.2@o2ib:/scratch rw,localflock,lazystatfs
42 27 0:52 / /old rw,relatime - nfs fs2:/old rw,vers=3,nolock,addr=10.0.0.3
43 27 0:53 / /my\\040lab rw,relatime - nfs4 fs1:/lab rw,vers=4.1,local_lock=all
44 41 0:54 / /scratch/fast rw,relatime - lustre 10.0.0.2@o2ib:/fast rw,flock
";

    fn verdict(dir: &str) -> Option<String> {
        local_lock_option_in(TABLE, Path::new(dir))
    }

    /// Issue 10: the mount options that keep locks on one host are found for the store's mount,
    /// the deepest one holding it, and only those.
    #[test]
    fn node_local_lock_options_are_found_for_the_stores_mount() {
        assert_eq!(verdict("/home/ada/exp/.labtrail"), None);
        assert_eq!(
            verdict("/scratch/ada/.labtrail").as_deref(),
            Some("lustre mounted with localflock")
        );
        assert_eq!(verdict("/scratch/fast/ada/.labtrail"), None);
        assert_eq!(
            verdict("/old/x/.labtrail").as_deref(),
            Some("nfs mounted with nolock")
        );
        assert_eq!(
            verdict("/my lab/.labtrail").as_deref(),
            Some("nfs4 mounted with local_lock=all")
        );
        assert_eq!(verdict("/data/.labtrail"), None);
        // A mount point that only shares a prefix of the name is not above the store.
        assert_eq!(verdict("/oldies/.labtrail"), None);
    }
}
