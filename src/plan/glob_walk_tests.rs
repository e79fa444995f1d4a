use super::*;
use std::os::unix::fs::symlink;

fn tree(root: &Path) {
    for d in ["a/b/c", "a/.hid", "x[1]/y", "e"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for f in [
        "top.py",
        ".dot.py",
        "a/one.py",
        "a/b/two.py",
        "a/b/c/three.py",
        "a/b/c/notes.txt",
        "a/.hid/four.py",
        "x[1]/y/five.py",
        "a-b.py",
    ] {
        std::fs::write(root.join(f), "x").unwrap();
    }
    symlink(root.join("a/b"), root.join("e/link")).unwrap();
    symlink(root.join("nowhere"), root.join("e/dangling.py")).unwrap();
}

fn rel(root: &Path, paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect()
}

/// Issue 12: on a tree without loops the walk finds what `glob::glob` finds, pattern by pattern
/// (hidden names, links, a dangling link, `**` at either end, a trailing `/`).
#[test]
fn finds_what_glob_finds() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    tree(root);
    for pattern in [
        "*.py",
        "*",
        "a/*.py",
        "a/*/*.py",
        "**/*.py",
        "a/**/*.py",
        "a/**",
        "**/c/*",
        "a/**/b/**/*.txt",
        "e/*",
        "e/link/**/*.py",
        "*/",
        "a/b/../one.py",
        "a/[ab]/two.py",
        "a/?/c",
        "x[[]1]/*/*.py",
        "nothing/**/*.py",
        "top.py/*",
    ] {
        let mut want: Vec<PathBuf> = glob::glob(&format!(
            "{}/{pattern}",
            Pattern::escape(&root.to_string_lossy())
        ))
        .unwrap()
        .map(Result::unwrap)
        .collect();
        want.sort();
        let got = matches(root, pattern, &Bounds::default()).unwrap();
        assert_eq!(rel(root, &got.paths), rel(root, &want), "{pattern}");
        assert!(got.cut_short.is_none() && got.unreadable.is_empty());
    }
    let abs = format!("{}/a/*.py", root.display());
    let got = matches(Path::new("/elsewhere"), &abs, &Bounds::default()).unwrap();
    assert_eq!(got.paths, [root.join("a/one.py")]);
    assert!(matches(root, "a**", &Bounds::default()).is_err());
}

/// Issue 12: two links back into the folder under `**` (2^depth paths for `glob::glob`, for
/// ever): the walk ends and finds the real files beside the links.
#[test]
fn links_back_into_the_walk_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("run[1]"); // the folder's own glob characters are no pattern
    std::fs::create_dir_all(root.join("ck/x")).unwrap();
    std::fs::write(root.join("ck/x/m.pt"), "x").unwrap();
    symlink(".", root.join("ck/a")).unwrap();
    symlink(".", root.join("ck/b")).unwrap();
    symlink("..", root.join("ck/x/up")).unwrap();
    let got = matches(&root, "ck/**/*.pt", &Bounds::default()).unwrap();
    assert_eq!(rel(&root, &got.paths), ["ck/x/m.pt"]);
    assert!(got.cut_short.is_none());
    let dirs = matches(&root, "ck/**", &Bounds::default()).unwrap();
    assert_eq!(rel(&root, &dirs.paths), ["ck/x"]);
    // Without `**` the links are taken as they come, as before: the depth is the pattern's.
    let one = matches(&root, "ck/*/*.pt", &Bounds::default()).unwrap();
    assert_eq!(rel(&root, &one.paths), ["ck/x/m.pt"]);
    let two = matches(&root, "ck/*/*/*.pt", &Bounds::default()).unwrap();
    assert_eq!(rel(&root, &two.paths), ["ck/a/x/m.pt", "ck/b/x/m.pt"]);
}

/// Issue 12: links that are no loop but multiply paths (each folder links twice to the next)
/// are bounded by the entry cap, the deadline and the stop flag, and the result says so.
#[test]
fn a_walk_is_cut_short_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for i in 0..30 {
        std::fs::create_dir_all(root.join(format!("d{i}"))).unwrap();
        std::fs::write(root.join(format!("d{i}/f.pt")), "x").unwrap();
        if i > 0 {
            for l in ["l1", "l2"] {
                symlink(
                    root.join(format!("d{i}")),
                    root.join(format!("d{}/{l}", i - 1)),
                )
                .unwrap();
            }
        }
    }
    let capped = Bounds {
        max_entries: 10_000,
        ..Bounds::default()
    };
    let got = matches(root, "d0/**/*.pt", &capped).unwrap();
    assert_eq!(got.cut_short, Some(CutShort::Entries(10_000)));
    assert!(got.paths.contains(&root.join("d0/f.pt")));
    let late = Bounds {
        deadline: Some(Instant::now()),
        ..Bounds::default()
    };
    let got = matches(root, "d0/**/*.pt", &late).unwrap();
    assert_eq!(got.cut_short, Some(CutShort::Deadline));
    let stop = AtomicBool::new(true);
    let stopped = Bounds {
        stop: Some(&stop),
        ..Bounds::default()
    };
    let got = matches(root, "d0/**/*.pt", &stopped).unwrap();
    assert_eq!(got.cut_short, Some(CutShort::Stopped));
    assert!(got.to_string_check());
}

impl Matches {
    fn to_string_check(&self) -> bool {
        self.cut_short.is_some_and(|c| !c.to_string().is_empty())
    }
}
