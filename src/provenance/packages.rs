//! Installed Python packages read from the folders Python imports them from, without starting
//! it: `*.dist-info` and `*.egg-info` names (one directory listing per folder), conda's
//! `conda-meta/*.json` names, and, in a second, slower step ([`resolve_commits`]), the git
//! commit of editable installs and source checkouts (`direct_url.json`, `.egg-link`).

use super::model::{ChosenPackage, Package, Packages};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a listed package says about where its source is, for [`resolve_commits`].
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// Every package found, by normalised name.
    pub packages: BTreeMap<String, Package>,
    /// Per package name, the metadata folder (`.dist-info`) or link (`.egg-link`) to look into
    /// for its source.
    pub origins: BTreeMap<String, PathBuf>,
}

/// PEP 503 normalised name: lowercase, runs of `-`, `_`, `.` as one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Lists the packages of `site_dirs` (earlier folders win, as on `sys.path`) and of the conda
/// environment at `conda_prefix`, if any.
pub fn list(site_dirs: &[PathBuf], conda_prefix: Option<&Path>) -> Listed {
    let mut listed = Listed::default();
    for dir in site_dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            let found = if let Some(stem) = name.strip_suffix(".dist-info") {
                stem.split_once('-')
                    .map(|(n, v)| (n.to_string(), v.to_string(), "dist-info"))
            } else if let Some(stem) = name.strip_suffix(".egg-info") {
                egg_info(&e.path(), stem).map(|(n, v)| (n, v, "egg-info"))
            } else if let Some(stem) = name.strip_suffix(".egg-link") {
                egg_link_version(&e.path()).map(|v| (stem.to_string(), v, "egg-info"))
            } else {
                None
            };
            let Some((raw, version, source)) = found else {
                continue;
            };
            let key = normalise(&raw);
            if listed.packages.contains_key(&key) {
                continue;
            }
            if source == "dist-info" || name.ends_with(".egg-link") {
                listed.origins.insert(key.clone(), e.path());
            }
            listed.packages.insert(
                key.clone(),
                Package {
                    name: key,
                    version,
                    commit: None,
                    source: source.into(),
                },
            );
        }
    }
    if let Some(prefix) = conda_prefix {
        if let Ok(entries) = std::fs::read_dir(prefix.join("conda-meta")) {
            for e in entries.filter_map(|e| e.ok()) {
                let Ok(name) = e.file_name().into_string() else {
                    continue;
                };
                let Some(stem) = name.strip_suffix(".json") else {
                    continue;
                };
                // name-version-build: the name may hold `-`, version and build do not.
                let mut parts = stem.rsplitn(3, '-');
                let (Some(_build), Some(version), Some(raw)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let key = normalise(raw);
                listed.packages.entry(key.clone()).or_insert(Package {
                    name: key,
                    version: version.into(),
                    commit: None,
                    source: "conda".into(),
                });
            }
        }
    }
    listed
}

/// Name and version of an `.egg-info` entry: from its name (`pkg-1.0-py3.11`), else from its
/// `PKG-INFO` (a folder) or itself (a file), as `setup.py develop` leaves `pkg.egg-info`.
fn egg_info(path: &Path, stem: &str) -> Option<(String, String)> {
    let mut parts = stem.splitn(3, '-');
    let name = parts.next()?.to_string();
    if let Some(v) = parts.next() {
        return Some((name, v.to_string()));
    }
    let meta = if path.is_dir() {
        path.join("PKG-INFO")
    } else {
        path.to_path_buf()
    };
    Some((
        name,
        pkg_info_version(&meta).unwrap_or_else(|| "unknown".into()),
    ))
}

fn pkg_info_version(meta: &Path) -> Option<String> {
    let text = std::fs::read_to_string(meta).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Version:").map(|v| v.trim().to_string()))
}

/// The version of a legacy editable install (`pkg.egg-link` naming its source folder).
fn egg_link_version(link: &Path) -> Option<String> {
    let src = egg_link_target(link)?;
    let info = std::fs::read_dir(&src).ok()?.find_map(|e| {
        let e = e.ok()?;
        e.file_name()
            .to_string_lossy()
            .ends_with(".egg-info")
            .then(|| e.path())
    });
    Some(
        info.and_then(|i| pkg_info_version(&i.join("PKG-INFO")))
            .unwrap_or_else(|| "unknown".into()),
    )
}

fn egg_link_target(link: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(link).ok()?;
    Some(PathBuf::from(text.lines().next()?.trim()))
}

/// Fills in the commit of every editable install or source checkout: the `commit_id` pip
/// recorded for a VCS install, or the git commit of the local folder it was installed from.
pub fn resolve_commits(listed: &mut Listed) {
    for (name, origin) in &listed.origins {
        let commit = if origin.extension().is_some_and(|e| e == "egg-link") {
            egg_link_target(origin).and_then(|src| head_commit(&src))
        } else {
            direct_url_commit(&origin.join("direct_url.json"))
        };
        if let (Some(c), Some(p)) = (commit, listed.packages.get_mut(name)) {
            p.commit = Some(c);
        }
    }
}

/// From PEP 610's `direct_url.json`: `vcs_info.commit_id`, or the commit of a `file://` folder.
fn direct_url_commit(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    if let Some(c) = v.pointer("/vcs_info/commit_id").and_then(|c| c.as_str()) {
        return Some(c.to_string());
    }
    let url = v.get("url")?.as_str()?;
    head_commit(Path::new(url.strip_prefix("file://")?))
}

/// The commit `HEAD` names in the git repository holding `dir`, read from its files (`.git`
/// folder or `gitdir:` file, loose ref, `packed-refs`), without starting git.
pub fn head_commit(dir: &Path) -> Option<String> {
    let dot_git = dir
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|g| g.exists())?;
    let git_dir = if dot_git.is_file() {
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let target = PathBuf::from(text.trim().strip_prefix("gitdir:")?.trim());
        dot_git.parent()?.join(target)
    } else {
        dot_git
    };
    // A linked worktree keeps its refs in the main repository (`commondir`).
    let common = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(c) => git_dir.join(c.trim()),
        Err(_) => git_dir.clone(),
    };
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(refname) = head.strip_prefix("ref:").map(str::trim) else {
        return is_hash(head).then(|| head.to_string());
    };
    for d in [&git_dir, &common] {
        if let Ok(h) = std::fs::read_to_string(d.join(refname)) {
            let h = h.trim();
            if is_hash(h) {
                return Some(h.to_string());
            }
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (hash, name) = l.split_once(' ')?;
        (name == refname && is_hash(hash)).then(|| hash.to_string())
    })
}

fn is_hash(s: &str) -> bool {
    s.len() >= 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The packages as recorded, with `chosen` (names in configured order) found or `not installed`.
pub fn packages(listed: &Listed, chosen: &[String]) -> Packages {
    let chosen = chosen
        .iter()
        .map(|name| ChosenPackage {
            name: name.clone(),
            version: match listed.packages.get(&normalise(name)) {
                Some(Package {
                    version,
                    commit: Some(c),
                    ..
                }) => format!("{version}+{}", &c[..c.len().min(12)]),
                Some(p) => p.version.clone(),
                None => "not installed".into(),
            },
        })
        .collect();
    Packages {
        all: listed.packages.values().cloned().collect(),
        chosen,
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn names_are_normalised_as_pep_503_says() {
        assert_eq!(normalise("Transformer_Engine"), "transformer-engine");
        assert_eq!(normalise("megatron.core"), "megatron-core");
        assert_eq!(normalise("a__-.b"), "a-b");
    }
}
