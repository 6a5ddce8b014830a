"""Analytic numpy ray caster for the synthetic rooms: RGB, z-depth, instance ids.

One ray per pixel, through the pixel centre. With the camera-frame direction
d_c = ((u - cx) / fx, (v - cy) / fy, 1) the ray parameter t of a hit *is* its z-depth, so depth is exact
up to float rounding (stored as float32 metres). Work is vectorised over pixels; the only Python loop is
over primitives, and each object is intersected only inside the screen rectangle that bounds its
bounding sphere.

Instance ids (int16): object k of scene.objects has id k + 1; room surfaces have negative ids
(FLOOR, CEILING, then the walls x = 0, x = sx, y = 0, y = sy); 0 never occurs inside a closed room.
Shading is Lambertian: albedo * (AMBIENT + DIFFUSE * max(0, n . light)), then a per-view photometric
change (colour gain, brightness, offset) so that views differ in colour like real cameras do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hatchvl.data.synthetic.scene import Scene, SceneObject
from hatchvl.geometry.camera import check_intrinsics, check_pose

FLOOR, CEILING = -1, -2
WALLS = (-3, -4, -5, -6)  # x = 0, x = sx, y = 0, y = sy
AMBIENT, DIFFUSE = 0.5, 0.5
SKIRTING_M = 0.08  # height of the dark band at the foot of every wall


@dataclass(frozen=True)
class Photometric:
    """Per-view camera response: rgb' = clip(rgb * gain * brightness + offset, 0, 1), rgb in [0, 1]."""

    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    brightness: float = 1.0
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @staticmethod
    def sample(rng: np.random.Generator, strength: float = 1.0) -> Photometric:
        """Random response: gain 1 +- 0.15, brightness 1 +- 0.25, offset +- 0.06 (times strength)."""
        return Photometric(
            gain=tuple(float(g) for g in 1 + strength * rng.uniform(-0.15, 0.15, size=3)),
            brightness=float(1 + strength * rng.uniform(-0.25, 0.25)),
            offset=tuple(float(o) for o in strength * rng.uniform(-0.06, 0.06, size=3)),
        )


@dataclass(frozen=True, eq=False)
class Render:
    """One rendered view: rgb (H, W, 3) uint8, depth (H, W) float32 z-depth in metres, ids (H, W) int16,
    K (3, 3) in pixels of this image, c2w (4, 4) camera-to-world in metres."""

    rgb: np.ndarray
    depth: np.ndarray
    ids: np.ndarray
    K: np.ndarray
    c2w: np.ndarray


def _rays(K: np.ndarray, c2w: np.ndarray, height: int, width: int) -> np.ndarray:
    """World directions (3, H, W) of the pixel-centre rays, scaled so that their camera z is 1."""
    xn = (np.arange(width, dtype=np.float64) - K[0, 2]) / K[0, 0]
    yn = (np.arange(height, dtype=np.float64) - K[1, 2]) / K[1, 1]
    R = c2w[:3, :3]
    return R[:, 0, None, None] * xn[None, None, :] + R[:, 1, None, None] * yn[None, :, None] + R[:, 2, None, None]


