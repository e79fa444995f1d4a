//! Issue 12: what `labtrail run` captures at run start, through the real binary and real files:
//! a partial `provenance` record before the first task, a sealed one after; the tasks' Python
//! and packages read from a venv or conda layout without starting it; the environment by
//! allowlist with secrets redacted; and a capture that fails everywhere never fails the run.

mod common;

use common::Exp;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The run's `provenance` records, oldest first.
fn provenance(exp: &Exp) -> Vec<Value> {
    exp.column::<String>("SELECT json FROM records WHERE kind = 'provenance' ORDER BY id")
        .iter()
        .map(|j| serde_json::from_str(j).unwrap())
        .collect()
}

fn sealed(exp: &Exp) -> Value {
    let all = provenance(exp);
    assert_eq!(all.len(), 2, "a partial and a sealed record: {all:?}");
    let cost = exp.column::<String>("SELECT json FROM records WHERE kind = 'capture_cost'");
    assert_eq!(cost.len(), 1, "sealed once");
    all.last().unwrap().clone()
}

fn mkdirs(root: &Path, dirs: &[&str]) {
    for d in dirs {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Two tasks, each waiting (60 s at most) until the capture is sealed: what the records hold
/// then does not depend on how busy the machine is.
const TWO_TASKS: &str = r#"[experiment]
name = "cap"
command = ": {x}; for i in $(seq 600); do sqlite3 \"$LABTRAIL_STORE/labtrail.db\" \"SELECT 1 FROM records WHERE kind = 'capture_cost'\" | grep -q 1 && exit 0; sleep 0.1; done; exit 1"
[params]
x = [1, 2]
"#;

/// Issue 12: a real run leaves a partial record (written before the first task, slow probes
/// listed) and a sealed one; data is snapshotted with lines and blake3 per file; GPUs without a
/// driver are `n/a (no NVIDIA driver)`.
#[test]
fn a_run_records_partial_then_sealed_provenance() {
    let exp = Exp::new(&format!(
        "{TWO_TASKS}[archive]\ndata = [\"data/*.jsonl\"]\n"
    ));
    mkdirs(exp.path(), &["data"]);
    exp.write("data/a.jsonl", "{}\n{}\n");
    exp.write("data/b.jsonl", "{}\n");
    exp.run_ok(&["run", "exp.toml"]);
    assert_eq!(exp.count("done"), 2);
    let all = provenance(&exp);
    let first = &all[0];
    assert!(
        first["partial"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "data"),
        "the first record is written before the data is hashed: {first}"
    );
    let p = sealed(&exp);
    assert_eq!(p["partial"], serde_json::json!([]), "{p}");
    assert!(p["host"]["value"]["cpus"].as_u64().unwrap() >= 1);
    let data = &p["data"][0];
    assert_eq!(
        (data["files"].as_u64(), data["lines"].as_u64()),
        (Some(2), Some(3))
    );
    let a = &data["per_file"][0];
    assert_eq!(a["path"], "data/a.jsonl");
    assert_eq!(a["blake3"], blake3::hash(b"{}\n{}\n").to_hex().to_string());
    if !Path::new("/proc/driver/nvidia").exists() {
        assert_eq!(p["gpus"], serde_json::json!({"na": "no NVIDIA driver"}));
    }
}

/// Issue 12: `[archive] python` names an interpreter in a venv: its version comes from
/// `pyvenv.cfg`, its packages from dist-info / egg-info names and an egg-link, an editable
/// install resolves to its git commit, and chosen packages absent are `not installed`. The
/// "interpreter" is a script that fails if started: nothing starts it.
#[test]
fn python_and_packages_of_a_venv_without_starting_it() {
    let exp = Exp::new(&format!(
        "{TWO_TASKS}[archive]\npython = \"venv/bin/python3\"\npackages = [\"torch\", \"megatron-core\", \"apex\", \"vllm\"]\n"
    ));
    let root = exp.path();
    let site = "venv/lib/python3.10/site-packages";
    mkdirs(
        root,
        &[
            "venv/bin",
            &format!("{site}/torch-2.3.1.dist-info"),
            &format!("{site}/Transformer_Engine-1.5.0.dist-info"),
            &format!("{site}/megatron_core-0.8.0.dist-info"),
            &format!("{site}/oldpkg-0.9-py3.10.egg-info"),
            &format!("{site}/devpkg.egg-info"),
            "src/megatron",
            "src/apex/apex.egg-info",
        ],
    );
    exp.write_executable("venv/bin/python3", "#!/bin/sh\ntouch started\nexit 1\n");
    exp.write(
        "venv/pyvenv.cfg",
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.10.12\n",
    );
    exp.write(
        &format!("{site}/devpkg.egg-info/PKG-INFO"),
        "Metadata-Version: 2.1\nName: devpkg\nVersion: 0.0.3\n",
    );
    // An editable install (PEP 660) of a git checkout, and a legacy `setup.py develop` one.
    let megatron = root.join("src/megatron");
    std::fs::write(megatron.join("setup.py"), "").unwrap();
    git(&megatron, &["init", "-q"]);
    git(&megatron, &["add", "."]);
    git(&megatron, &["commit", "-qm", "one"]);
    let commit = git(&megatron, &["rev-parse", "HEAD"]);
    exp.write(
        &format!("{site}/megatron_core-0.8.0.dist-info/direct_url.json"),
        &format!(
            r#"{{"url": "file://{}", "dir_info": {{"editable": true}}}}"#,
            megatron.display()
        ),
    );
    let apex = root.join("src/apex");
    exp.write(
        "src/apex/apex.egg-info/PKG-INFO",
        "Name: apex\nVersion: 0.1\n",
    );
    git(&apex, &["init", "-q"]);
    git(&apex, &["add", "."]);
    git(&apex, &["commit", "-qm", "one"]);
    let apex_commit = git(&apex, &["rev-parse", "HEAD"]);
    exp.write(
        &format!("{site}/apex.egg-link"),
        &format!("{}\n.\n", apex.display()),
    );

    exp.run_ok(&["run", "exp.toml"]);
    let p = sealed(&exp);
    assert!(
        !root.join("started").exists(),
        "the interpreter was started"
    );
    let py = &p["python"]["value"];
    assert!(
        py["executable"]
            .as_str()
            .unwrap()
            .ends_with("venv/bin/python3"),
        "{py}"
    );
    assert_eq!(py["version"], "3.10.12");
    assert!(py["venv"].as_str().unwrap().ends_with("venv"));
    let pk = &p["packages"]["value"];
    let found: Vec<(String, String, Value)> = pk["all"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().into(),
                x["version"].as_str().unwrap().into(),
                x["commit"].clone(),
            )
        })
        .collect();
    let get = |n: &str| {
        found
            .iter()
            .find(|f| f.0 == n)
            .unwrap_or_else(|| panic!("{n} in {found:?}"))
            .clone()
    };
    assert_eq!(get("torch").1, "2.3.1");
    assert_eq!(get("transformer-engine").1, "1.5.0");
    assert_eq!(get("oldpkg").1, "0.9");
    assert_eq!(get("devpkg").1, "0.0.3");
    assert_eq!(get("megatron-core").2, Value::String(commit.clone()));
    assert_eq!(
        (get("apex").1, get("apex").2),
        ("0.1".to_string(), Value::String(apex_commit))
    );
    let chosen: Vec<String> = pk["chosen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}={}",
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(chosen[0], "torch=2.3.1");
    assert_eq!(chosen[1], format!("megatron-core=0.8.0+{}", &commit[..12]));
    assert_eq!(chosen[3], "vllm=not installed");
}

/// Issue 12: a conda environment: its name, Python version and packages from `conda-meta`.
#[test]
fn conda_environment_from_conda_meta() {
    let exp = Exp::new(&format!(
        "{TWO_TASKS}[archive]\npython = \"conda/envs/ml/bin/python\"\n"
    ));
    let env = "conda/envs/ml";
    mkdirs(
        exp.path(),
        &[
            &format!("{env}/bin"),
            &format!("{env}/conda-meta"),
            &format!("{env}/lib/python3.11/site-packages/numpy-1.26.0.dist-info"),
        ],
    );
    exp.write_executable(&format!("{env}/bin/python"), "#!/bin/sh\nexit 1\n");
    exp.write(
        &format!("{env}/conda-meta/python-3.11.4-h955ad1f_0.json"),
        "{}",
    );
    exp.write(&format!("{env}/conda-meta/cuda-nvcc-12.1.105-0.json"), "{}");
    exp.write(&format!("{env}/conda-meta/numpy-1.25.0-py311_0.json"), "{}");
    exp.run_ok(&["run", "exp.toml"]);
    let p = sealed(&exp);
    let py = &p["python"]["value"];
    assert_eq!(py["version"], "3.11.4");
    assert!(
        py["conda_env"].as_str().unwrap().starts_with("ml ("),
        "{py}"
    );
    let all = p["packages"]["value"]["all"].as_array().unwrap();
    let src = |n: &str| {
        all.iter()
            .find(|x| x["name"] == n)
            .map(|x| (x["version"].clone(), x["source"].clone()))
    };
    assert_eq!(src("cuda-nvcc"), Some(("12.1.105".into(), "conda".into())));
    // The dist-info Python imports wins over conda's own record.
    assert_eq!(src("numpy"), Some(("1.26.0".into(), "dist-info".into())));
}

/// Issue 12: a canary value in a secret-looking variable, allowlisted (`CUDA_*`) or not, is in
/// no byte of the store; the allowlisted name is listed as redacted.
#[test]
fn secrets_in_the_environment_never_reach_the_store() {
    let canary = "hf_canaryCANARY0123456789abcdef";
    let exp = Exp::new(TWO_TASKS);
    let out = exp
        .cmd(&["run", "exp.toml"])
        .env("MY_API_TOKEN", canary)
        .env("CUDA_FAKE_KEY", canary)
        .env("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
        .output()
        .unwrap();
    assert!(out.status.success());
    let p = sealed(&exp);
    assert_eq!(p["env"]["vars"]["CUDA_FAKE_KEY"], "<redacted>");
    assert_eq!(p["env"]["vars"]["CUDA_DEVICE_ORDER"], "PCI_BUS_ID");
    assert!(p["env"]["vars"].get("MY_API_TOKEN").is_none());
    assert!(p["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["what"] == "CUDA_FAKE_KEY"));
    for entry in std::fs::read_dir(exp.path().join(".labtrail")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let hit = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
            assert!(!hit, "canary in {}", path.display());
        }
    }
}

/// Issue 12: with no git and no Python on the PATH, a configured interpreter that does not
/// exist and a data file that cannot be read, the tasks run all the same and the record says
/// why each probe has no answer.
#[test]
fn capture_failing_everywhere_still_runs_the_tasks() {
    let exp = Exp::new(&format!(
        "{TWO_TASKS}[archive]\npython = \"/nonexistent/bin/python3\"\ndata = [\"data/*\"]\n"
    ));
    mkdirs(exp.path(), &["data", "bin"]);
    exp.write("data/ok.txt", "x\n");
    std::os::unix::fs::symlink(exp.path().join("gone"), exp.path().join("data/broken.txt"))
        .unwrap();
    // The tasks' tools, and no git, python or python3.
    for tool in ["sqlite3", "seq", "grep", "sleep"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let target = String::from_utf8(found.stdout).unwrap();
        std::os::unix::fs::symlink(target.trim(), exp.path().join("bin").join(tool)).unwrap();
    }
    let out = exp
        .cmd(&["run", "exp.toml"])
        .env("PATH", exp.path().join("bin"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(exp.count("done"), 2);
    let p = sealed(&exp);
    assert!(
        p["python"]["na"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{p}"
    );
    assert!(p["packages"]["na"].is_string());
    let data = &p["data"][0];
    assert_eq!(data["files"], 1);
    assert!(
        data["partial"]
            .as_str()
            .unwrap()
            .contains("1 unreadable: data/broken.txt"),
        "{data}"
    );
}

/// Issue 12: `[archive] capture = false` captures nothing.
#[test]
fn capture_false_records_nothing() {
    let exp = Exp::new(
        "[experiment]\nname = \"off\"\ncommand = \"echo {x}\"\n[params]\nx = [1, 2]\n[archive]\ncapture = false\n",
    );
    exp.run_ok(&["run", "exp.toml"]);
    assert_eq!(exp.count("done"), 2);
    assert!(provenance(&exp).is_empty());
}
