"""SIGKILL a `hatchvl` command at a chosen point, without test hooks in hatchvl itself.

    python tests/faults/_killer.py EVENT:TARGET:N -- hatchvl ARGS...

runs the command in this process with a few library functions wrapped, so that the process kills itself
(SIGKILL: no cleanup, no `finally`, no atexit) at the N-th (1-based) event matching TARGET:

    close       a file Python opened for writing by path is closed: its bytes are first cut to half (a file
                half written: `io.atomic_write`'s temp file, trainer_state.json, config.json, a scene's PNG)
    tensors     safetensors wrote a file (any `save_file`): cut to half
    torch_save  `torch.save` wrote a file (optimizer.pt, rng_state.pth): cut to half
    append      `os.write` to a regular file (predictions.jsonl): half of the bytes are written
    rename      `os.replace` / `os.rename` to a destination: killed before it
    call        TARGET is `module:qualname` of a function: killed before its call

A TARGET glob is matched (fnmatch, `*` crosses folders) against the absolute path. `none` instead of a
point runs the command as it is; `trace` runs it and prints every event (`@@ EVENT PATH`) on stderr: the
material for kill points.
`fork_run` runs the command the same way in a forked child of a process that has imported hatchvl and its
libraries already, so that a kill point costs a fork, not a Python start.
"""

from __future__ import annotations

import builtins
import fnmatch
import importlib
import io
import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

EVENTS = ("close", "tensors", "torch_save", "append", "rename", "call")
KILLED = "killed"
TRACE_MARK = "@@"


@dataclass(frozen=True)
class KillPoint:
    event: str
    target: str
    nth: int = 1

    def __post_init__(self) -> None:
        if self.event not in EVENTS or self.nth < 1:
            raise ValueError(f"bad kill point {self}: the event is one of {', '.join(EVENTS)}, N >= 1")

    def __str__(self) -> str:
        return f"{self.event}:{self.target}:{self.nth}"

    @classmethod
    def parse(cls, text: str) -> KillPoint:
        event, _, rest = text.partition(":")
        target, _, nth = rest.rpartition(":")
        return cls(event, target, int(nth))


