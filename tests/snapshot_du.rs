//! Issue 13: the snapshot's disk figure is `du`'s. Every tree here is real (sparse files, hard
//! links, symlinks, a mounted tmpfs, a directory its reader may not open) and every expected
//! figure comes from running the real `du` on the same tree.

use labtrail::snapshot::du::{human, measure, DuOptions};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `du ARGS PATH`'s number (its stdout's first field), run as root or through `setpriv`.
fn du(prefix: &[&str], args: &[&str], path: &Path) -> u64 {
    let (program, rest) = match prefix.split_first() {
        Some((p, rest)) => (*p, rest),
        None => ("du", &[][..]),
    };
    let mut cmd = Command::new(program);
    cmd.args(rest);
    if !prefix.is_empty() {
        cmd.arg("du");
    }
    let out = cmd.args(args).arg(path).output().expect("run du");
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("du printed nothing: {out:?}"));
    first.parse().expect("du's number")
}

fn opts(threads: usize) -> DuOptions {
    DuOptions {
        threads,
        budget: Duration::from_secs(600),
        cross_mounts: false,
    }
}

/// The kinds of entries du has rules for, in one tree.
fn odd_tree(root: &Path) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("empty/also_empty")).unwrap();
    fs::write(root.join("a/data.bin"), vec![7u8; 123_457]).unwrap();
    // Hard links in the same folder and across folders: one inode, counted once.
    fs::hard_link(root.join("a/data.bin"), root.join("a/data_again.bin")).unwrap();
    fs::hard_link(root.join("a/data.bin"), root.join("a/b/c/data_deep.bin")).unwrap();
    // Sparse: apparent 64 MiB, almost nothing allocated.
    let sparse = fs::File::create(root.join("a/b/sparse.img")).unwrap();
    sparse.set_len(64 << 20).unwrap();
    symlink("data.bin", root.join("a/link_to_file")).unwrap();
    symlink("b", root.join("a/link_to_dir")).unwrap();
    symlink("/nowhere/at/all", root.join("a/dangling")).unwrap();
    // Deep nesting: 200 levels, a file at the bottom.
    let mut deep = root.join("deep");
    for i in 0..200 {
        deep.push(format!("d{i}"));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("bottom.txt"), "bottom").unwrap();
}

#[test]
fn equals_du_on_sparse_files_hard_links_symlinks_empty_and_deep_folders() {
    let dir = tempfile::tempdir().unwrap();
    odd_tree(dir.path());
    let want_bytes = du(&[], &["-sb"], dir.path());
    let want_alloc = du(&[], &["-s", "-B1"], dir.path());
    for threads in [1, 2, 8] {
        let fig = measure(dir.path(), &opts(threads)).unwrap();
        assert_eq!(
            fig.bytes, want_bytes,
            "apparent bytes with {threads} threads: {fig:?}"
        );
        assert_eq!(
            fig.allocated_bytes, want_alloc,
            "allocated bytes with {threads} threads"
        );
        // Root, a, b, c, empty, also_empty, deep, deep/d0..d199.
        assert_eq!(fig.dirs, 207, "{fig:?}");
        // data.bin once, sparse.img, three symlinks, bottom.txt.
        assert_eq!(fig.files, 6, "{fig:?}");
        assert!(!fig.partial && fig.unreadable == 0, "{fig:?}");
    }
}

#[test]
fn equals_du_on_ten_thousand_files() {
    let dir = tempfile::tempdir().unwrap();
    for d in 0..100 {
        let sub = dir.path().join(format!("run_{d:03}/out"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..100 {
            let size = (d * 100 + f) * 37 % 9000;
            fs::write(sub.join(format!("f{f}.txt")), vec![b'x'; size]).unwrap();
        }
    }
    let fig = measure(dir.path(), &opts(4)).unwrap();
    assert_eq!(fig.bytes, du(&[], &["-sb"], dir.path()));
    assert_eq!(fig.allocated_bytes, du(&[], &["-s", "-B1"], dir.path()));
    assert_eq!((fig.files, fig.dirs), (10_000, 201));
}

#[test]
fn a_hard_linked_file_counts_once_even_when_its_other_name_is_outside() {
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("inside");
    fs::create_dir(&inside).unwrap();
    fs::write(dir.path().join("outside.bin"), vec![1u8; 10_000]).unwrap();
    for name in ["one", "two", "three"] {
        fs::hard_link(dir.path().join("outside.bin"), inside.join(name)).unwrap();
    }
    let fig = measure(&inside, &opts(2)).unwrap();
    let dir_size = fs::symlink_metadata(&inside).unwrap().len();
    assert_eq!(fig.bytes, dir_size + 10_000);
    assert_eq!(fig.bytes, du(&[], &["-sb"], &inside));
}

#[test]
fn a_symlinked_root_is_measured_through_the_link_like_du_with_a_slash() {
    let dir = tempfile::tempdir().unwrap();
    odd_tree(&dir.path().join("real"));
    let link = dir.path().join("scratch");
    symlink(dir.path().join("real"), &link).unwrap();
    let fig = measure(&link, &opts(2)).unwrap();
    assert_eq!(fig.bytes, du(&[], &["-sb"], &dir.path().join("scratch/")));
}

#[test]
fn a_file_root_is_its_size_and_a_missing_root_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("one.txt"), "12345").unwrap();
    let fig = measure(&dir.path().join("one.txt"), &opts(1)).unwrap();
    assert_eq!((fig.bytes, fig.files, fig.dirs), (5, 1, 0));
    let missing = dir.path().join("not_there");
    let err = measure(&missing, &opts(1)).unwrap_err();
    assert!(err.to_string().contains("not_there"), "{err}");
}

