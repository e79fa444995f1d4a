"""Stop requests: labtrail sends SIGTERM to a task it stops (Ctrl+C, a timeout, `labtrail stop`);
SLURM sends SIGUSR1 ahead of a time limit when asked (`signal = "B:USR1@90"`). A task that
checks ``stop_requested()`` between steps can save its state and exit before SIGKILL."""

import signal
import threading
from types import FrameType
from typing import Any, Dict, Optional

from ._report import LabtrailError

_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
_requested = threading.Event()
_previous: Dict[int, Any] = {}


def _handler(signum: int, frame: Optional[FrameType]) -> None:
    _requested.set()
    # Chain to the handler that was there before ours: a user's own handler still runs. The
    # default action (terminate) is not chained: catching the signal is the point.
    previous = _previous.get(signum)
    if callable(previous):
        previous(signum, frame)


def watch_signals() -> None:
    """Catch SIGTERM and SIGUSR1 from now on, so that ``stop_requested()`` turns true instead
    of the process ending. ``stop_requested()`` calls it on its first call; call it earlier
    (from the main thread) to catch a signal that comes before. Handlers installed before are
    kept and still called (chained); calling it again does nothing."""
    if _previous:
        return
    if threading.current_thread() is not threading.main_thread():
        raise LabtrailError(
            "stop_requested() and watch_signals() install signal handlers, which Python allows "
            "only in the main thread: call labtrail.watch_signals() once from the main thread"
        )
    for signum in _SIGNALS:
        _previous[signum] = signal.signal(signum, _handler)


def stop_requested() -> bool:
    """True once SIGTERM or SIGUSR1 has arrived (since the first call, or since
    ``watch_signals()``): time to save a checkpoint and exit. labtrail records a task it stopped
    as interrupted, whatever its exit code, and runs it again on the next ``labtrail run``."""
    watch_signals()
    return _requested.is_set()
