"""The task's identity, from the variables labtrail sets (src/protocol.rs); local defaults
outside labtrail, so that one script runs both ways."""

import os
from pathlib import Path
from typing import Optional

RESULT = "LABTRAIL_RESULT"
METRICS = "LABTRAIL_METRICS"
TASK_DIR = "LABTRAIL_TASK_DIR"
ATTEMPT = "LABTRAIL_ATTEMPT"
TASK_KEY = "LABTRAIL_TASK_KEY"


def _var(name: str) -> Optional[str]:
    # An empty value counts as unset: `LABTRAIL_RESULT= python3 train.py` runs standalone.
    value = os.environ.get(name)
    return value if value else None


def active() -> bool:
    """Whether this process runs as a labtrail task (labtrail set ``LABTRAIL_TASK_KEY``)."""
    return _var(TASK_KEY) is not None


def task_dir() -> Path:
    """The task's own folder, ``$LABTRAIL_TASK_DIR``: kept across attempts, for checkpoints and
    large outputs. Outside labtrail: the current folder."""
    value = _var(TASK_DIR)
    return Path(value) if value is not None else Path.cwd()


def attempt() -> int:
    """This attempt's number, from 1, counted across runs of the same task
    (``$LABTRAIL_ATTEMPT``). Outside labtrail: 1."""
    value = _var(ATTEMPT)
    if value is None:
        return 1
    try:
        return int(value)
    except ValueError:
        from ._report import LabtrailError

        raise LabtrailError(f"${ATTEMPT} is {value!r}, not a number") from None


def result_path() -> Optional[Path]:
    """Where the result goes (``$LABTRAIL_RESULT``), or None outside labtrail."""
    value = _var(RESULT)
    return Path(value) if value is not None else None


def metrics_path() -> Optional[Path]:
    """Where metric lines go (``$LABTRAIL_METRICS``), or None outside labtrail."""
    value = _var(METRICS)
    return Path(value) if value is not None else None
