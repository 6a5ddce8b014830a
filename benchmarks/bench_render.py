"""Benchmark: the synthetic renderer (views per second at 224x224 on one core) and `data synth` of
1,000 samples with 2-4 views on two cores, each against its target.

    python benchmarks/bench_render.py [--views 120] [--samples 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from hatchvl.data.synthetic.render import Photometric, render
from hatchvl.data.synthetic.scene import make_scene, sample_cameras
from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.geometry.camera import intrinsics_from_fov

SIZE = 224


def time_synth(samples: int, workers: int) -> tuple[float, int, float]:
    """(seconds, samples written, dataset megabytes) for a fresh dataset of `samples` samples."""
    config = SynthConfig(scenes=samples // 10, seed=0, views=(2, 4), size=SIZE, samples_per_scene=10)
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        counts = synthesize(root, config, workers=workers)
        seconds = time.perf_counter() - start
        megabytes = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file()) / 2**20
    return seconds, sum(counts.values()), megabytes


def time_render(views: int) -> float:
    """Seconds to render `views` views of fresh rooms at SIZE x SIZE (scene and camera making excluded)."""
    K = intrinsics_from_fov(SIZE, SIZE, 75.0)
    jobs = []
    for seed in range(views // 10):
        rng = np.random.default_rng(seed)
        scene = make_scene(rng)
        jobs += [(scene, c2w, Photometric.sample(rng)) for c2w in sample_cameras(scene, rng, 10)]
    start = time.perf_counter()
    for scene, c2w, photometric in jobs:
        render(scene, K, c2w, SIZE, SIZE, photometric)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--views", type=int, default=120)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    synth_s, written, megabytes = time_synth(args.samples, args.workers)  # before pinning: workers inherit it
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    views = args.views // 10 * 10
    render_s = time_render(views)

    print(f"synthetic renderer and data synth, {SIZE}x{SIZE} images")
    print(f"{'what':<44}{'size':>18}{'seconds':>10}{'rate':>16}{'target':>14}")
    print(f"{'render (RGB, depth, ids), one core':<44}{f'{views} views':>18}{render_s:>10.2f}"
          f"{f'{views / render_s:.1f} views/s':>16}{'>= 30 views/s':>14}")
    print(f"{f'data synth, 2-4 views, {args.workers} workers':<44}{f'{written} samples':>18}{synth_s:>10.1f}"
          f"{f'{written / synth_s:.1f} samples/s':>16}{'< 300 s':>14}")
    print(f"dataset on disk: {megabytes:.0f} MB ({megabytes / max(written, 1) * 1024:.0f} kB per sample)")


if __name__ == "__main__":
    main()
