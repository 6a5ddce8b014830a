"""The ray caster: exact depth, consistent instance ids across views, determinism, photometric change."""

import math

import numpy as np
import pytest

from hatchvl.data.synthetic.render import CEILING, FLOOR, WALLS, Photometric, render
from hatchvl.data.synthetic.scene import make_scene, sample_cameras
from hatchvl.geometry.camera import backproject_depth, intrinsics_from_fov
from hatchvl.geometry.overlap import landing_pixels
from tests.data.oracle import cast
from tests.geometry.reference import transform_points


def _signed_distance(obj, points):
    """Signed distance (M,) of world points (M, 3) to an object's surface, written from scratch."""
    c, s = math.cos(math.radians(obj.yaw_deg)), math.sin(math.radians(obj.yaw_deg))
    p = points - np.asarray(obj.centre)
    local = np.stack([c * p[:, 0] + s * p[:, 1], -s * p[:, 0] + c * p[:, 1], p[:, 2]], axis=1)
    if obj.shape == "sphere":
        return np.linalg.norm(local, axis=1) - obj.size[0] / 2
    if obj.shape == "box":
        q = np.abs(local) - np.asarray(obj.size) / 2
    else:
        q = np.stack([np.hypot(local[:, 0], local[:, 1]) - obj.size[0] / 2, np.abs(local[:, 2]) - obj.size[2] / 2], 1)
    return np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)


def _room_distance(size, surface, points):
    axis, value = {FLOOR: (2, 0.0), CEILING: (2, size[2]), WALLS[0]: (0, 0.0), WALLS[1]: (0, size[0]),
                   WALLS[2]: (1, 0.0), WALLS[3]: (1, size[1])}[surface]
    return points[:, axis] - value


@pytest.fixture(scope="module")
def views():
    """(scene, [Render]) for a few rooms at 96 px."""
    out = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        scene = make_scene(rng)
        K = intrinsics_from_fov(96, 96, 75)
        out.append((scene, [render(scene, K, c2w, 96, 96) for c2w in sample_cameras(scene, rng, 4)]))
    return out


def test_backprojected_depth_lies_on_the_hit_surface_within_0_1_mm(views):
    checked = 0
    for scene, renders in views:
        for r in renders:
            assert r.depth.dtype == np.float32 and r.ids.dtype == np.int16
            world = transform_points(r.c2w, backproject_depth(r.depth, r.K))
            for k, obj in enumerate(scene.objects):
                mask = r.ids == k + 1
                if mask.any():
                    assert np.abs(_signed_distance(obj, world[mask])).max() < 1e-4, obj.name
                    checked += mask.sum()
            for surface in (FLOOR, CEILING, *WALLS):
                mask = r.ids == surface
                if mask.any():
                    assert np.abs(_room_distance(scene.room.size, surface, world[mask])).max() < 1e-4
    assert checked > 5000


def test_ids_and_depth_agree_with_an_independent_ray_caster_pixel_by_pixel(views):
    """Catches what the surface test cannot: an object left out (say by a wrong screen-space cull)."""
    rng = np.random.default_rng(0)
    agree = objects = 0
    for scene, renders in views:
        for r in renders:
            for v, u in zip(rng.integers(96, size=150), rng.integers(96, size=150), strict=True):
                depth, instance = cast(scene, r.K, r.c2w, u, v)
                agree += r.ids[v, u] == instance and abs(r.depth[v, u] - depth) <= 1e-5 * depth
                objects += instance > 0
    assert objects > 300
    assert agree == 150 * sum(len(r) for _, r in views)


def test_every_pixel_hits_something_in_the_closed_room(views):
    for _, renders in views:
        for r in renders:
            assert np.all(r.ids != 0) and np.all(np.isfinite(r.depth)) and np.all(r.depth > 0)


def test_pixels_landing_by_the_overlap_computation_keep_their_instance_id():
    """>= 99% of landed pixels see the same instance in both views. The rest sit on boundaries, mostly
    where floor meets wall, and shrink with resolution: the test uses 128 px."""
    landed = same = 0
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        scene = make_scene(rng)
        K = intrinsics_from_fov(128, 128, 75)
        renders = [render(scene, K, c2w, 128, 128) for c2w in sample_cameras(scene, rng, 5)]
        for x in renders:
            for y in renders:
                if x is y:
                    continue
                mask, rows, cols = landing_pixels(x.depth, x.K, x.c2w, y.depth, y.K, y.c2w)
                landed += mask.sum()
                same += (x.ids[mask] == y.ids[rows[mask], cols[mask]]).sum()
    assert landed > 100_000
    assert same / landed >= 0.99


def test_rendering_is_deterministic_and_photometry_changes_only_colour():
    rng = np.random.default_rng(3)
    scene = make_scene(rng)
    c2w = sample_cameras(scene, rng, 1)[0]
    K = intrinsics_from_fov(64, 80, 70)
    a, b = render(scene, K, c2w, 64, 80), render(scene, K, c2w, 64, 80)
    assert a.rgb.shape == (64, 80, 3) and a.depth.shape == (64, 80)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth) and np.array_equal(a.ids, b.ids)
    c = render(scene, K, c2w, 64, 80, Photometric(gain=(1.1, 0.9, 1.0), brightness=0.8, offset=(0.05, 0, 0)))
    assert np.array_equal(a.depth, c.depth) and np.array_equal(a.ids, c.ids)
    assert np.abs(a.rgb.astype(int) - c.rgb.astype(int)).mean() > 5


def test_render_rejects_a_camera_outside_the_room_and_skewed_intrinsics():
    scene = make_scene(np.random.default_rng(0))
    K = intrinsics_from_fov(32, 32, 70)
    outside = np.eye(4)
    outside[:3, 3] = [-1.0, 1.0, 1.5]
    with pytest.raises(ValueError, match="outside the room"):
        render(scene, K, outside, 32, 32)
    skewed = K.copy()
    skewed[0, 1] = 0.5
    inside = np.eye(4)
    inside[:3, 3] = [0.2, 0.2, 1.5]
    with pytest.raises(ValueError, match="skew"):
        render(scene, skewed, inside, 32, 32)
