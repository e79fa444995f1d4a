"""The installed wheel (scripts/test-python.sh installs it into a fresh venv and sets
LABTRAIL_WHEEL): its binary runs the demo, names its version and commit, and needs nothing past
glibc 2.17 and the manylinux2014 libraries."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import labtrail
from conftest import REPO

pytestmark = pytest.mark.skipif(
    not os.environ.get("LABTRAIL_WHEEL"), reason="needs the installed wheel (scripts/test-python.sh)"
)

# PEP 599's manylinux2014 libraries (auditwheel's policy), and the dynamic loader itself.
MANYLINUX2014 = {
    "libgcc_s.so.1", "libstdc++.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libc.so.6",
    "libnsl.so.1", "libutil.so.1", "libpthread.so.0", "libresolv.so.2", "libX11.so.6",
    "libXext.so.6", "libXrender.so.1", "libICE.so.6", "libSM.so.6", "libGL.so.1",
    "libgobject-2.0.so.0", "libgthread-2.0.so.0", "libglib-2.0.so.0",
    "ld-linux-x86-64.so.2",
}


def installed_binary() -> Path:
    found = shutil.which("labtrail")
    assert found and Path(found).parent == Path(sys.executable).parent, found
    return Path(found)


def test_the_venv_has_the_wheels_binary_and_helper():
    assert installed_binary().exists()
    assert Path(labtrail.__file__).is_relative_to(Path(sys.prefix)), labtrail.__file__


def test_version_names_the_version_and_commit():
    out = subprocess.run([installed_binary(), "--version"], capture_output=True, text=True)
    assert re.fullmatch(r"labtrail \d+\.\d+\.\d+ \(commit [0-9a-f]{12}\)\n", out.stdout), out


def test_no_glibc_symbol_newer_than_2_17():
    out = subprocess.run(["objdump", "-T", installed_binary()], capture_output=True, text=True,
                         check=True).stdout
    versions = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", out)}
    assert versions, out[:2000]
    assert max(versions) <= (2, 17), sorted(versions)[-5:]


def test_needed_libraries_are_in_the_manylinux2014_set():
    out = subprocess.run(["readelf", "-d", installed_binary()], capture_output=True, text=True,
                         check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out))
    assert needed and needed <= MANYLINUX2014, needed - MANYLINUX2014


def test_the_demo_runs_with_the_installed_binary_and_helper(tmp_path):
    demo = tmp_path / "demo"
    shutil.copytree(REPO / "examples" / "demo", demo, ignore=shutil.ignore_patterns(".labtrail"))
    # The venv's python first: the demo's tasks import the helper from the wheel.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    run = subprocess.run(["labtrail", "run", "experiment.toml"], cwd=demo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    logs = subprocess.run(["labtrail", "logs", "layers=all_layers,rep=spectral,seed=1"], cwd=demo,
                          env=env, capture_output=True, text=True)
    assert "reporting with the labtrail helper" in logs.stdout, logs.stdout + logs.stderr
    status = subprocess.run(["labtrail", "status"], cwd=demo, env=env, capture_output=True,
                            text=True)
    assert "10/10 done" in status.stdout, status.stdout
