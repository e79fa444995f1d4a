"""What a task reports: metric lines (``log``) and its result (``result``), as JSON that labtrail
reads (src/protocol/output.rs). Values are checked before anything is written, inside labtrail or
not, so that a mistake shows on the first standalone run with a message naming the value."""

import json
import os
from typing import Any, Dict, Mapping, Optional, Tuple

from . import _env

# labtrail's limits (src/protocol/output.rs): a longer metric line is skipped, a larger result
# fails the attempt. Refusing here says why at the call, not in a warning after the run.
METRICS_LINE_LIMIT = 1 << 20
RESULT_LIMIT = 16 << 20
_MAX_DEPTH = 64


class LabtrailError(ValueError):
    """A call of the labtrail helper that cannot be carried out; the message says which value
    or which setting is wrong."""


def _plain(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` as plain JSON types, or LabtrailError naming ``where`` it went wrong.

    NaN and infinities stay floats: Python writes them as ``NaN``, ``Infinity``, ``-Infinity``,
    which labtrail reads and stores as the strings "NaN", "Infinity", "-Infinity"."""
    if depth > _MAX_DEPTH:
        raise LabtrailError(f"{where} is nested more than {_MAX_DEPTH} deep (a cycle?)")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise LabtrailError(
                    f"{where} has the key {key!r} ({type(key).__name__}), not a string"
                )
            out[key] = _plain(item, f"{where}[{key!r}]", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    # numpy and torch scalars and arrays, without importing either: .tolist() gives plain types.
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            converted = tolist()
        except Exception as e:  # a foreign object's failure, reported as ours
            raise LabtrailError(f"{where}: {type(value).__name__}.tolist() failed: {e}") from None
        if converted is not value:
            return _plain(converted, where, depth + 1)
    raise LabtrailError(
        f"{where} is a {_type_name(value)}, which JSON cannot "
        "hold: pass a number, string, bool, None, list or dict (convert it, e.g. float(x))"
    )


def _type_name(value: Any) -> str:
    module = type(value).__module__
    name = type(value).__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def _values(call: str, values: Optional[Mapping[str, Any]], named: Dict[str, Any]) -> Dict[str, Any]:
    """The mapping and the keyword arguments of a call, merged and checked."""
    merged: Dict[str, Any] = {}
    if values is not None:
        if not isinstance(values, Mapping):
            raise LabtrailError(
                f"{call}() takes a dict or keyword arguments, not a {type(values).__name__}"
            )
        merged.update(values)
    merged.update(named)
    for key in merged:
        if not isinstance(key, str):
            raise LabtrailError(f"{call}(): the key {key!r} ({type(key).__name__}) is not a string")
    return {key: _plain(item, f"{call}(): {key!r}") for key, item in merged.items()}


def _encode(data: Dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=True)


# The open metrics file: (path, pid, fd). One open per process, not per line; a forked child
# opens its own (it may outlive the parent's descriptor).
_metrics: Optional[Tuple[str, int, int]] = None


def _metrics_fd(path: str) -> int:
    global _metrics
    if _metrics is not None and _metrics[0] == path and _metrics[1] == os.getpid():
        return _metrics[2]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    _metrics = (path, os.getpid(), fd)
    return fd


def log(values: Optional[Mapping[str, Any]] = None, /, **metrics: Any) -> None:
    """Append one line of metrics to ``$LABTRAIL_METRICS``: ``log(step=100, loss=0.31)``, or
    ``log({"val/loss": 0.3})`` for keys that are not Python names.

    The line is written with one ``write`` call of an append-only file, so it reaches the file
    at once (no buffer to flush) and is never interleaved with another writer's line. Values:
    numbers (NaN and infinities included), strings, bools, None, lists, dicts, and numpy or torch
    scalars and arrays (by their ``tolist()``). Anything else raises LabtrailError naming it.
    Outside labtrail the values are checked and nothing is written. An empty call writes
    nothing."""
    data = _values("log", values, metrics)
    if not data:
        return
    line = (_encode(data) + "\n").encode()
    if len(line) > METRICS_LINE_LIMIT:
        raise LabtrailError(
            f"log(): the line is {len(line)} bytes, over labtrail's limit of "
            f"{METRICS_LINE_LIMIT} bytes per line: write large data to a file in task_dir()"
        )
    path = _env.metrics_path()
    if path is None:
        return
    fd = _metrics_fd(str(path))
    view = memoryview(line)
    while view:
        view = view[os.write(fd, view) :]


def result(values: Optional[Mapping[str, Any]] = None, /, **named: Any) -> None:
    """Write the task's result to ``$LABTRAIL_RESULT``: ``result(val_acc=0.93, loss=0.2)``.

    Each call writes the whole result, replacing what an earlier call wrote. The file is written
    under a temporary name, synced and renamed into place, so labtrail never reads half of it,
    even if the task is killed meanwhile. Values as for ``log``; NaN and infinities are written
    the way Python's json writes them, which labtrail stores as the strings "NaN", "Infinity"
    and "-Infinity" (``float(v)`` gives the number back). Outside labtrail the values are
    checked and nothing is written."""
    data = _values("result", values, named)
    text = _encode(data).encode()
    if len(text) > RESULT_LIMIT:
        raise LabtrailError(
            f"result(): {len(text)} bytes, over labtrail's limit of {RESULT_LIMIT} bytes: write "
            "large outputs to files in task_dir() and put their paths in the result"
        )
    path = _env.result_path()
    if path is None:
        return
    from ._checkpoint import write_atomically

    write_atomically(path, text)