#[test]
fn an_exhausted_budget_gives_a_partial_lower_bound() {
    let dir = tempfile::tempdir().unwrap();
    odd_tree(dir.path());
    let full = measure(dir.path(), &opts(2)).unwrap();
    let none = DuOptions {
        budget: Duration::ZERO,
        ..opts(2)
    };
    let fig = measure(dir.path(), &none).unwrap();
    assert!(fig.partial, "{fig:?}");
    assert!(fig.bytes < full.bytes, "{fig:?} vs {full:?}");
    assert!(!full.partial);
}

/// Runs `f` on a thread whose credentials are user and group 65534 (nobody): the raw syscalls
/// change this thread only (glibc's wrappers would change the whole test process), and threads
/// it starts inherit them. None when not root (then nothing can be dropped).
fn as_nobody<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: plain syscalls with constant arguments on this thread's credentials.
            let dropped = unsafe {
                libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) == 0
                    && libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) == 0
                    && libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) == 0
            };
            dropped.then(f)
        })
        .join()
        .unwrap()
    })
}

#[test]
fn an_unreadable_folder_is_counted_named_and_its_own_size_kept_like_du() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    odd_tree(dir.path());
    fs::create_dir(dir.path().join("a/locked")).unwrap();
    fs::write(dir.path().join("a/locked/secret.bin"), vec![0u8; 50_000]).unwrap();
    fs::set_permissions(
        dir.path().join("a/locked"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let root = dir.path().to_path_buf();
    let Some(fig) = as_nobody(|| measure(&root, &opts(2)).unwrap()) else {
        eprintln!("SKIPPED: not root, cannot make a folder unreadable to the walk");
        return;
    };
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    assert_eq!(fig.bytes, du(&nobody, &["-sb"], dir.path()), "{fig:?}");
    assert_eq!(fig.unreadable, 1, "{fig:?}");
    let named = fig.first_error.unwrap();
    assert!(
        named.contains("a/locked") && named.contains("ermission denied"),
        "{named}"
    );
}

/// Unmounts on drop, so a failing assertion does not leave a tmpfs behind.
struct Mounted(std::path::PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_mounted_filesystem_inside_is_skipped_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    odd_tree(dir.path());
    let point = dir.path().join("a/mnt");
    fs::create_dir(&point).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "labtrail-du-test"])
        .arg(&point)
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root, or no mount permission)");
        return;
    }
    let _guard = Mounted(point.clone());
    fs::write(point.join("big.bin"), vec![3u8; 300_000]).unwrap();
    let same_fs = measure(dir.path(), &opts(2)).unwrap();
    assert_eq!(same_fs.bytes, du(&[], &["-sbx"], dir.path()));
    let crossing = measure(
        dir.path(),
        &DuOptions {
            cross_mounts: true,
            ..opts(2)
        },
    )
    .unwrap();
    assert_eq!(crossing.bytes, du(&[], &["-sb"], dir.path()));
    assert!(
        crossing.bytes >= same_fs.bytes + 300_000,
        "{crossing:?} vs {same_fs:?}"
    );
}

#[test]
fn human_reads_like_du_h() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = [
        0u64,
        1,
        1023,
        1024,
        1025,
        1536,
        10_239,
        10_240,
        10_241,
        1_048_575,
        1_048_577,
        5 << 30,
        (45 << 30) + 1,
    ];
    for size in sizes {
        let path = dir.path().join(format!("f{size}"));
        fs::File::create(&path).unwrap().set_len(size).unwrap();
        let out = Command::new("du")
            .args(["-h", "--apparent-size"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            human(size),
            text.split_whitespace().next().unwrap(),
            "{size} bytes"
        );
    }
}
