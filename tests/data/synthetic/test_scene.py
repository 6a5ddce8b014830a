"""Procedural rooms and cameras: objects stand on the floor without interpenetrating, cameras at eye height."""

import math

import numpy as np
import pytest

from hatchvl.data.synthetic.scene import (
    OBJECT_COLOURS,
    SHAPES,
    camera_pose,
    make_scene,
    sample_cameras,
    scene_from_json,
    scene_to_json,
)
from hatchvl.geometry.camera import check_pose


@pytest.fixture(scope="module")
def scenes():
    return [make_scene(np.random.default_rng(seed)) for seed in range(40)]


def test_objects_stand_on_the_floor_inside_the_room_without_touching(scenes):
    for scene in scenes:
        sx, sy, sz = scene.room.size
        assert 4 <= len(scene.objects) <= 12
        for k, a in enumerate(scene.objects):
            assert a.shape in SHAPES and a.colour in OBJECT_COLOURS and a.name == f"{a.colour} {a.shape}"
            x, y, z = a.centre
            assert z == pytest.approx(a.size[2] / 2)  # resting on z = 0
            assert a.footprint_radius <= x <= sx - a.footprint_radius
            assert a.footprint_radius <= y <= sy - a.footprint_radius
            assert a.size[2] < sz
            for b in scene.objects[k + 1 :]:
                gap = math.dist(a.centre[:2], b.centre[:2]) - a.footprint_radius - b.footprint_radius
                assert gap > 0, f"{a.name} and {b.name} interpenetrate"


def test_scenes_have_duplicates_and_distinct_walls(scenes):
    assert any(len({o.name for o in s.objects}) < len(s.objects) for s in scenes)
    for scene in scenes:
        assert len(set(scene.room.wall_rgb)) == 4


def test_camera_pose_is_opencv_with_world_up_z():
    c2w = camera_pose((1.0, 2.0, 1.5), heading_deg=0.0, pitch_deg=0.0)
    np.testing.assert_allclose(c2w[:3, 0], [0, -1, 0], atol=1e-12)  # x right: facing +x, right is -y
    np.testing.assert_allclose(c2w[:3, 1], [0, 0, -1], atol=1e-12)  # y down
    np.testing.assert_allclose(c2w[:3, 2], [1, 0, 0], atol=1e-12)  # z forward
    np.testing.assert_allclose(c2w[:3, 3], [1, 2, 1.5])
    tilted = camera_pose((0, 0, 0), heading_deg=90.0, pitch_deg=30.0)
    np.testing.assert_allclose(tilted[:3, 2], [0, math.cos(math.radians(30)), 0.5], atol=1e-12)


def test_cameras_stand_free_at_eye_height_with_small_pitch_and_no_roll(scenes):
    headings = []
    for seed, scene in enumerate(scenes[:20]):
        for c2w in sample_cameras(scene, np.random.default_rng(seed), 12):
            check_pose(c2w)
            x, y, z = c2w[:3, 3]
            assert 1.3 <= z <= 1.7
            assert 0.4 <= x <= scene.room.size[0] - 0.4 and 0.4 <= y <= scene.room.size[1] - 0.4
            for o in scene.objects:
                assert math.dist((x, y), o.centre[:2]) >= o.footprint_radius + 0.4 - 1e-9
            forward, right = c2w[:3, 2], c2w[:3, 0]
            assert -20 - 1e-9 <= math.degrees(math.asin(forward[2])) <= 5 + 1e-9
            assert abs(right[2]) < 1e-12  # no roll: the x axis stays horizontal
            headings.append(math.degrees(math.atan2(forward[1], forward[0])))
    assert np.histogram(headings, bins=4, range=(-180, 180))[0].min() > 0  # every direction occurs


def test_same_generator_state_gives_the_same_scene_and_json_round_trips():
    a, b = make_scene(np.random.default_rng(5)), make_scene(np.random.default_rng(5))
    assert a == b
    assert make_scene(np.random.default_rng(6)) != a
    assert scene_from_json(scene_to_json(a)) == a
