"""Helpers for a Python task run by labtrail; pure Python, no dependencies.

labtrail hands each task its identity and its files in ``LABTRAIL_*`` environment variables and
reads back a JSON result and a JSON-lines metric stream (README, "The task protocol"). These
functions speak that protocol, so a task needs neither the variable names nor the file formats::

    import labtrail

    state = labtrail.load_checkpoint("state.json")      # None on a first attempt
    for step in range(start, 1000):
        if labtrail.stop_requested():                   # SIGTERM (Ctrl+C, timeout) or SIGUSR1
            labtrail.save_checkpoint(encode(state), "state.json")
            raise SystemExit(1)                          # labtrail runs the task again later
        labtrail.log(step=step, loss=loss)
    labtrail.result(val_acc=0.93)

Outside labtrail (no ``LABTRAIL_*`` variables) the same script runs as it is: ``log`` and
``result`` check their values and write nothing, ``task_dir`` is the current folder and
``attempt`` is 1. See docs/python.md for the reference.
"""

from ._checkpoint import load_checkpoint, save_checkpoint
from ._env import active, attempt, task_dir
from ._report import LabtrailError, log, result
from ._signals import stop_requested, watch_signals

__all__ = [
    "LabtrailError",
    "active",
    "attempt",
    "load_checkpoint",
    "log",
    "result",
    "save_checkpoint",
    "stop_requested",
    "task_dir",
    "watch_signals",
]
