"""The fault-injection harness: a command, its uninterrupted reference run, kill chains and sweeps.

A *chain* runs the command killed at point 1, runs it again killed at point 2, ..., then lets it finish;
every point must be reached (the run dies of SIGKILL there), the last run must succeed, and its output
folder must equal the reference's (compare.py). Every attempt, the reference included, writes to the same
folder path (outputs record their paths); the reference is moved aside after its run.

The *seeded sweep* takes kill points from the reference's own events (every file it wrote, traced by
_killer.py): a seeded sample of HATCHVL_FAULT_SWEEP of them per command (default 1), or every one with
HATCHVL_FAULT_SWEEP=all; each point kills a fresh run, which is then finished and compared.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults._killer import KILLED, TRACE_MARK, KillPoint, fork_run
from tests.faults.compare import differences

KILLER = Path(__file__).with_name("_killer.py")
RUN = "{run}"  # stands for the output folder in a command's arguments


def sweep_size() -> int | None:
    """Kill points per command in the seeded sweep (None: all)."""
    value = os.environ.get("HATCHVL_FAULT_SWEEP", "1")
    return None if value == "all" else int(value)


def sweep_seed() -> int:
    return int(os.environ.get("HATCHVL_FAULT_SEED", "0"))


def sweep_id(name: str) -> str:
    """A sweep test's name: what it kills, with which seed, at how many points."""
    size = sweep_size()
    return f"{name}: {'every write' if size is None else f'{size} seeded write(s), seed {sweep_seed()}'}"


@dataclass
class Faulty:
    """A command under fault injection. `args` holds RUN where its output folder goes; `setup` runs in
    every forked attempt first (test-side settings, never a kill); `spawn` runs each attempt as
    `python _killer.py` (a real Python start, no setup) instead of a fork."""

    name: str
    args: list[str]
    base: Path
    setup: Callable[[], object] | None = None
    spawn: bool = False
    events: list[tuple[str, str]] = field(default_factory=list)  # (event, path) of the reference, in order

    @property
    def run(self) -> Path:
        return self.base / "run"

    @property
    def reference(self) -> Path:
        return self.base / "reference"

    @property
    def log(self) -> Path:
        return self.base / "log.txt"

    def argv(self) -> list[str]:
        return [a.replace(RUN, str(self.run)) for a in self.args]

    def attempt(self, point: KillPoint | None, trace: bool = False, setup: Callable[[], object] | None = None
                ) -> tuple[str | int, int]:
        """One run of the command (killed at point): (KILLED or its exit code, its pid)."""
        if not self.spawn:
            return fork_run(point, self.argv(), self.log, setup or self.setup, trace)
        with open(self.log, "a") as log:
            log.write(f"\n== [kill point {point}] hatchvl {' '.join(self.argv())}\n")
            log.flush()
            spec = "trace" if trace else str(point or "none")
            child = subprocess.Popen([sys.executable, str(KILLER), spec, "--", "hatchvl", *self.argv()], stdout=log,
                                     stderr=log, env={**os.environ, "OMP_NUM_THREADS": "1"})
            code = child.wait(timeout=300)
        return (KILLED if code == -9 else code), child.pid

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").replace("\r", "\n") if self.log.exists() else ""
        kept = [line for line in text.splitlines() if line.strip() and TRACE_MARK not in line]
        return "\n".join(kept[-lines:])

    def make_reference(self) -> None:
        """The uninterrupted run, traced; moved to `reference`."""
        outcome, _ = self.attempt(None, trace=True)
        assert outcome == 0, f"the uninterrupted {self.name} failed:\n{self.tail()}"
        lines = self.log.read_text(errors="replace").replace("\r", "\n").splitlines()
        marks = [line.split(" ", 2)[1:] for line in lines if line.startswith(TRACE_MARK + " ")]
        root = str(self.run) + os.sep
        self.events = [(event, path) for event, path in marks if path.startswith(root)]
        self.run.rename(self.reference)

    def chain(self, points: list[KillPoint], setup: Callable[[], object] | None = None) -> set[int]:
        """Kill at each point in turn, then finish (`setup` instead of the command's own); the pids of the
        killed processes."""
        shutil.rmtree(self.run, ignore_errors=True)
        killed = set()
        for point in points:
            outcome, pid = self.attempt(point, setup=setup)
            assert outcome == KILLED, f"{self.name}: kill point {point} not reached (exit {outcome}):\n{self.tail()}"
            killed.add(pid)
        outcome, _ = self.attempt(None, setup=setup)
        assert outcome == 0, f"{self.name}: the run after kills at {[str(p) for p in points]} failed:\n{self.tail()}"
        return killed

    def check_chain(self, points: list[KillPoint], setup: Callable[[], object] | None = None) -> set[int]:
        """chain(), then the resumed folder must equal the reference."""
        killed = self.chain(points, setup)
        problems = differences(self.reference, self.run, killed)
        assert not problems, f"{self.name} after kills at {[str(p) for p in points]}:\n" + "\n".join(problems[:20])
        return killed

    def sweep_points(self) -> list[KillPoint]:
        """Kill points at the reference's own events (a seeded sample, or all): each names the path with its
        writer's pid as `*` and counts its matches up to that event, so a fresh run dies exactly there."""
        points = []
        for index, (event, path) in enumerate(self.events):
            target = re.sub(r"\.tmp\d+$", ".tmp*", glob.escape(path))  # the writer's pid
            nth = sum(1 for e, p in self.events[: index + 1] if e == event and fnmatch.fnmatchcase(p, target))
            points.append(KillPoint(event, target, nth))
        size = sweep_size()
        if size is None or size >= len(points):
            return points
        return sorted(random.Random(sweep_seed()).sample(points, size), key=points.index)

    def check_sweep(self) -> list[KillPoint]:
        """Each sweep point as a chain of one; every failure is listed."""
        points = self.sweep_points()
        print(f"{self.name}: {len(points)} kill points (seed {sweep_seed()}) of the {len(self.events)} writes of the "
              "uninterrupted run")
        failures = []
        for point in points:
            try:
                self.check_chain([point])
            except AssertionError as err:
                failures.append(f"{point}: {err}")
        assert not failures, f"{len(failures)} of {len(points)} kill points failed:\n" + "\n\n".join(failures)
        return points


def points(*specs: str) -> list[KillPoint]:
    return [KillPoint.parse(s) for s in specs]


def chain_id(chain: list[KillPoint]) -> str:
    return " > ".join(str(p).replace("*/", "") for p in chain)