def _trace_room(size, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exit point of every ray from the room box: t (H, W) and surface id (H, W) int16."""
    hi = np.asarray(size, dtype=np.float64)[:, None, None]
    o = origin[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(dirs > 0, hi - o, -o) / dirs
    t = np.where(t > 0, t, np.inf)
    axis = np.argmin(t, axis=0)
    surface = np.array([[WALLS[0], WALLS[1]], [WALLS[2], WALLS[3]], [FLOOR, CEILING]], dtype=np.int16)
    positive = np.take_along_axis(dirs, axis[None], 0)[0] > 0
    return np.take_along_axis(t, axis[None], 0)[0], surface[axis, positive.astype(np.intp)]


def _to_local(obj: SceneObject, origin: np.ndarray, dirs: np.ndarray):
    """Ray origin (3,) and directions (3, ...) in the object's frame: centred, rotated by -yaw."""
    c, s = math.cos(math.radians(obj.yaw_deg)), math.sin(math.radians(obj.yaw_deg))
    p = origin - np.asarray(obj.centre)
    o_local = np.array([c * p[0] + s * p[1], -s * p[0] + c * p[1], p[2]])
    if obj.yaw_deg == 0.0:
        return o_local, dirs
    return o_local, np.stack([c * dirs[0] + s * dirs[1], -s * dirs[0] + c * dirs[1], dirs[2]])


def _hit_sphere(obj: SceneObject, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """|o + t d|^2 = r^2, nearest root: t = (-b - sqrt(b^2 - a c)) / a with a = d.d, b = d.o."""
    r = obj.size[0] / 2
    a = np.einsum("k...,k...->...", d, d)
    b = np.einsum("k...,k->...", d, o)
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(b * b - a * (o @ o - r * r))) / a
    return np.where(t > 0, t, np.inf)


def _hit_box(obj: SceneObject, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Slab method on the box |x| <= size / 2 (local frame): t = max of entries if <= min of exits."""
    near, far = np.full(d.shape[1:], -np.inf), np.full(d.shape[1:], np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(3):
            half = obj.size[k] / 2
            inv = 1.0 / d[k]
            t1, t2 = (-half - o[k]) * inv, (half - o[k]) * inv
            near = np.maximum(near, np.minimum(t1, t2))
            far = np.minimum(far, np.maximum(t1, t2))
    return np.where((near <= far) & (near > 0), near, np.inf)


def _hit_cylinder(obj: SceneObject, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Vertical cylinder x^2 + y^2 <= r^2, |z| <= h / 2 (local frame): side and both caps."""
    r, half = obj.size[0] / 2, obj.size[2] / 2
    a = d[0] * d[0] + d[1] * d[1]
    b = d[0] * o[0] + d[1] * o[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        side = (-b - np.sqrt(b * b - a * (o[0] ** 2 + o[1] ** 2 - r * r))) / a
        side = np.where((side > 0) & (np.abs(o[2] + side * d[2]) <= half), side, np.inf)
        cap_z = half if o[2] > 0 else -half
        cap = (cap_z - o[2]) / d[2]
        inside = (o[0] + cap * d[0]) ** 2 + (o[1] + cap * d[1]) ** 2 <= r * r
    cap = np.where((cap > 0) & inside, cap, np.inf)
    return np.minimum(side, cap) if abs(o[2]) > half else side


_HIT = {"sphere": _hit_sphere, "box": _hit_box, "cylinder": _hit_cylinder}


def _window(obj: SceneObject, K: np.ndarray, c2w: np.ndarray, height: int, width: int):
    """(rows, cols) slices of the pixels whose rays can hit obj (screen bounds of its bounding sphere),
    or None when it is wholly behind the camera or off screen."""
    p = c2w[:3, :3].T @ (np.asarray(obj.centre) - c2w[:3, 3])
    r = obj.bounding_radius
    if p[2] + r <= 0:
        return None
    if p[2] - r <= 1e-6:
        return slice(0, height), slice(0, width)
    z_near, z_far = p[2] - r, p[2] + r
    bounds = []
    for k, f, c, n in ((0, K[0, 0], K[0, 2], width), (1, K[1, 1], K[1, 2], height)):
        lo, hi = p[k] - r, p[k] + r  # extremes of x / z over the box that holds the sphere
        lo_n = lo / (z_near if lo < 0 else z_far)
        hi_n = hi / (z_far if hi < 0 else z_near)
        start, stop = max(0, math.floor(f * lo_n + c)), min(n, math.ceil(f * hi_n + c) + 1)
        if start >= stop:
            return None
        bounds.append(slice(start, stop))
    return bounds[1], bounds[0]


def _object_normals(obj: SceneObject, points: np.ndarray) -> np.ndarray:
    """Outward unit normals (3, M) at world surface points (3, M) of obj."""
    c, s = math.cos(math.radians(obj.yaw_deg)), math.sin(math.radians(obj.yaw_deg))
    p = points - np.asarray(obj.centre)[:, None]
    local = np.stack([c * p[0] + s * p[1], -s * p[0] + c * p[1], p[2]])
    if obj.shape == "sphere":
        n = local / np.linalg.norm(local, axis=0)
    elif obj.shape == "box":
        scaled = np.abs(local) / (np.asarray(obj.size)[:, None] / 2)
        axis = np.argmax(scaled, axis=0)
        n = np.zeros_like(local)
        n[axis, np.arange(local.shape[1])] = np.sign(local[axis, np.arange(local.shape[1])])
    else:
        radial = np.stack([local[0], local[1], np.zeros_like(local[0])]) / (obj.size[0] / 2)
        on_cap = np.abs(local[2]) >= obj.size[2] / 2 - 1e-9
        n = np.where(on_cap, np.array([[0.0], [0.0], [1.0]]) * np.sign(local[2]), radial)
        n /= np.linalg.norm(n, axis=0)
    return np.stack([c * n[0] - s * n[1], s * n[0] + c * n[1], n[2]])


def _room_albedo(scene: Scene, surface: int, points: np.ndarray) -> np.ndarray:
    """Albedo (M, 3) of room surface points (3, M): floor checker, striped walls, plain ceiling."""
    room = scene.room
    if surface == CEILING:
        return np.broadcast_to(np.asarray(room.ceiling_rgb), (points.shape[1], 3))
    if surface == FLOOR:
        tile = (np.floor(points[0] / room.floor_tile_m) + np.floor(points[1] / room.floor_tile_m)) % 2
        return np.asarray(room.floor_rgb)[tile.astype(np.intp)]
    wall = WALLS.index(surface)
    along = points[1] if wall < 2 else points[0]
    stripe = np.floor(along / room.wall_stripe_m[wall]) % 2
    tone = np.where(points[2] < SKIRTING_M, 0.35, 1.0 - 0.15 * stripe)
    return tone[:, None] * np.asarray(room.wall_rgb[wall])[None, :]


_ROOM_NORMALS = {
    FLOOR: (0, 0, 1), CEILING: (0, 0, -1), WALLS[0]: (1, 0, 0), WALLS[1]: (-1, 0, 0),
    WALLS[2]: (0, 1, 0), WALLS[3]: (0, -1, 0),
}


def _shade(scene, origin, dirs, depth, ids, windows) -> np.ndarray:
    """Shaded linear RGB (H, W, 3) in [0, 1] before the photometric change."""
    albedo = np.zeros(depth.shape + (3,))
    normal = np.zeros((3,) + depth.shape)
    for surface, n in _ROOM_NORMALS.items():
        mask = ids == surface
        if mask.any():
            points = origin[:, None] + depth[mask] * dirs[:, mask]
            albedo[mask] = _room_albedo(scene, surface, points)
            normal[:, mask] = np.asarray(n, dtype=np.float64)[:, None]
    for k, (obj, window) in enumerate(zip(scene.objects, windows, strict=True)):
        if window is None:
            continue
        mask = np.zeros(depth.shape, dtype=bool)
        mask[window] = ids[window] == k + 1
        if mask.any():
            points = origin[:, None] + depth[mask] * dirs[:, mask]
            albedo[mask] = obj.rgb
            normal[:, mask] = _object_normals(obj, points)
    lambert = np.maximum(np.einsum("k...,k->...", normal, np.asarray(scene.light_dir)), 0.0)
    return albedo * (AMBIENT + DIFFUSE * lambert)[..., None]


def render(
    scene: Scene,
    K: np.ndarray,
    c2w: np.ndarray,
    height: int,
    width: int,
    photometric: Photometric | None = None,
) -> Render:
    """Render scene from a camera: K (3, 3) pixels of an H x W image (no skew), c2w (4, 4) metres.

    The camera must be inside the room and outside every object. Returns a Render (see its docstring).
    """
    K, c2w = check_intrinsics(K), check_pose(c2w)
    if K[0, 1] != 0:
        raise ValueError(f"the renderer takes intrinsics without skew, got K[0, 1] = {K[0, 1]}")
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    origin = c2w[:3, 3]
    if not np.all((origin > 0) & (origin < np.asarray(scene.room.size))):
        raise ValueError(f"the camera at {origin.tolist()} is outside the room {scene.room.size}")
    dirs = _rays(K, c2w, height, width)
    depth, ids = _trace_room(scene.room.size, origin, dirs)
    windows = []
    for k, obj in enumerate(scene.objects):
        window = _window(obj, K, c2w, height, width)
        windows.append(window)
        if window is None:
            continue
        o_local, d_local = _to_local(obj, origin, dirs[(slice(None),) + window])
        t = _HIT[obj.shape](obj, o_local, d_local)
        closer = t < depth[window]
        np.copyto(depth[window], t, where=closer)
        np.copyto(ids[window], np.int16(k + 1), where=closer)
    rgb = _shade(scene, origin, dirs, depth, ids, windows)
    if photometric is not None:
        rgb = rgb * np.asarray(photometric.gain) * photometric.brightness + np.asarray(photometric.offset)
    rgb8 = np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)
    return Render(rgb8, depth.astype(np.float32), ids, K, c2w)
