"""PaStA supervision: the patch-level overlap matrices between two views (docs/pasta.md, "The objective", 1-4).

For an ordered pair (X, Y) and grid n, every pixel of X with a valid depth is back-projected, moved into
Y's camera and projected with K_Y. It *lands* when z_Y > 0, it falls inside Y (pixel
(floor(v' + 1/2), floor(u' + 1/2))), Y's depth there is valid, and
|z_Y - D_Y| <= max(tol_abs, tol_rel * D_Y). Then

    M_X->Y[i, j] = (pixels of cell i of X landing in cell j of Y) / (all pixels of cell i of X)
    S = (M_X->Y + M_Y->X^T) / 2.

The maths is written for speed: with A = K_Y R K_X^-1 and b = K_Y t (T_y<-x = [R t]), the homogeneous
projection of pixel (u, v) with depth z is q = z * A (u, v, 1)^T + b, and A (u, v, 1)^T is separable in
u and v, so each pair costs a handful of vectorised passes over its pixels, in float32.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from hatchvl.geometry.camera import (
    cell_of_pixels,
    check_depth,
    check_intrinsics,
    check_pose,
    relative_pose,
)
from hatchvl.geometry.motion import all_pairs


def _check_tolerances(grid: int, tol_abs: float, tol_rel: float) -> None:
    if not isinstance(grid, (int, np.integer)) or grid < 1:
        raise ValueError(f"grid must be an integer >= 1, got {grid!r}")
    if not (np.isfinite(tol_abs) and tol_abs >= 0):
        raise ValueError(f"tol_abs must be finite and >= 0 metres, got {tol_abs}")
    if not (np.isfinite(tol_rel) and tol_rel >= 0):
        raise ValueError(f"tol_rel must be finite and >= 0, got {tol_rel}")


def _check_stack(depth, K, c2w, suffix: str, batched: bool):
    name_d, name_k, name_p = f"depth_{suffix}", f"K_{suffix}", f"c2w_{suffix}"
    depth = check_depth(depth, name_d)
    want = 3 if batched else 2
    if depth.ndim != want:
        shape = "(B, H, W)" if batched else "(H, W)"
        raise ValueError(f"{name_d} must have shape {shape}, got {depth.shape}")
    K = check_intrinsics(K, name_k)
    c2w = check_pose(c2w, name_p)
    lead = depth.shape[:-2]
    if K.shape[:-2] != lead or c2w.shape[:-2] != lead:
        raise ValueError(
            f"{name_k} {K.shape} and {name_p} {c2w.shape} must match the leading shape of {name_d} {depth.shape}"
        )
    return depth, K, c2w


class _Workspace:
    """Buffers for one X size, reused across the pairs of a batch: fresh multi-MB arrays per pass cost
    more in page faults than the arithmetic itself."""

    def __init__(self, height: int, width: int):
        shape = (height, width)
        self.qx, self.qy, self.qz, self.tmp = (np.empty(shape, np.float32) for _ in range(4))
        self.landed, self.mask = np.empty(shape, bool), np.empty(shape, bool)
        self.flat, self.cell = np.empty(shape, np.intp), np.empty(shape, np.intp)
        self.u = np.arange(width, dtype=np.float32)
        self.v = np.arange(height, dtype=np.float32)[:, None]


def _and(ws: _Workspace, ufunc, a, b) -> None:
    """landed &= ufunc(a, b), without allocating."""
    ufunc(a, b, out=ws.mask)
    ws.landed &= ws.mask


def _landing(ws: _Workspace, depth_x, K_x, T_yx, depth_y, K_y, tol_abs, tol_rel):
    """Core of the landing test for one pair, inputs already validated; results in ws.landed, ws.flat.

    ws.flat holds the flat index row * Wy + col of the Y pixel each pixel of X falls in, meaningful only
    where ws.landed (elsewhere it is some index inside Y).
    """
    hy, wy = depth_y.shape
    A = (K_y @ T_yx[:3, :3] @ np.linalg.inv(K_x)).astype(np.float32)
    b = (K_y @ T_yx[:3, 3]).astype(np.float32)
    z, f32 = depth_x, np.float32
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # q_k = z * (A_k0 u + A_k1 v + A_k2) + b_k: homogeneous image coordinates in Y, k = x, y, z
        for k, qk in enumerate((ws.qx, ws.qy, ws.qz)):
            np.add(A[k, 0] * ws.u, A[k, 1] * ws.v + A[k, 2], out=qk)
            qk *= z
            qk += b[k]
        # source depth valid (NaN fails every comparison) and the point in front of Y
        np.greater(z, 0, out=ws.landed)
        _and(ws, np.less, z, np.inf)
        _and(ws, np.greater, ws.qz, 0)
        np.divide(f32(1), ws.qz, out=ws.tmp)
        col, row = np.multiply(ws.qx, ws.tmp, out=ws.qx), np.multiply(ws.qy, ws.tmp, out=ws.qy)
        for c in (col, row):
            c += f32(0.5)
            np.floor(c, out=c)
        _and(ws, np.greater_equal, col, 0)
        _and(ws, np.less, col, wy)
        _and(ws, np.greater_equal, row, 0)
        _and(ws, np.less, row, hy)
        # outside Y the index is garbage: clamp it into range (fmin/fmax also map NaN to a bound)
        # rather than mask it; masked writes and take(mode="clip") branch on a scattered pattern and
        # cost several times a plain pass
        row *= f32(wy)
        row += col
        np.fmax(np.fmin(row, f32(hy * wy - 1), out=row), f32(0), out=row)
        np.copyto(ws.flat, row, casting="unsafe")
        d_y = np.take(depth_y.ravel(), ws.flat, mode="wrap", out=ws.tmp)
        _and(ws, np.greater, d_y, 0)
        _and(ws, np.less, d_y, np.inf)
        tol = np.multiply(d_y, f32(tol_rel), out=ws.qx)
        np.maximum(tol, f32(tol_abs), out=tol)
        d_y -= ws.qz
        _and(ws, np.less_equal, np.abs(d_y, out=d_y), tol)


def landing_pixels(
    depth_x: np.ndarray,
    K_x: np.ndarray,
    c2w_x: np.ndarray,
    depth_y: np.ndarray,
    K_y: np.ndarray,
    c2w_y: np.ndarray,
    tol_abs: float = 0.02,
    tol_rel: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which pixels of X land in Y, and where.

    depth_x (Hx, Wx), K_x (3, 3), c2w_x (4, 4); depth_y (Hy, Wy), K_y, c2w_y likewise; metres.
    Returns (landed (Hx, Wx) bool, rows (Hx, Wx) int64, cols (Hx, Wx) int64); rows/cols are the Y
    pixel each landing pixel falls in, and -1 elsewhere.
    """
    _check_tolerances(1, tol_abs, tol_rel)
    depth_x, K_x, c2w_x = _check_stack(depth_x, K_x, c2w_x, "x", batched=False)
    depth_y, K_y, c2w_y = _check_stack(depth_y, K_y, c2w_y, "y", batched=False)
    ws = _Workspace(*depth_x.shape)
    depth_x, depth_y = depth_x.astype(np.float32, copy=False), depth_y.astype(np.float32, copy=False)
    _landing(ws, depth_x, K_x, relative_pose(c2w_x, c2w_y), depth_y, K_y, tol_abs, tol_rel)
    wy = depth_y.shape[1]
    rows = np.where(ws.landed, ws.flat // wy, -1)
    cols = np.where(ws.landed, ws.flat % wy, -1)
    return ws.landed, rows, cols


def _cell_table(height: int, width: int, grid: int) -> np.ndarray:
    """PaStA cell index (row-major) of every pixel: (H, W) intp."""
    rows, cols = cell_of_pixels(height, width, grid)
    return (rows[:, None] * grid + cols[None, :]).astype(np.intp)


def overlap_matrices(
    depth_x: np.ndarray,
    K_x: np.ndarray,
    c2w_x: np.ndarray,
    depth_y: np.ndarray,
    K_y: np.ndarray,
    c2w_y: np.ndarray,
    grid: int = 4,
    tol_abs: float = 0.02,
    tol_rel: float = 0.05,
) -> np.ndarray:
    """Batched M_X->Y for B pairs: the fast path.

    depth_x (B, Hx, Wx), K_x (B, 3, 3), c2w_x (B, 4, 4); depth_y (B, Hy, Wy), K_y (B, 3, 3),
    c2w_y (B, 4, 4). Every X has the same size and every Y has the same size (X and Y may differ).
    K is the intrinsics of the depth map's resolution. Returns (B, n², n²) float64 with rows summing to
    <= 1; entry [i, j] is the fraction of cell i of X's pixels that land in cell j of Y.
    """
    _check_tolerances(grid, tol_abs, tol_rel)
    depth_x, K_x, c2w_x = _check_stack(depth_x, K_x, c2w_x, "x", batched=True)
    depth_y, K_y, c2w_y = _check_stack(depth_y, K_y, c2w_y, "y", batched=True)
    if depth_x.shape[0] != depth_y.shape[0]:
        raise ValueError(f"depth_x and depth_y must hold the same number of views, got {depth_x.shape[0]} "
                         f"and {depth_y.shape[0]}")
    (batch, hx, wx), (_, hy, wy) = depth_x.shape, depth_y.shape
    try:
        cell_x, cell_y = _cell_table(hx, wx, grid), _cell_table(hy, wy, grid)
    except ValueError as err:
        raise ValueError(f"grid {grid} does not fit the depth maps: {err}") from None
    n2 = grid * grid
    source = cell_x * n2
    pixels_per_cell = np.bincount(cell_x.ravel(), minlength=n2).astype(np.float64)
    T_yx = relative_pose(c2w_x, c2w_y)
    out = np.empty((batch, n2, n2), dtype=np.float64)
    ws = _Workspace(hx, wx)
    depth_x, depth_y = depth_x.astype(np.float32, copy=False), depth_y.astype(np.float32, copy=False)
    for k in range(batch):
        _landing(ws, depth_x[k], K_x[k], T_yx[k], depth_y[k], K_y[k], tol_abs, tol_rel)
        pair = np.take(cell_y, ws.flat, mode="wrap", out=ws.cell)
        pair += source
        np.logical_not(ws.landed, out=ws.mask)
        pair += np.multiply(ws.mask, n2 * n2, out=ws.flat)  # pixels that do not land: overflow bins
        counts = np.bincount(pair.ravel(), minlength=2 * n2 * n2)[: n2 * n2]
        out[k] = counts.reshape(n2, n2) / pixels_per_cell[:, None]
    return out


def overlap_matrix(
    depth_x: np.ndarray,
    K_x: np.ndarray,
    c2w_x: np.ndarray,
    depth_y: np.ndarray,
    K_y: np.ndarray,
    c2w_y: np.ndarray,
    grid: int = 4,
    tol_abs: float = 0.02,
    tol_rel: float = 0.05,
) -> np.ndarray:
    """M_X->Y for one pair: depth (H, W) metres, K (3, 3) of the depth resolution, c2w (4, 4).

    Returns (n², n²) float64; see `overlap_matrices`.
    """
    depth_x, K_x, c2w_x = _check_stack(depth_x, K_x, c2w_x, "x", batched=False)
    depth_y, K_y, c2w_y = _check_stack(depth_y, K_y, c2w_y, "y", batched=False)
    args = [a[None] for a in (depth_x, K_x, c2w_x, depth_y, K_y, c2w_y)]
    return overlap_matrices(*args, grid=grid, tol_abs=tol_abs, tol_rel=tol_rel)[0]


def symmetrize(m_xy: np.ndarray, m_yx: np.ndarray) -> np.ndarray:
    """S = (M_X->Y + M_Y->X^T) / 2. Shapes (*, n², n²)."""
    return 0.5 * (m_xy + np.swapaxes(m_yx, -1, -2))


def symmetric_overlap(
    depth_x: np.ndarray,
    K_x: np.ndarray,
    c2w_x: np.ndarray,
    depth_y: np.ndarray,
    K_y: np.ndarray,
    c2w_y: np.ndarray,
    grid: int = 4,
    tol_abs: float = 0.02,
    tol_rel: float = 0.05,
) -> np.ndarray:
    """S(X, Y) = (M_X->Y + M_Y->X^T) / 2 for one pair, shape (n², n²). S(X, Y) = S(Y, X)^T."""
    m_xy = overlap_matrix(depth_x, K_x, c2w_x, depth_y, K_y, c2w_y, grid, tol_abs, tol_rel)
    m_yx = overlap_matrix(depth_y, K_y, c2w_y, depth_x, K_x, c2w_x, grid, tol_abs, tol_rel)
    return symmetrize(m_xy, m_yx)


def symmetric_overlaps(
    depth_x: np.ndarray,
    K_x: np.ndarray,
    c2w_x: np.ndarray,
    depth_y: np.ndarray,
    K_y: np.ndarray,
    c2w_y: np.ndarray,
    grid: int = 4,
    tol_abs: float = 0.02,
    tol_rel: float = 0.05,
) -> np.ndarray:
    """Batched S for B pairs: inputs as `overlap_matrices`, returns (B, n², n²)."""
    m_xy = overlap_matrices(depth_x, K_x, c2w_x, depth_y, K_y, c2w_y, grid, tol_abs, tol_rel)
    m_yx = overlap_matrices(depth_y, K_y, c2w_y, depth_x, K_x, c2w_x, grid, tol_abs, tol_rel)
    return symmetrize(m_xy, m_yx)


@dataclass(frozen=True, eq=False)
class GeoView:
    """One view's geometry for `sample_overlaps`: key (equal keys mean the same depth, K and c2w, so the
    pairs they form are computed once), depth (H, W) metres, K (3, 3) of the depth map, c2w (4, 4)."""

    key: Hashable
    depth: np.ndarray
    K: np.ndarray
    c2w: np.ndarray


def sample_overlaps(samples: list[list[GeoView]], grid: int, tol_abs: float, tol_rel: float,
                    batch: int = 64) -> list[np.ndarray]:
    """S of every view pair of every sample: one (P, n², n²) float32 array per sample, pairs in
    `all_pairs` order. Identical pairs are computed once; pairs are batched by depth-map sizes through
    `symmetric_overlaps`."""
    index: dict[tuple[str, str], int] = {}
    jobs: list[tuple[GeoView, GeoView]] = []
    per_sample = []
    for views in samples:
        ids = []
        for i, j in all_pairs(len(views)):
            key = (views[i].key, views[j].key)
            if key not in index:
                index[key] = len(jobs)
                jobs.append((views[i], views[j]))
            ids.append(index[key])
        per_sample.append(ids)
    n2 = grid * grid
    values = np.zeros((len(jobs), n2, n2), np.float32)
    groups: dict[tuple, list[int]] = {}
    for k, (x, y) in enumerate(jobs):
        groups.setdefault((x.depth.shape, y.depth.shape), []).append(k)
    for members in groups.values():
        for start in range(0, len(members), batch):
            chunk = members[start:start + batch]

            def stack(side, chunk=chunk):
                vs = [jobs[k][side] for k in chunk]
                return np.stack([v.depth for v in vs]), np.stack([v.K for v in vs]), np.stack([v.c2w for v in vs])

            values[chunk] = symmetric_overlaps(*stack(0), *stack(1), grid=grid, tol_abs=tol_abs, tol_rel=tol_rel)
    return [values[ids] for ids in per_sample]
