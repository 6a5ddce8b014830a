"""One writer per folder: a second process is refused with the holder named, a dead holder's lock is taken
over, other ranks take no lock."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import hatchvl
from hatchvl.lock import LOCK_NAME, FolderLocked, folder_lock

HOLD = """
import sys
from hatchvl.lock import folder_lock
with folder_lock(sys.argv[1], "run directory"):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def test_a_second_process_is_refused_naming_the_holder_until_it_ends(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(hatchvl.__file__).parents[1]), "RANK": "0"}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderLocked, match=rf"run directory {tmp_path} is in use by pid {holder.pid} on host "
                                               rf"{socket.gethostname()}"), folder_lock(tmp_path, "run directory"):
            pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert not (tmp_path / LOCK_NAME).exists()  # released on exit
    with folder_lock(tmp_path, "run directory"):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
        with folder_lock(tmp_path, "run directory"):  # the same process again: goes on
            pass
        assert (tmp_path / LOCK_NAME).exists()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_line(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(gone.stdout)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "since": "then"}))
    lines = []
    with folder_lock(tmp_path, "stage folder", log=lines.append):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert lines == [f"stage folder {tmp_path}: taking over the lock of pid {pid}, which no longer runs"]


def test_a_lock_from_another_host_is_never_taken(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": "then"}))
    with pytest.raises(FolderLocked, match="in use by pid 1 on host elsewhere since then; .* delete"):
        with folder_lock(tmp_path):
            pass


def test_only_rank_zero_takes_the_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    with folder_lock(tmp_path / "stage"):
        assert not (tmp_path / "stage" / LOCK_NAME).exists()
