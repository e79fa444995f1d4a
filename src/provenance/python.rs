//! The Python the tasks will use, found without starting it: `[archive] python` or the first
//! `python3` (else `python`) on the tasks' PATH, a pyenv shim resolved to the version it would
//! run, the virtual environment (`pyvenv.cfg`) or conda environment (`conda-meta`) it belongs
//! to, its version (from those files, or from the interpreter's file name), and the folders its
//! packages are installed in. Starting an interpreter takes 0.5 s under load, `pip freeze`
//! seconds; this reads a few small files.

use super::model::{Probed, Python};
use std::path::{Path, PathBuf};

/// Finds the interpreter: `configured` (a path, relative to `base`, or a name looked up on
/// `path_var`), else `python3` or `python` on `path_var`.
pub fn find(configured: Option<&str>, base: &Path, path_var: Option<&str>) -> Option<PathBuf> {
    let search = |name: &str| -> Option<PathBuf> {
        std::env::split_paths(path_var?)
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    };
    match configured {
        Some(c) if c.contains('/') => Some(std::path::absolute(base.join(c)).ok()?),
        Some(name) => search(name),
        None => search("python3").or_else(|| search("python")),
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Describes the interpreter at `exe` (which may not exist: then `n/a`). `base` is where the
/// tasks start (for a pyenv `.python-version`).
pub fn describe(exe: &Path, base: &Path) -> Probed<Python> {
    let exe = match pyenv_target(exe, base) {
        Some(target) => target,
        None => exe.to_path_buf(),
    };
    if !exe.exists() {
        return Probed::na(format!("{} does not exist", exe.display()));
    }
    let bin = exe.parent().unwrap_or(Path::new("/"));
    let prefix = bin.parent().unwrap_or(Path::new("/")).to_path_buf();
    let venv_cfg = [prefix.join("pyvenv.cfg"), bin.join("pyvenv.cfg")]
        .into_iter()
        .find(|p| p.is_file());
    let cfg = venv_cfg
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let cfg_field = |key: &str| {
        cfg.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let conda = prefix.join("conda-meta").is_dir();
    let version = cfg_field("version")
        .or_else(|| cfg_field("version_info"))
        .map(|v| v.split('.').take(3).collect::<Vec<_>>().join("."))
        .or_else(|| conda.then(|| conda_python_version(&prefix)).flatten())
        .or_else(|| pyenv_dir_version(&prefix))
        .or_else(|| version_from_name(&exe))
        .or_else(|| lib_python_version(&prefix));
    let mut site_packages = site_dirs(&prefix);
    if venv_cfg.is_some() && cfg_field("include-system-site-packages").as_deref() == Some("true") {
        if let Some(home) = cfg_field("home") {
            let base_prefix = Path::new(&home).parent().unwrap_or(Path::new("/"));
            site_packages.extend(site_dirs(base_prefix));
        }
    }
    if venv_cfg.is_none() && !conda {
        if let (Some(home), Some(v)) = (std::env::var_os("HOME"), &version) {
            let mm: Vec<&str> = v.split('.').take(2).collect();
            let user = Path::new(&home)
                .join(".local/lib")
                .join(format!("python{}", mm.join(".")))
                .join("site-packages");
            if user.is_dir() {
                site_packages.push(user);
            }
        }
    }
    let conda_env = conda.then(|| {
        let name = match prefix.parent().and_then(|p| p.file_name()) {
            Some(envs) if envs == "envs" => prefix
                .file_name()
                .map_or_else(|| "?".into(), |n| n.to_string_lossy().into_owned()),
            _ => "base".to_string(),
        };
        format!("{name} ({})", prefix.display())
    });
    Probed::Value(Python {
        executable: exe.display().to_string(),
        version,
        venv: venv_cfg.map(|p| p.parent().unwrap_or(&p).display().to_string()),
        conda_env,
        site_packages: site_packages
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    })
}

/// For a pyenv shim (`$PYENV_ROOT/shims/python3`), the interpreter it would start: the version
/// named by `PYENV_VERSION`, else the nearest `.python-version` above `base`, else
/// `$PYENV_ROOT/version`; `None` for anything else (or pyenv's `system`).
fn pyenv_target(exe: &Path, base: &Path) -> Option<PathBuf> {
    let shims = exe.parent()?;
    let root = shims.parent()?;
    if shims.file_name()? != "shims" || !root.join("versions").is_dir() {
        return None;
    }
    let first_word = |text: String| text.split_whitespace().next().map(str::to_string);
    let version = std::env::var("PYENV_VERSION")
        .ok()
        .and_then(|v| first_word(v.replace(':', " ")))
        .or_else(|| {
            std::path::absolute(base)
                .ok()?
                .ancestors()
                .find_map(|d| first_word(std::fs::read_to_string(d.join(".python-version")).ok()?))
        })
        .or_else(|| first_word(std::fs::read_to_string(root.join("version")).ok()?))?;
    if version == "system" {
        return None;
    }
    Some(
        root.join("versions")
            .join(version)
            .join("bin")
            .join(exe.file_name()?),
    )
}

/// The `python` package's version in a conda environment (`conda-meta/python-3.11.4-h1_0.json`).
fn conda_python_version(prefix: &Path) -> Option<String> {
    std::fs::read_dir(prefix.join("conda-meta"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find_map(|n| {
            let rest = n.strip_prefix("python-")?.strip_suffix(".json")?;
            let v = rest.rsplit_once('-')?.0;
            v.starts_with(|c: char| c.is_ascii_digit())
                .then(|| v.to_string())
        })
}

/// `3.11.7` from a pyenv installation's folder (`$PYENV_ROOT/versions/3.11.7`).
fn pyenv_dir_version(prefix: &Path) -> Option<String> {
    let name = prefix.file_name()?.to_str()?;
    let in_versions = prefix.parent()?.file_name()? == "versions";
    (in_versions
        && name.split('.').count() == 3
        && name.chars().all(|c| c.is_ascii_digit() || c == '.'))
    .then(|| name.to_string())
}

/// `3.11` from `python3.11`, following symbolic links (`python3` → `python3.11`).
fn version_from_name(exe: &Path) -> Option<String> {
    let resolved = std::fs::canonicalize(exe).ok()?;
    [resolved.as_path(), exe].iter().find_map(|p| {
        let name = p.file_name()?.to_str()?;
        let v = name.strip_prefix("python")?;
        (v.contains('.') && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .then(|| v.to_string())
    })
}

/// `3.11` from the prefix's single `lib/python3.11` folder.
fn lib_python_version(prefix: &Path) -> Option<String> {
    let mut found: Vec<String> = std::fs::read_dir(prefix.join("lib"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            let v = n.strip_prefix("python")?;
            (v.contains('.') && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .then(|| v.to_string())
        })
        .collect();
    (found.len() == 1).then(|| found.remove(0))
}

/// The package folders of an installation prefix, in the order Python searches them:
/// `lib/python3.X/site-packages`, Debian's `local/lib/python3.X/dist-packages`,
/// `lib/python3/dist-packages`.
pub fn site_dirs(prefix: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lib in [prefix.join("lib"), prefix.join("local/lib")] {
        let Ok(entries) = std::fs::read_dir(&lib) else {
            continue;
        };
        let mut versions: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .map(|e| e.path())
            .collect();
        versions.sort();
        for v in versions {
            for leaf in ["site-packages", "dist-packages"] {
                if v.join(leaf).is_dir() {
                    out.push(v.join(leaf));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: a pyenv shim (`~/.pyenv/shims/python3`, a script) stands for the version the
    /// task's folder selects; that interpreter is described, without running either.
    #[test]
    fn a_pyenv_shim_is_resolved_to_its_version() {
        if std::env::var_os("PYENV_VERSION").is_some() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pyenv");
        let bin = root.join("versions/3.9.18/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(root.join("versions/3.9.18/lib/python3.9/site-packages")).unwrap();
        std::fs::create_dir_all(root.join("shims")).unwrap();
        std::fs::write(bin.join("python3"), "").unwrap();
        std::fs::write(root.join("shims/python3"), "#!/bin/sh\nexit 1\n").unwrap();
        let base = tmp.path().join("exp");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join(".python-version"), "3.9.18\n").unwrap();
        let Probed::Value(py) = describe(&root.join("shims/python3"), &base) else {
            panic!("not described");
        };
        assert_eq!(py.executable, bin.join("python3").display().to_string());
        assert_eq!(py.version.as_deref(), Some("3.9.18"));
        assert_eq!(py.site_packages.len(), 1);
    }
}
