"""File helpers every layer writes and reads with: atomic writes, JSON files, RGB images.

The lowest module of hatchvl: it imports nothing from the package, so any module may use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from PIL import Image

TEMP_MARK = ".tmp"  # atomic_write's temp file of NAME: .NAME.tmp<pid>


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write bytes so that path holds either its old content or all of data: temp file, then os.replace."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def is_temp_file(name: str) -> bool:
    """Whether a file name is an atomic write's temp file (left behind by a process killed mid-write)."""
    stem, mark, pid = name.rpartition(TEMP_MARK)
    return name.startswith(".") and len(stem) > 1 and bool(mark) and pid.isdigit()


def write_json(path: str | Path, obj) -> None:
    """Write obj as indented JSON (values JSON cannot hold written as str) with a trailing newline,
    atomically; the parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def read_json(path: str | Path) -> dict | None:
    """The JSON value of a file, or None when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def checked_jsonl(text: str, check: Callable[[object], str | None]) -> Iterator[tuple[int, object, str | None]]:
    """(line number, record, problem) for each non-blank line of a JSONL text: problem is "not valid JSON
    (...)" or what check(record) says of a parsed record (None: good). The caller decides what a problem
    costs (an error naming the line, or a listed skip)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            yield number, None, f"not valid JSON ({err})"
        else:
            yield number, record, check(record)


def open_rgb(source: str | Path | BinaryIO) -> Image.Image:
    """An RGB PIL image of an image file (a path or an open binary file), fully read: the file it opens is
    closed before returning."""
    with Image.open(source) as image:
        rgb = image.convert("RGB")
        rgb.load()
    return rgb
