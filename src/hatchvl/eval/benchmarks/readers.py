"""`read_benchmark(name, path)`: the reader of each benchmark behind one call (docs/evaluation.md lists
what each expects on disk). Everything is read from a local path; nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

from hatchvl.eval.benchmarks.items import SPAR_MV_TASKS, SPAR_SI_TASKS, Benchmark, check_bench
from hatchvl.eval.benchmarks.mindcube import read_mindcube
from hatchvl.eval.benchmarks.mmsi import read_mmsi
from hatchvl.eval.benchmarks.spar import read_spar
from hatchvl.eval.benchmarks.synthetic import read_synthetic


def read_benchmark(name: str, path: str | Path, images: bool = True) -> Benchmark:
    """Read benchmark `name` from path. images=False leaves the images unread (enough to rescore).

    Raises ValueError for an unknown name or bad content (naming the file, line or item),
    FileNotFoundError when path does not exist.
    """
    check_bench(name)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{name}: data path {path} does not exist")
    if name == "spar-mv":
        return read_spar(path, name, SPAR_MV_TASKS, images)
    if name == "spar-si":
        return read_spar(path, name, SPAR_SI_TASKS, images)
    if name == "mindcube-tiny":
        return read_mindcube(path, images)
    if name == "mmsi":
        return read_mmsi(path, images)
    return read_synthetic(path, images)
