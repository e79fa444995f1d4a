"""A real `labtrail run` whose Python task uses the helper: killed with its runner, it resumes
from its checkpoint when the same command runs again; stopped by Ctrl+C, it sees
stop_requested() turn true and saves before it exits."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TASK = '''
import json, os, sys, time
import labtrail
saved = labtrail.load_checkpoint("state.json")
start = json.loads(saved)["step"] if saved else 0
(labtrail.task_dir() / f"pid-{labtrail.attempt()}").write_text(str(os.getpid()))
step = start
while step < 30:
    if labtrail.stop_requested():
        (labtrail.task_dir() / "stopped").write_text(str(step))
        sys.exit(1)
    step += 1
    time.sleep(0.1)
    labtrail.log(step=step, loss=1 / step)
    labtrail.save_checkpoint(json.dumps({"step": step}).encode(), "state.json")
labtrail.result(steps=step, resumed_from=start, attempt=labtrail.attempt(), nan=float("nan"))
'''

EXPERIMENT = """
[experiment]
name = "helper"
command = "{python} task.py {{seed}}"
[params]
seed = [1]
[run]
workers = 1
retries = 0
grace = "20s"
"""


def experiment(tmp_path: Path) -> Path:
    (tmp_path / "task.py").write_text(TASK)
    exp = tmp_path / "exp.toml"
    exp.write_text(EXPERIMENT.format(python=sys.executable))
    return exp


def wait_for(what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def task_folder(tmp_path: Path) -> Path:
    """The one task's folder, once its first checkpoint is there (a few steps in)."""
    found = list(tmp_path.glob(".labtrail/**/state.json"))
    return found[0].parent if found else None


def step_in(folder: Path) -> int:
    try:
        return json.loads((folder / "state.json").read_text())["step"]
    except (OSError, ValueError):
        return 0


def results(labtrail_bin: str, exp: Path) -> list:
    out = subprocess.run(
        [labtrail_bin, "results", str(exp), "--format", "jsonl"],
        capture_output=True, text=True, check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_a_task_killed_with_its_runner_resumes_from_its_checkpoint(tmp_path, labtrail_bin):
    exp = experiment(tmp_path)
    runner = subprocess.Popen([labtrail_bin, "run", str(exp)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    folder = wait_for(lambda: task_folder(tmp_path))
    wait_for(lambda: step_in(folder) >= 5)
    # As a crash or a reboot would: the runner and its task die at once, without warning.
    runner.kill()
    os.kill(int((folder / "pid-1").read_text()), signal.SIGKILL)
    runner.wait()
    killed_at = step_in(folder)
    assert 5 <= killed_at < 30
    again = subprocess.run([labtrail_bin, "run", str(exp)], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    [row] = results(labtrail_bin, exp)
    assert row["result"]["steps"] == 30
    assert row["result"]["attempt"] == 2
    assert row["result"]["resumed_from"] == killed_at  # the last checkpoint, whole
    assert row["result"]["nan"] == "NaN"  # Python's NaN, stored as labtrail stores it


def test_ctrl_c_reaches_the_task_as_a_stop_request(tmp_path, labtrail_bin):
    exp = experiment(tmp_path)
    runner = subprocess.Popen([labtrail_bin, "run", str(exp)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    folder = wait_for(lambda: task_folder(tmp_path))
    wait_for(lambda: step_in(folder) >= 3)
    runner.send_signal(signal.SIGINT)  # Ctrl+C: labtrail sends the task SIGTERM
    _, err = runner.communicate(timeout=60)
    stopped_at = int(wait_for(lambda: (folder / "stopped").exists() and
                              (folder / "stopped").read_text()))
    assert 3 <= stopped_at < 30, err
    assert step_in(folder) == stopped_at  # saved before it exited
    again = subprocess.run([labtrail_bin, "run", str(exp)], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    [row] = results(labtrail_bin, exp)
    assert row["result"]["resumed_from"] == stopped_at
