"""One writer per folder: a run directory or a stage folder is locked while a process writes into it.

`folder_lock(folder)` creates `folder/.hatchvl.lock` atomically (O_EXCL), holding the pid, the host and the
start time, and removes it on exit. A second process gets a clear error naming the holder. A lock left by
a process that no longer exists on this host is taken over, with one line saying so (a lock from another
host is never guessed about: the error says which file to remove). Under torchrun or accelerate only
rank 0 (`RANK`) takes the lock; the other ranks write nothing that could collide. The same process taking
the same folder again (a pipeline calling a stage) just goes on.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".hatchvl.lock"


class FolderLocked(ValueError):
    """Another live process holds the folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _holder(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # written this very moment, or garbage: treat as held by an unknown process
        return {"pid": None, "host": None, "since": "?"}
    return holder if isinstance(holder, dict) else {"pid": None, "host": None, "since": "?"}


@contextmanager
def folder_lock(folder: str | Path, what: str = "folder", log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold `folder` (created if needed) for this process while the block runs (module docstring)."""
    if os.environ.get("RANK", "0") != "0":
        yield
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is None:
                continue  # released between our two looks
            if holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
                yield  # this process holds it already
                return
            pid = holder.get("pid")
            if holder.get("host") == me["host"] and isinstance(pid, int) and not _alive(pid):
                log(f"{what} {folder}: taking over the lock of pid {pid}, which no longer runs")
                path.unlink(missing_ok=True)
                continue
            raise FolderLocked(f"{what} {folder} is in use by pid {pid} on host {holder.get('host')} since "
                               f"{holder.get('since')}; wait for that run to end, or delete {path} if it is "
                               "gone") from None
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me))
        break
    try:
        yield
    finally:
        if _holder(path) == me:
            path.unlink(missing_ok=True)
