"""Pinhole camera maths in hatchvl's conventions (see docs/conventions.md).

Cameras are OpenCV (x right, y down, z forward). Poses are 4x4 camera-to-world matrices in metres.
Intrinsics K are 3x3 in pixels of the image they belong to. Pixel (row v, column u) has its centre at
image coordinates (u, v). Depth is z-depth in metres; 0 or non-finite means "no measurement".

All functions are pure numpy and validate their inputs, raising ValueError that names the argument.
"""

from __future__ import annotations

import numpy as np

RIGID_TOL = 1e-4


def check_pose(c2w: np.ndarray, name: str = "c2w") -> np.ndarray:
    """Validate a rigid pose (or a stack of them) and return it as float64.

    Shape (*, 4, 4). Must be finite, have last row (0, 0, 0, 1) and an orthonormal rotation with
    determinant +1 (within 1e-4).
    """
    c2w = np.asarray(c2w)
    if c2w.ndim < 2 or c2w.shape[-2:] != (4, 4):
        raise ValueError(f"{name} must have shape (*, 4, 4), got {c2w.shape}")
    if not np.issubdtype(c2w.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {c2w.dtype}")
    c2w = c2w.astype(np.float64)
    if not np.all(np.isfinite(c2w)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    if np.abs(c2w[..., 3, :] - np.array([0.0, 0.0, 0.0, 1.0])).max() > RIGID_TOL:
        raise ValueError(f"{name} last row must be (0, 0, 0, 1), got {c2w[..., 3, :].tolist()}")
    rot = c2w[..., :3, :3]
    gram_err = np.abs(rot @ np.swapaxes(rot, -1, -2) - np.eye(3)).max()
    if gram_err > RIGID_TOL:
        raise ValueError(f"{name} is not rigid: its rotation part is not orthonormal (error {gram_err:.2e})")
    if np.min(np.linalg.det(rot)) < 0:
        raise ValueError(f"{name} is not rigid: its rotation part is a reflection (determinant -1)")
    return c2w


def check_intrinsics(K: np.ndarray, name: str = "K") -> np.ndarray:
    """Validate pinhole intrinsics (or a stack of them) and return them as float64.

    Shape (*, 3, 3) of the form [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with finite entries and fx, fy > 0.
    """
    K = np.asarray(K)
    if K.ndim < 2 or K.shape[-2:] != (3, 3):
        raise ValueError(f"{name} must have shape (*, 3, 3), got {K.shape}")
    if not np.issubdtype(K.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {K.dtype}")
    K = K.astype(np.float64)
    if not np.all(np.isfinite(K)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    if np.any(K[..., 0, 0] <= 0) or np.any(K[..., 1, 1] <= 0):
        raise ValueError(f"{name} must have positive focal lengths fx = K[0,0] and fy = K[1,1]")
    if np.abs(K[..., 1, 0]).max() > 0 or np.abs(K[..., 2, :2]).max() > 0 or np.any(K[..., 2, 2] != 1):
        raise ValueError(f"{name} must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {K.tolist()}")
    return K


def check_depth(depth: np.ndarray, name: str = "depth") -> np.ndarray:
    """Validate a depth map of shape (*, H, W), floating point, H and W >= 1. Returns it unchanged."""
    depth = np.asarray(depth)
    if depth.ndim < 2 or depth.shape[-1] < 1 or depth.shape[-2] < 1:
        raise ValueError(f"{name} must have shape (*, H, W) with H, W >= 1, got {depth.shape}")
    if not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"{name} must be floating point metres (float32/float64), got dtype {depth.dtype}")
    return depth


def invert_pose(T: np.ndarray) -> np.ndarray:
    """Inverse of rigid transforms, shape (*, 4, 4): [R t]^-1 = [R^T, -R^T t]."""
    T = np.asarray(T, dtype=np.float64)
    inv = np.zeros_like(T)
    rot_t = np.swapaxes(T[..., :3, :3], -1, -2)
    inv[..., :3, :3] = rot_t
    inv[..., :3, 3] = -(rot_t @ T[..., :3, 3:4])[..., 0]
    inv[..., 3, 3] = 1.0
    return inv


def relative_pose(c2w_x: np.ndarray, c2w_y: np.ndarray) -> np.ndarray:
    """Transform taking points from camera X's frame into camera Y's: T_y<-x = inv(c2w_y) @ c2w_x.

    Shapes (*, 4, 4) -> (*, 4, 4).
    """
    return invert_pose(c2w_y) @ np.asarray(c2w_x, dtype=np.float64)


def project_points(points: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project camera-frame points to image coordinates.

    u = fx * X / Z + s * Y / Z + cx,  v = fy * Y / Z + cy.
    points (*, 3), K (3, 3) -> (uv (*, 2), z (*)). Points with Z <= 0 give non-finite or meaningless uv;
    callers test z > 0.
    """
    K = check_intrinsics(K)
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-1:] != (3,):
        raise ValueError(f"points must have shape (*, 3), got {points.shape}")
    z = points[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = points[..., 0] / z, points[..., 1] / z
    uv = np.stack([K[0, 0] * x + K[0, 1] * y + K[0, 2], K[1, 1] * y + K[1, 2]], axis=-1)
    return uv, z


def unproject_points(uv: np.ndarray, z: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Back-project image coordinates with z-depth to camera-frame points.

    y = (v - cy) / fy * z,  x = (u - cx - s * y / z) / fx * z.
    uv (*, 2), z (*), K (3, 3) -> (*, 3).
    """
    K = check_intrinsics(K)
    uv = np.asarray(uv, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    if uv.shape[-1:] != (2,) or uv.shape[:-1] != z.shape:
        raise ValueError(f"uv must have shape (*, 2) and z shape (*), got {uv.shape} and {z.shape}")
    yn = (uv[..., 1] - K[1, 2]) / K[1, 1]
    xn = (uv[..., 0] - K[0, 2] - K[0, 1] * yn) / K[0, 0]
    return np.stack([xn * z, yn * z, z], axis=-1)


def pixel_centres(height: int, width: int) -> np.ndarray:
    """Image coordinates (u, v) of every pixel centre, shape (H, W, 2): pixel (v, u) -> (u, v)."""
    v, u = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    return np.stack([u, v], axis=-1)


def backproject_depth(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame 3D point of every pixel: depth (H, W), K (3, 3) -> (H, W, 3).

    Pixels without a valid depth (0 or non-finite) give non-finite or zero points; mask them out (depth
    finite and > 0).
    """
    depth = check_depth(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must have shape (H, W), got {depth.shape}")
    return unproject_points(pixel_centres(*depth.shape), depth, K)


def scale_intrinsics(K: np.ndarray, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> np.ndarray:
    """Intrinsics of an image resized from (H, W) to (H', W') (whole image, no crop).

    With pixel centres at integer coordinates, a point at u in the original lands at
    u' = (u + 1/2) * W'/W - 1/2, so fx' = fx * W'/W, cx' = (cx + 1/2) * W'/W - 1/2 (and the same for y).
    K (3, 3) -> (3, 3).
    """
    K = check_intrinsics(K)
    (h0, w0), (h1, w1) = from_hw, to_hw
    if min(h0, w0, h1, w1) < 1:
        raise ValueError(f"image sizes must be positive, got from {from_hw} to {to_hw}")
    sx, sy = w1 / w0, h1 / h0
    out = K.copy()
    out[0, 0] *= sx
    out[0, 1] *= sx
    out[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
    out[1, 1] *= sy
    out[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
    return out


def cell_of_pixels(height: int, width: int, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """PaStA cell row of each pixel row and cell column of each pixel column.

    Row v is in cell row floor(v * n / H), column u in cell column floor(u * n / W); the cell index is
    row * n + column. Returns (rows (H,), cols (W,)) int64.
    """
    if grid < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    if height < grid or width < grid:
        raise ValueError(f"an image of {height}x{width} pixels is too small for a {grid}x{grid} grid")
    return np.arange(height) * grid // height, np.arange(width) * grid // width


def intrinsics_from_fov(height: int, width: int, fov_x_deg: float) -> np.ndarray:
    """Pinhole K for an image of (H, W) with horizontal field of view fov_x (degrees), square pixels,
    principal point at the image centre ((W - 1)/2, (H - 1)/2)."""
    if not 0 < fov_x_deg < 180:
        raise ValueError(f"fov_x_deg must be in (0, 180), got {fov_x_deg}")
    f = (width / 2) / np.tan(np.radians(fov_x_deg) / 2)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def pose_from_heading(position: np.ndarray, yaw_deg: float, pitch_deg: float = 0.0) -> np.ndarray:
    """Camera-to-world pose (4, 4) of a level (roll-free) camera in a world whose up is +z.

    Yaw 0 looks along +x; positive yaw turns right (clockwise seen from above, towards -y); positive
    pitch looks up. |pitch| must be below 90 degrees. position (3,) in metres.
    """
    position = np.asarray(position, dtype=np.float64)
    if position.shape != (3,) or not np.all(np.isfinite(position)):
        raise ValueError(f"position must be a finite 3-vector, got {position.tolist()}")
    if not abs(pitch_deg) < 90:
        raise ValueError(f"pitch_deg must be in (-90, 90), got {pitch_deg}")
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    forward = np.array([np.cos(yaw) * np.cos(pitch), -np.sin(yaw) * np.cos(pitch), np.sin(pitch)])
    right = np.array([-np.sin(yaw), -np.cos(yaw), 0.0])  # forward x up, horizontal
    down = np.cross(forward, right)
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, down, forward, position
    return c2w
