"""Float64 reference maths of docs/conventions.md that the tests check the optimised code against.

Nothing in the package needs these: the overlap code inlines them in float32 (hatchvl.geometry.overlap).
"""

import numpy as np


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to points: p' = R p + t. T (4, 4), points (*, 3) -> (*, 3)."""
    T = np.asarray(T, dtype=np.float64)
    points = np.asarray(points)
    if T.shape != (4, 4):
        raise ValueError(f"T must have shape (4, 4), got {T.shape}")
    if points.shape[-1:] != (3,):
        raise ValueError(f"points must have shape (*, 3), got {points.shape}")
    return points @ T[:3, :3].T + T[:3, 3]


def pixel_of(uv: np.ndarray) -> np.ndarray:
    """Pixel index (row, column) that image coordinates fall in: (floor(v + 1/2), floor(u + 1/2)).

    uv (*, 2) float -> (*, 2) int64 in (row, column) order.
    """
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack([np.floor(uv[..., 1] + 0.5), np.floor(uv[..., 0] + 0.5)], axis=-1).astype(np.int64)
