"""Benchmark: PaStA overlap matrices for 480x640 depth pairs, grid 4, on one core.

Prints pairs per second and memory per pair for hatchvl's batched fast path, and the same matrices
computed the straightforward way with kornia (unproject, transform, project, gather, bincount in torch),
with the ratio of the two and the largest difference between their results.

    python benchmarks/bench_overlap.py [--pairs 64]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, before numpy and torch start their pools
import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hatchvl.geometry.camera import intrinsics_from_fov, pose_from_heading, relative_pose  # noqa: E402
from hatchvl.geometry.overlap import overlap_matrices  # noqa: E402

H, W, GRID = 480, 640, 4


def make_pairs(count: int, seed: int = 0):
    """Pairs of views of a 6 x 5 x 3 m room (exact ray-cast depth with 5% holes), 0.2-1 m and up to
    40 degrees apart."""
    rng = np.random.default_rng(seed)
    K = intrinsics_from_fov(H, W, 65.0)
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    lo, hi = np.zeros(3), np.array([6.0, 5.0, 3.0])

    def depth(c2w):
        dirs = rays @ c2w[:3, :3].T
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dirs > 0, (hi - c2w[:3, 3]) / dirs, (lo - c2w[:3, 3]) / dirs)
        d = np.where(np.isfinite(t) & (t > 0), t, np.inf).min(-1).astype(np.float32)
        d[rng.random(d.shape) < 0.05] = 0.0
        return d

    xs, ys = [], []
    for _ in range(count):
        yaw = rng.uniform(-180, 180)
        a = pose_from_heading([rng.uniform(2, 4), rng.uniform(1.5, 3.5), rng.uniform(1.3, 1.7)], yaw)
        b = pose_from_heading(a[:3, 3] + rng.uniform(-0.6, 0.6, 3) * [1, 1, 0.2], yaw + rng.uniform(-40, 40))
        xs.append((depth(a), K, a))
        ys.append((depth(b), K, b))
    stack = lambda views, k: np.stack([view[k] for view in views])  # noqa: E731
    return [stack(xs, k) for k in range(3)] + [stack(ys, k) for k in range(3)]


def kornia_overlap(depth_x, K_x, c2w_x, depth_y, K_y, c2w_y, grid=GRID, tol_abs=0.02, tol_rel=0.05):
    """The same matrices, written plainly with kornia's camera functions and torch (float32)."""
    import kornia.geometry as kg

    out = []
    for k in range(depth_x.shape[0]):
        dx = torch.from_numpy(depth_x[k])[None]
        dy = torch.from_numpy(depth_y[k])
        Kx = torch.from_numpy(K_x[k]).float()[None]
        Ky = torch.from_numpy(K_y[k]).float()[None]
        T = torch.from_numpy(relative_pose(c2w_x[k], c2w_y[k])).float()[None]
        points = kg.depth.depth_to_3d_v2(dx, Kx)[0].reshape(-1, 3)
        points_y = kg.linalg.transform_points(T, points[None])[0]
        uv = kg.camera.project_points(points_y, Ky.expand(points_y.shape[0], 3, 3))
        col, row = torch.floor(uv[:, 0] + 0.5), torch.floor(uv[:, 1] + 0.5)
        z, zy = dx[0].reshape(-1), points_y[:, 2]
        hy, wy = dy.shape
        ok = (z > 0) & torch.isfinite(z) & (zy > 0) & (col >= 0) & (col < wy) & (row >= 0) & (row < hy)
        flat = torch.where(ok, row * wy + col, torch.zeros_like(row)).long()
        d = dy.reshape(-1)[flat]
        ok &= (d > 0) & torch.isfinite(d) & ((zy - d).abs() <= torch.clamp(tol_rel * d, min=tol_abs))
        h, w = dx.shape[1:]
        vv, uu = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        src = ((vv * grid // h) * grid + uu * grid // w).reshape(-1)
        dst = (row.long() * grid // hy) * grid + col.long() * grid // wy
        counts = torch.bincount((src * grid * grid + dst)[ok], minlength=grid**4).reshape(grid**2, grid**2)
        out.append((counts / torch.bincount(src, minlength=grid**2)[:, None]).double().numpy())
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=64, help="pairs per timed batch (default 64)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    torch.set_num_threads(1)
    inputs = make_pairs(args.pairs)

    overlap_matrices(*[a[:2] for a in inputs])  # warm-up
    start = time.perf_counter()
    ours = overlap_matrices(*inputs)
    ours_s = time.perf_counter() - start
    tracemalloc.start()  # a second, untimed run: tracing slows allocation
    overlap_matrices(*inputs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    kornia_overlap(*[a[:2] for a in inputs])
    start = time.perf_counter()
    theirs = kornia_overlap(*inputs)
    theirs_s = time.perf_counter() - start

    pixels = H * W / GRID**2
    diff_px = np.abs(ours - theirs).max() * pixels
    rate, base = args.pairs / ours_s, args.pairs / theirs_s
    print(f"overlap matrices, {H}x{W} depth, grid {GRID}, {args.pairs} pairs, one core")
    print(f"{'what':<28}{'pairs/s':>10}{'ms/pair':>10}{'ratio':>8}")
    print(f"{'hatchvl overlap_matrices':<28}{rate:>10.1f}{1e3 / rate:>10.2f}{rate / base:>8.2f}")
    print(f"{'kornia + torch, plain':<28}{base:>10.1f}{1e3 / base:>10.2f}{1.0:>8.2f}")
    print(f"peak memory of the batched call: {peak / 2**20:.1f} MiB in all, {peak / 2**20 / args.pairs:.2f} MiB "
          f"per pair (inputs excluded; the workspace is shared by the batch)")
    print(f"largest difference between the two: {diff_px:.1f} pixel(s) of one cell; "
          f"mean row mass {ours.sum(-1).mean():.3f}")
    print("targets: >= 300 pairs/s per core, >= 2x the kornia version")


if __name__ == "__main__":
    main()
