//! Declared inputs (`inputs = ["train.py", "data/*.csv"]`): the files each stage's patterns match
//! and the digest of each file's content, which [`super::expand_with`] folds into task keys.
//!
//! A file is read only when it is new or its size, modification time or inode changed since it
//! was last hashed: the caller hands in what it remembers ([`CachedDigest`], kept by the store)
//! and gets back what it should remember, so a resume does not re-read a 10 GB dataset.

use super::input_files::{FindError, Finder};
use crate::spec::{Spec, SpecError};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Hex digits of an input digest (128 bits).
const DIGEST_LEN: usize = 32;

/// How old a file's modification time must be for its digest to be remembered (2 s: coarser
/// than the mtime granularity of every filesystem labtrail meets, NFS included).
const SETTLED_NS: i64 = 2_000_000_000;

/// A digest remembered for a file (the store keeps them).
pub use crate::store::InputDigestRow as CachedDigest;

/// The declared inputs of an experiment, found and hashed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// For each stage (in [`Spec::stages`] order): its files as `(path, digest)`, sorted by path.
    /// Paths are as matched, relative to the experiment file's folder when the pattern is.
    pub by_stage: Vec<Vec<(String, String)>>,
}

impl Inputs {
    /// Every file of every stage, with its digest, by path.
    pub fn files(&self) -> BTreeMap<String, String> {
        self.by_stage.iter().flatten().cloned().collect()
    }

    /// The stage's files and digests (none when the stage declares no inputs).
    pub fn of_stage(&self, stage: usize) -> &[(String, String)] {
        self.by_stage.get(stage).map_or(&[], Vec::as_slice)
    }

    /// As a run records them: a JSON object of stage name → (path → digest), stages that
    /// declare no inputs left out; `None` when no stage declares any.
    pub fn to_json(&self, spec: &Spec) -> Option<String> {
        let by_name: BTreeMap<&str, BTreeMap<&str, &str>> = spec
            .stages
            .iter()
            .zip(&self.by_stage)
            .filter(|(_, files)| !files.is_empty())
            .map(|(s, files)| {
                let files = files
                    .iter()
                    .map(|(p, d)| (p.as_str(), d.as_str()))
                    .collect();
                (s.name.as_str(), files)
            })
            .collect();
        (!by_name.is_empty()).then(|| serde_json::to_string(&by_name).expect("strings serialize"))
    }

    /// Inputs as [`Inputs::to_json`] recorded them, for `spec`'s stages (a stage the record
    /// does not name has none). `None` if the text is not such a record.
    pub fn from_json(spec: &Spec, json: &str) -> Option<Inputs> {
        let by_name: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_str(json).ok()?;
        let by_stage = spec
            .stages
            .iter()
            .map(|s| {
                by_name
                    .get(&s.name)
                    .map(|files| files.clone().into_iter().collect())
                    .unwrap_or_default()
            })
            .collect();
        Some(Inputs { by_stage })
    }
}

/// Finds the files of every stage's `inputs` (see [`super::input_files`]; `store` is the store
/// in use, never an input) and hashes those `cache` has no valid digest for. Returns the inputs
/// and the digests to remember (only the new or changed ones).
///
/// A pattern that matches nothing is an error: a declared input that is missing is a typo or a
/// file not made yet, and either way the key would not cover what the task reads. A folder
/// stands for every file under it.
pub fn resolve(
    spec: &Spec,
    cache: &HashMap<String, CachedDigest>,
    store: Option<&Path>,
) -> Result<(Inputs, Vec<CachedDigest>), SpecError> {
    let base = spec.base_dir();
    let mut finder = Finder::new(store);
    let mut by_pattern: HashMap<&str, Vec<(String, String)>> = HashMap::new();
    let mut fresh: Vec<CachedDigest> = Vec::new();
    let mut by_stage = Vec::with_capacity(spec.stages.len());
    for stage in &spec.stages {
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for pattern in &stage.inputs {
            if !by_pattern.contains_key(pattern.as_str()) {
                let found = hash_pattern(
                    spec,
                    &base,
                    pattern,
                    &stage.name,
                    &mut finder,
                    cache,
                    &mut fresh,
                )?;
                by_pattern.insert(pattern, found);
            }
            files.extend(by_pattern[pattern.as_str()].iter().cloned());
        }
        by_stage.push(files.into_iter().collect());
    }
    Ok((Inputs { by_stage }, fresh))
}

fn hash_pattern(
    spec: &Spec,
    base: &Path,
    pattern: &str,
    stage: &str,
    finder: &mut Finder,
    cache: &HashMap<String, CachedDigest>,
    fresh: &mut Vec<CachedDigest>,
) -> Result<Vec<(String, String)>, SpecError> {
    // Errors point at the entry in the file, where it can be found.
    let line_col = spec
        .source
        .find(&format!("\"{pattern}\""))
        .map(|at| crate::spec::line_col(&spec.source, at));
    let err = |message: String, help: &str| SpecError {
        path: spec.path.clone(),
        line_col,
        message,
        help: Some(help.to_string()),
    };
    let files = finder.files(base, pattern).map_err(|e| match e {
        FindError::Pattern(why) => err(format!("`inputs` entry `{pattern}`: {why}"), ""),
        FindError::CutShort(why) => err(
            format!("`inputs` entry `{pattern}`: {why} before it was done"),
            "start the pattern at the folder the inputs are in and avoid `**` over large trees or folders whose links multiply the paths below them; name folders, not every file",
        ),
        FindError::Path(path, why) => err(
            format!(
                "`inputs` entry `{pattern}`: cannot read {}: {why}",
                path.display()
            ),
            "inputs are regular files and folders that labtrail can read; fix or remove the entry",
        ),
    })?;
    if files.is_empty() {
        let folder = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        return Err(if finder.left_out_store {
            err(
                format!("`inputs` entry `{pattern}` (stage `{stage}`) names only files in a labtrail store, which is never an input"),
                "to read what an upstream task wrote, use $LABTRAIL_UPSTREAM_<STAGE> (see the README's Stages)",
            )
        } else {
            err(
                format!("`inputs` entry `{pattern}` (stage `{stage}`) matches no file in {}", folder.display()),
                "patterns are relative to the experiment file's folder; fix the pattern or create the file, or remove it from `inputs`",
            )
        });
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let digest = digest_of(&f, cache, fresh).map_err(|e| {
            err(
                format!("`inputs`: cannot read {}: {e}", f.display()),
                "inputs are regular files and folders that labtrail can read; fix or remove the entry",
            )
        })?;
        let shown = f.strip_prefix(base).unwrap_or(&f);
        out.push((shown.to_string_lossy().into_owned(), digest));
    }
    Ok(out)
}

