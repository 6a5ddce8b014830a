"""Every benchmark under benchmarks/ runs for a few seconds with tiny arguments, so that none rots: the
numbers are not checked (machines differ), the script must finish and print its table."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
SMOKE = {  # script: (tiny arguments, a line its table must print)
    "bench_import.py": (["--records", "40"], "records/s"),
    "bench_overlap.py": (["--pairs", "2"], "kornia + torch, plain"),
    "bench_pasta.py": (["--repeats", "1", "--configs", "tiny"], "tower f+b ms"),
    "bench_pasta_memory.py": (["--config", "tiny"], "KB/patch/block"),
    "bench_render.py": (["--views", "10", "--samples", "20", "--workers", "1"], "views/s"),
    "bench_rewards.py": (["--completions", "50"], "format + action + answer reward"),
}


def test_every_benchmark_has_a_smoke_run():
    assert {p.name for p in BENCHMARKS.glob("bench_*.py")} == set(SMOKE)


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_benchmark_smoke_run(script):
    args, expected = SMOKE[script]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout, done.stdout
