"""Checkpoints in the task's folder, written whole or not at all: a task killed mid-save (SIGKILL,
OOM, a node lost) leaves the previous checkpoint, never a torn one."""

import glob
import os
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Optional, Union

from . import _env
from ._report import LabtrailError

Writer = Callable[[IO[bytes]], object]


def _fsync_dir(folder: Path) -> None:
    # The rename is durable once the folder is synced; some filesystems refuse (EINVAL): the
    # rename is still atomic, which is what a crash of the task (not the machine) needs.
    try:
        fd = os.open(str(folder), os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: Path, data: Union[bytes, bytearray, memoryview, Writer]) -> None:
    """Write ``data`` (bytes, or a function that writes into the binary file it is given) to
    ``path``: into a temporary file beside it, fsync, ``os.replace``, fsync of the folder."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temp, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        # A failed save leaves the last good file and no temporary one behind.
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _checkpoint_path(name: str, call: str) -> Path:
    """The checkpoint ``name`` in the task folder: a relative path that stays inside it."""
    if not isinstance(name, str) or not name:
        raise LabtrailError(f"{call}(): the name must be a non-empty string, not {name!r}")
    parts = PurePosixPath(name).parts
    if "\0" in name or name.startswith("/") or ".." in parts or name.endswith("/"):
        raise LabtrailError(
            f"{call}(): the name {name!r} must be a file name or a relative path inside the "
            "task folder (no leading /, no .., no trailing /)"
        )
    return _env.task_dir().joinpath(*parts)


def save_checkpoint(data: Union[bytes, bytearray, memoryview, Writer], name: str) -> Path:
    """Save a checkpoint named ``name`` in ``task_dir()``, replacing the previous one whole.

    ``data`` is the bytes to save, or a function given the open binary file to write into::

        labtrail.save_checkpoint(json.dumps(state).encode(), "state.json")
        labtrail.save_checkpoint(lambda f: torch.save(model.state_dict(), f), "model.pt")

    The file is written under a temporary name in the same folder, synced, and renamed into
    place with ``os.replace``; a kill at any moment leaves the previous checkpoint. ``name`` may
    hold subfolders (``"ckpt/last.pt"``), created as needed. Returns the checkpoint's path.
    Outside labtrail the task folder is the current folder."""
    if not callable(data) and not isinstance(data, (bytes, bytearray, memoryview)):
        raise LabtrailError(
            f"save_checkpoint(): data must be bytes or a function that writes into a binary "
            f"file, not a {type(data).__name__} (for text: .encode(); for objects: pickle.dumps)"
        )
    path = _checkpoint_path(name, "save_checkpoint")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Temporary files of saves that were killed (another pid's name): never read, so removed.
    for stale in glob.glob(glob.escape(str(path.with_name(f".{path.name}.tmp-"))) + "*"):
        try:
            os.unlink(stale)
        except OSError:
            pass
    write_atomically(path, data)
    return path


def load_checkpoint(name: str) -> Optional[bytes]:
    """The bytes of the checkpoint ``name`` in ``task_dir()``, or None if there is none (a first
    attempt). A checkpoint is only ever there whole (see ``save_checkpoint``)."""
    path = _checkpoint_path(name, "load_checkpoint")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