/// The file's digest: the remembered one if size, mtime and inode still match, else read.
fn digest_of(
    path: &Path,
    cache: &HashMap<String, CachedDigest>,
    fresh: &mut Vec<CachedDigest>,
) -> std::io::Result<String> {
    let key = std::path::absolute(path)?.to_string_lossy().into_owned();
    let meta = std::fs::metadata(path)?;
    let (size, mtime_ns, inode) = (
        meta.size() as i64,
        meta.mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.mtime_nsec()),
        meta.ino() as i64,
    );
    if let Some(c) = cache.get(&key) {
        if (c.size, c.mtime_ns, c.inode) == (size, mtime_ns, inode) {
            return Ok(c.digest.clone());
        }
    }
    let mut h = blake3::Hasher::new();
    h.update_reader(std::fs::File::open(path)?)?;
    let digest = h.finalize().to_hex()[..DIGEST_LEN].to_string();
    // A file written in the last moments may be written again within the same mtime tick with
    // the same size; its digest is not remembered until its mtime is safely in the past.
    let settled = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
        .saturating_sub(mtime_ns)
        > SETTLED_NS;
    if settled {
        fresh.push(CachedDigest {
            path: key,
            size,
            mtime_ns,
            inode,
            digest: digest.clone(),
        });
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &Path) -> Spec {
        let text = "[experiment]\nname = \"i\"\ncommand = \"true\"\ninputs = [\"data\"]\n";
        Spec::parse(&dir.join("exp.toml"), text.into()).unwrap()
    }

    /// Sets the file's modification time `secs` seconds in the past.
    fn age(path: &Path, secs: u64) {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    /// Issue 9: a file whose size, mtime and inode match what is remembered is not read again
    /// (the remembered digest is used as is); a changed one is.
    #[test]
    fn remembered_digests_spare_reading_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/sub")).unwrap();
        let file = dir.path().join("data/sub/x.bin");
        std::fs::write(&file, b"one").unwrap();
        age(&file, 60);
        let spec = spec(dir.path());
        let (first, fresh) = resolve(&spec, &HashMap::new(), None).unwrap();
        assert_eq!(
            fresh.len(),
            1,
            "a settled file's digest is to be remembered"
        );
        assert_eq!(
            first.of_stage(0)[0].0,
            "data/sub/x.bin",
            "a folder stands for its files"
        );

        // Remembered with a digest no content has: used, so the file was not read.
        let mut cache: HashMap<String, CachedDigest> = HashMap::new();
        let mut fake = fresh[0].clone();
        fake.digest = "remembered".into();
        cache.insert(fake.path.clone(), fake);
        let (again, fresh) = resolve(&spec, &cache, None).unwrap();
        assert_eq!(again.of_stage(0)[0].1, "remembered");
        assert!(fresh.is_empty());

        // Same size, other content and mtime: read again.
        std::fs::write(&file, b"two").unwrap();
        age(&file, 30);
        let (changed, fresh) = resolve(&spec, &cache, None).unwrap();
        assert_ne!(changed.of_stage(0)[0].1, "remembered");
        assert_ne!(changed.of_stage(0)[0].1, first.of_stage(0)[0].1);
        assert_eq!(fresh.len(), 1);
    }

    /// Issue 9: `inputs = ["."]` covers the experiment's files, not the store next to them,
    /// which every run changes.
    #[test]
    fn the_store_is_never_an_input() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/.labtrail/runs")).unwrap();
        std::fs::write(dir.path().join("data/.labtrail/labtrail.db"), b"db").unwrap();
        std::fs::write(dir.path().join("data/x"), b"x").unwrap();
        let (inputs, _) = resolve(&spec(dir.path()), &HashMap::new(), None).unwrap();
        let files: Vec<&str> = inputs.of_stage(0).iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(files, ["data/x"]);
    }

    /// A file modified a moment ago could change again within the same mtime tick, size kept:
    /// its digest is not remembered until it has settled.
    #[test]
    fn a_file_just_written_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/x"), b"now").unwrap();
        let (_, fresh) = resolve(&spec(dir.path()), &HashMap::new(), None).unwrap();
        assert!(fresh.is_empty());
    }

    /// What a run records reads back as the same inputs, stage by stage.
    #[test]
    fn recorded_inputs_read_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/x"), b"x").unwrap();
        let spec = spec(dir.path());
        let (inputs, _) = resolve(&spec, &HashMap::new(), None).unwrap();
        let json = inputs.to_json(&spec).unwrap();
        assert_eq!(Inputs::from_json(&spec, &json), Some(inputs));
        assert_eq!(Inputs::default().to_json(&spec), None);
    }
}
