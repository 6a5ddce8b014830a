"""Grounded captions of synthetic views: the objects a view shows, left to right, with side and distance."""
import re

import numpy as np
import pytest

from hatchvl.data.synthetic.captions import caption, depth_word, horizontal_word, visible_objects
from hatchvl.data.synthetic.questions import min_visible_pixels
from hatchvl.data.synthetic.render import render
from hatchvl.data.synthetic.scene import Room, Scene, SceneObject, camera_pose, make_scene, sample_cameras
from hatchvl.geometry.camera import intrinsics_from_fov

SIZE = 112
K = intrinsics_from_fov(SIZE, SIZE, 75.0)
ROOM = Room(size=(6.0, 6.0, 3.0), wall_rgb=((0.7, 0.7, 0.6),) * 4, wall_stripe_m=(0.5,) * 4,
            floor_rgb=((0.5, 0.4, 0.3), (0.4, 0.3, 0.2)), floor_tile_m=0.5)
LIGHT = (0.0, 0.0, 1.0)
# camera at (1, 3, 1.5) looking along +x, level: image right is world -y
CAM = camera_pose((1.0, 3.0, 1.5), 0.0, 0.0)
PATTERN = re.compile(r"^(no objects\.|1 object: [a-z]+ [a-z]+ (left|centre|right) (near|mid|far)\.|"
                     r"\d+ objects: [a-z]+ [a-z]+ (left|centre|right) (near|mid|far)"
                     r"(; [a-z]+ [a-z]+ (left|centre|right) (near|mid|far))*\.)$")


def box(colour, x, y, size=0.6):
    return SceneObject("box", colour, (x, y, size / 2), (size, size, size), 0.0)


def view_of(objects, c2w=CAM):
    scene = Scene(ROOM, tuple(objects), LIGHT)
    return scene, render(scene, K, c2w, SIZE, SIZE)


def test_single_object_ahead_mid():
    scene, view = view_of([box("red", 3.8, 3.0, 0.8)])  # ~2.4 m ahead, centred
    assert caption(scene, view) == "1 object: red box centre mid."


def test_left_right_and_order():
    # +y is to the camera's left (image right is -y)
    scene, view = view_of([box("blue", 5.3, 1.6), box("green", 5.3, 4.4), box("yellow", 2.6, 3.0, 0.5)])
    text = caption(scene, view)
    assert text == "3 objects: green box left far; yellow box centre near; blue box right far."


def test_empty_and_occluded():
    scene, view = view_of([])
    assert caption(scene, view) == "no objects."
    scene, view = view_of([box("red", 0.3, 3.0, 0.3)])  # behind the camera
    assert caption(scene, view) == "no objects."


def test_metres_style_and_max_objects():
    scene, view = view_of([box("blue", 5.3, 1.6), box("green", 5.3, 4.4), box("yellow", 2.6, 3.0, 0.5)])
    text = caption(scene, view, depth="metres")
    assert re.fullmatch(r"3 objects: green box left \d\.\d m; yellow box centre \d\.\d m; blue box right \d\.\d m\.",
                        text), text
    one = caption(scene, view, max_objects=1)
    assert one.startswith("3 objects: ") and one.count(";") == 0
    with pytest.raises(ValueError):
        caption(scene, view, depth="feet")
    with pytest.raises(ValueError):
        caption(scene, view, max_objects=0)


def test_words():
    assert [horizontal_word(c, 112) for c in (0, 36, 37, 75, 111)] == ["left", "left", "centre", "right", "right"]
    assert [depth_word(d) for d in (1.0, 1.99, 2.0, 3.49, 3.5, 9.0)] == ["near", "near", "mid", "mid", "far", "far"]


def test_random_scenes_match_question_visibility_and_are_deterministic():
    for seed in range(8):
        rng = np.random.default_rng(seed)
        scene = make_scene(rng)
        for c2w in sample_cameras(scene, rng, 3):
            view = render(scene, K, c2w, SIZE, SIZE)
            text = caption(scene, view)
            assert PATTERN.match(text), text
            assert text == caption(scene, render(scene, K, c2w, SIZE, SIZE))
            counts = np.bincount(view.ids[view.ids > 0], minlength=len(scene.objects) + 1)[1:]
            expected = sorted(np.flatnonzero(counts >= min_visible_pixels(SIZE, SIZE)).tolist())
            assert sorted(o["index"] for o in visible_objects(scene, view)) == expected
            n = len(expected)
            assert text.startswith("no objects" if n == 0 else f"{n} object")
