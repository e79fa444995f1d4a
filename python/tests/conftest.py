"""Shared by the helper's tests: where the labtrail binary is, and a task environment."""

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def labtrail_bin() -> str:
    """The labtrail binary: $LABTRAIL_BIN, else the one on PATH (the wheel's, in
    scripts/test-python.sh's venv)."""
    found = os.environ.get("LABTRAIL_BIN") or shutil.which("labtrail")
    assert found, "no labtrail binary: set LABTRAIL_BIN or put one on PATH"
    return found


@pytest.fixture
def in_task(tmp_path, monkeypatch):
    """A labtrail task's environment in tmp_path: its folder, result and metrics files."""
    task = tmp_path / "task"
    task.mkdir()
    env = {
        "LABTRAIL_TASK_KEY": "k1",
        "LABTRAIL_TASK_DIR": str(task),
        "LABTRAIL_ATTEMPT": "3",
        "LABTRAIL_RESULT": str(tmp_path / "k1-3.result.json"),
        "LABTRAIL_METRICS": str(tmp_path / "k1-3.metrics.jsonl"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def outside(tmp_path, monkeypatch):
    """No LABTRAIL_* variable, in an empty current folder."""
    for k in list(os.environ):
        if k.startswith("LABTRAIL_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)
    return tmp_path
