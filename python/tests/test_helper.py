"""The helper's calls, in a task's environment and outside labtrail: real files, and real
processes for the signals."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import labtrail


def test_outside_labtrail_nothing_is_written_and_defaults_are_local(outside):
    labtrail.log(step=1, loss=0.5)
    labtrail.result(val_acc=0.9)
    assert list(outside.iterdir()) == []
    assert not labtrail.active()
    assert labtrail.task_dir() == Path.cwd()
    assert labtrail.attempt() == 1
    assert labtrail.load_checkpoint("c.bin") is None
    labtrail.save_checkpoint(b"abc", "c.bin")
    assert (outside / "c.bin").read_bytes() == b"abc"
    # Mistakes show standalone too, before the script ever runs under labtrail.
    with pytest.raises(labtrail.LabtrailError, match="'bad' is a set"):
        labtrail.result(bad={1})


def test_identity_comes_from_the_environment(in_task):
    assert labtrail.active()
    assert labtrail.task_dir() == Path(in_task["LABTRAIL_TASK_DIR"])
    assert labtrail.attempt() == 3


def test_a_bad_attempt_variable_says_so(in_task, monkeypatch):
    monkeypatch.setenv("LABTRAIL_ATTEMPT", "three")
    with pytest.raises(labtrail.LabtrailError, match="LABTRAIL_ATTEMPT is 'three'"):
        labtrail.attempt()


def test_log_appends_one_line_per_call_at_once(in_task):
    path = Path(in_task["LABTRAIL_METRICS"])
    labtrail.log(step=1, loss=0.5)
    assert path.read_text() == '{"step":1,"loss":0.5}\n'  # no flush needed: written already
    labtrail.log({"val/loss": float("nan")}, step=2)
    labtrail.log()
    lines = path.read_text().splitlines()
    assert lines == ['{"step":1,"loss":0.5}', '{"val/loss":NaN,"step":2}']


def test_result_is_replaced_whole_with_python_non_finite_numbers(in_task):
    path = Path(in_task["LABTRAIL_RESULT"])
    labtrail.result(val_acc=0.1)
    labtrail.result(val_acc=0.93, loss=float("inf"), best=float("-inf"), nested={"a": [1, (2, 3)]})
    # Python's dialect, which labtrail stores as "Infinity" and "-Infinity" (protocol/output.rs).
    assert path.read_text() == (
        '{"val_acc":0.93,"loss":Infinity,"best":-Infinity,"nested":{"a":[1,[2,3]]}}'
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["k1-3.result.json", "task"]


class Scalar:
    """Stands in for a numpy scalar: plain Python through tolist()."""

    def tolist(self):
        return 0.25


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: labtrail.result(acc={1, 2}), r"result\(\): 'acc' is a set, which JSON cannot hold"),
        (lambda: labtrail.result(acc=[1, object()]), r"result\(\): 'acc'\[1\] is a object"),
        (lambda: labtrail.result({1.5: 2}), r"the key 1.5 \(float\) is not a string"),
        (lambda: labtrail.log(m={"x": {("a",): 1}}), r"'m'\['x'\] has the key \('a',\)"),
        (lambda: labtrail.log([1, 2]), "takes a dict or keyword arguments, not a list"),
        (lambda: labtrail.log(blob="x" * (1 << 20)), "over labtrail's limit of 1048576 bytes"),
    ],
)
def test_a_misuse_is_refused_with_a_message_naming_the_value(in_task, call, message):
    with pytest.raises(labtrail.LabtrailError, match=message):
        call()
    assert not Path(in_task["LABTRAIL_RESULT"]).exists()
    assert not Path(in_task["LABTRAIL_METRICS"]).exists()


def test_array_like_values_are_written_by_their_tolist(in_task):
    labtrail.result(acc=Scalar())
    assert Path(in_task["LABTRAIL_RESULT"]).read_text() == '{"acc":0.25}'


def test_checkpoints_are_saved_whole_and_loaded(in_task):
    task = Path(in_task["LABTRAIL_TASK_DIR"])
    assert labtrail.load_checkpoint("state.json") is None
    assert labtrail.save_checkpoint(b"one", "state.json") == task / "state.json"
    labtrail.save_checkpoint(lambda f: f.write(b"two"), "sub/model.pt")
    assert labtrail.load_checkpoint("state.json") == b"one"
    assert labtrail.load_checkpoint("sub/model.pt") == b"two"
    # A save killed before its rename left a temporary file: the next save removes it.
    (task / ".state.json.tmp-99999").write_bytes(b"torn")
    labtrail.save_checkpoint(b"three", "state.json")
    assert sorted(p.name for p in task.iterdir()) == ["state.json", "sub"]


def test_a_failing_writer_keeps_the_previous_checkpoint(in_task):
    labtrail.save_checkpoint(b"good", "c")

    def writer(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        labtrail.save_checkpoint(writer, "c")
    assert labtrail.load_checkpoint("c") == b"good"
    assert [p.name for p in labtrail.task_dir().iterdir()] == ["c"]


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../up", "a/../../b", "dir/"])
def test_a_checkpoint_name_outside_the_task_folder_is_refused(in_task, name):
    with pytest.raises(labtrail.LabtrailError, match="name"):
        labtrail.save_checkpoint(b"x", name)


def test_checkpoint_data_of_the_wrong_type_says_what_to_do(in_task):
    with pytest.raises(labtrail.LabtrailError, match=r"not a str \(for text: .encode\(\)"):
        labtrail.save_checkpoint("text", "c")  # type: ignore[arg-type]


SIGNAL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    seen = []
    signal.signal(signal.SIGUSR1, lambda s, f: seen.append(s))   # the user's own handler
    import labtrail
    assert not labtrail.stop_requested()
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    print(labtrail.stop_requested(), seen == [signal.SIGUSR1])
    """
)


@pytest.mark.parametrize("sig,chained", [("SIGTERM", "False"), ("SIGUSR1", "True")])
def test_a_signal_turns_stop_requested_true_and_the_users_handler_still_runs(sig, chained):
    out = subprocess.run(
        [sys.executable, "-c", SIGNAL_SCRIPT, sig], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", chained]


def test_stop_requested_from_a_thread_says_where_to_call_it():
    script = (
        "import threading, labtrail\n"
        "def f():\n"
        "    try: labtrail.stop_requested()\n"
        "    except labtrail.LabtrailError as e: print(e)\n"
        "t = threading.Thread(target=f); t.start(); t.join()\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "call labtrail.watch_signals() once from the main thread" in out.stdout, out.stderr


def test_the_package_is_typed():
    assert (Path(labtrail.__file__).parent / "py.typed").exists()
    for name in labtrail.__all__:
        assert getattr(labtrail, name).__doc__, name