def _cut_to_half(path: str) -> None:
    os.truncate(path, os.path.getsize(path) // 2)


class _Hooks:
    """The wrappers of one process: `seen(event, path)` counts matching events and dies at the point."""

    def __init__(self, point: KillPoint | None, trace: bool):
        self.point, self.trace, self.count = point, trace, 0

    def wants(self, event: str) -> bool:
        return self.trace or (self.point is not None and self.point.event == event)

    def seen(self, event: str, path: str, before_death: Callable[[], object] | None = None) -> None:
        if self.trace:
            print(f"\n{TRACE_MARK} {event} {path}", file=sys.stderr, flush=True)
        point = self.point
        if point is None or event != point.event or not fnmatch.fnmatchcase(path, point.target):
            return
        self.count += 1
        if self.count == point.nth:
            if before_death is not None:
                before_death()
            os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        if self.wants("close"):
            self._open()
        if self.wants("tensors"):
            self._safetensors()
        if self.wants("torch_save"):
            self._torch_save()
        if self.wants("append"):
            self._write()
        if self.wants("rename"):
            self._rename()
        if self.point is not None and self.point.event == "call":
            self._call(self.point.target)

    def _open(self) -> None:
        real_open, hooks = builtins.open, self

        class Watched:
            """A file opened for writing whose close is an event (only matching files get one)."""

            def __init__(self, f, path: str):
                self._f, self._path = f, path

            def __getattr__(self, name):
                return getattr(self._f, name)

            def __iter__(self):
                return iter(self._f)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.close()

            def close(self):
                if not self._f.closed:
                    self._f.flush()
                    hooks.seen("close", self._path, lambda: _cut_to_half(self._path))
                self._f.close()

        def watched_open(file, mode="r", *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
                path = os.path.abspath(os.fspath(file))
                if self.trace or fnmatch.fnmatchcase(path, self.point.target):
                    return Watched(f, path)
            return f

        builtins.open = io.open = watched_open  # pathlib's write_bytes / write_text open through io.open

    def _safetensors(self) -> None:
        import safetensors.torch

        real = safetensors.torch.serialize_file  # what every save_file writes with

        def serialize_file(tensors, filename, *args, **kwargs):
            result = real(tensors, filename, *args, **kwargs)
            path = os.path.abspath(os.fspath(filename))
            self.seen("tensors", path, lambda: _cut_to_half(path))
            return result

        safetensors.torch.serialize_file = serialize_file

    def _torch_save(self) -> None:
        import torch

        real = torch.save

        def save(obj, f, *args, **kwargs):
            result = real(obj, f, *args, **kwargs)
            if isinstance(f, (str, os.PathLike)):
                path = os.path.abspath(os.fspath(f))
                self.seen("torch_save", path, lambda: _cut_to_half(path))
            return result

        torch.save = save

    def _write(self) -> None:
        real = os.write

        def write(fd, data):
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                return real(fd, data)
            if os.path.isfile(path):
                self.seen("append", path, lambda: real(fd, bytes(data)[: len(data) // 2]))
            return real(fd, data)

        os.write = write

    def _rename(self) -> None:
        def wrap(real):
            def rename(src, dst, **kwargs):
                self.seen("rename", os.path.abspath(os.fspath(dst)))
                return real(src, dst, **kwargs)
            return rename

        os.replace, os.rename = wrap(os.replace), wrap(os.rename)  # Path.rename / replace call these

    def _call(self, target: str) -> None:
        module_name, _, qualname = target.partition(":")
        owner = importlib.import_module(module_name)
        *parents, name = qualname.split(".")
        for part in parents:
            owner = getattr(owner, part)
        real = getattr(owner, name)

        def wrapper(*args, **kwargs):
            self.seen("call", target)
            return real(*args, **kwargs)

        setattr(owner, name, wrapper)


def install(point: KillPoint | None, trace: bool = False) -> None:
    """Wrap this process's writes so that it SIGKILLs itself at `point` (module docstring)."""
    _Hooks(point, trace).install()


def run_cli(args: list[str]) -> int:
    """Run `hatchvl ARGS` in this process; its exit code."""
    from hatchvl.cli.main import app

    try:
        app(args, prog_name="hatchvl")
    except SystemExit as end:
        return end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
    return 0


def fork_run(point: KillPoint | None, args: list[str], log: Path, setup: Callable[[], object] | None = None,
             trace: bool = False, timeout_s: int = 300) -> tuple[str | int, int]:
    """Run `hatchvl ARGS` in a forked child (after `setup()`, killed at `point` if given, tracing if asked),
    its output appended to `log`. Returns (KILLED when it died of SIGKILL, else its exit code; its pid).
    A child still running after timeout_s dies of SIGALRM, raised here as an AssertionError."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child never returns into the caller
        code = 1
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(timeout_s)
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 (for the child's whole life)
            sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
            print(f"\n== [pid {os.getpid()}, kill point {point}] hatchvl {' '.join(args)}", flush=True)
            _one_thread()
            if setup is not None:
                setup()
            install(point, trace)
            code = run_cli(args)
        except BaseException:  # noqa: BLE001 (it goes to the log, the exit code says it)
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        assert sig != signal.SIGALRM, f"hatchvl {' '.join(args)} still ran after {timeout_s} s (log: {log})"
        return (KILLED if sig == signal.SIGKILL else -sig), pid
    return os.WEXITSTATUS(status), pid


def _one_thread() -> None:
    """A forked child computes with one torch thread, as every run it is compared with, and no tokenizer
    threads (a fork after they ran would warn)."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1:3] != ["--", "hatchvl"]:
        print(__doc__, file=sys.stderr)
        return 2
    spec, args = argv[0], argv[3:]
    if spec != "none":
        install(None, trace=True) if spec == "trace" else install(KillPoint.parse(spec))
    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
