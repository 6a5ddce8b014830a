"""Import throughput and memory, and overlap matrices per second at ScanNet depth resolution.

1. A SPAR-7M-RGBD tree of N records (default 20,000; 2-3 views each, markers on about half) over a few
   scenes of small frames (colour 96x72, depth 64x48, as tests/data/real_layouts.py writes them) is
   imported with `import_spar` in a child process; prints records per second and the child's peak
   resident memory. The same import of N/4 records shows whether memory grows with the record count.
2. `symmetric_overlaps` on synthetic 640x480 depth maps (ScanNet's depth size), batches of 16 pairs:
   S matrices (each two directed M) per second.

Usage: python benchmarks/bench_import.py [--records 20000] [--workers 1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fixture writers live in tests/

from tests.data.real_layouts import render_frames, spar_record, write_spar_jsonl, write_spar_scene  # noqa: E402

from hatchvl.data.importers.spar import import_spar  # noqa: E402
from hatchvl.data.synthetic.render import render  # noqa: E402
from hatchvl.data.synthetic.scene import make_scene, sample_cameras  # noqa: E402
from hatchvl.geometry.camera import intrinsics_from_fov  # noqa: E402
from hatchvl.geometry.overlap import symmetric_overlaps  # noqa: E402

SCENES, FRAMES = 4, 10
TASKS = ("depth_prediction_oc_mv", "obj_spatial_relation_oo_mv", "view_change_infer", "camera_motion_infer")


def write_tree(root: Path, records: int) -> None:
    rng = np.random.default_rng(0)
    stems = {}
    for k in range(SCENES):
        frames = render_frames(k, FRAMES)
        write_spar_scene(root, "scannet", f"scene{k:04d}_00", frames)
        stems[f"scene{k:04d}_00"] = [f.stem for f in frames]
    by_task = {t: [] for t in TASKS}
    for i in range(records):
        task = TASKS[i % len(TASKS)]
        scene = f"scene{rng.integers(SCENES):04d}_00"
        views = list(rng.choice(stems[scene], size=int(rng.integers(2, 4)), replace=False))
        if task == "depth_prediction_oc_mv":
            rec = spar_record(i, task, scene, views, "Depth of the points?", f"{rng.uniform(1, 4):.2f}",
                              red_point=[[500, 500]], blue_point=[[300, 600]], point_img_idx=[[0, 1]])
        elif task == "obj_spatial_relation_oo_mv":
            rec = spar_record(i, task, scene, views, "Where?\nA. left\nB. right\nC. above\nD. below", "C",
                              placeholders=False, red_bbox=[[100, 100, 400, 500]], green_bbox=[[500, 200, 700, 600]],
                              bbox_img_idx=[[0, 1]])
        elif task == "view_change_infer":
            rec = spar_record(i, task, scene, views, "How did the camera move?", "move_left:0.4,rotate_right:20")
        else:
            rec = spar_record(i, task, scene, views, "How did it move?\nA. a\nB. b\nC. c\nD. d", "A")
        by_task[task].append(rec)
    for task, recs in by_task.items():
        write_spar_jsonl(root, "scannet", "train", task, "fill", recs)


def _child(root: str, out: str, workers: int, queue) -> None:
    start = time.perf_counter()
    report = import_spar(root, out, sources=["scannet"], workers=workers, progress=False)
    seconds = time.perf_counter() - start
    usage = (resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    peak = max(usage)
    queue.put((report["records"], sum(report["samples"].values()), seconds, peak / 1024))


def run_import(root: Path, out: Path, workers: int) -> tuple[int, int, float, float]:
    """(records, samples, seconds, peak MiB of one process) of an import in a fresh process."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(str(root), str(out), workers, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def overlap_rate(pairs: int = 16, repeats: int = 3) -> float:
    rng = np.random.default_rng(0)
    scene = make_scene(rng)
    K = intrinsics_from_fov(480, 640, 58.0)  # ScanNet's depth camera: about 58 degrees wide
    views = [render(scene, K, c2w, 480, 640) for c2w in sample_cameras(scene, rng, 4)]
    a, b = np.array([0, 0, 0, 1, 1, 2] * 3)[:pairs], np.array([1, 2, 3, 2, 3, 3] * 3)[:pairs]
    depth = np.stack([v.depth for v in views])
    c2w = np.stack([v.c2w for v in views])
    Ks = np.stack([K] * pairs)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        symmetric_overlaps(depth[a], Ks, c2w[a], depth[b], Ks, c2w[b])
        best = min(best, time.perf_counter() - start)
    return pairs / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.records // 4, args.records):
            root = Path(tmp) / f"spar{n}"
            write_tree(root, n)
            records, samples, seconds, peak = run_import(root, Path(tmp) / f"out{n}", args.workers)
            rows.append((f"import-spar {records} records ({samples} samples), {args.workers} worker(s)",
                         f"{records / seconds:,.0f} records/s", f"{seconds:.1f} s", f"peak {peak:,.0f} MiB"))
    rate = overlap_rate()
    rows.append(("symmetric_overlaps 640x480, grid 4, batch 16", f"{rate:.1f} S/s", f"{1000 / rate:.0f} ms/pair", ""))
    width = [max(len(r[k]) for r in rows) for k in range(4)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, width, strict=True)))


if __name__ == "__main__":
    main()
