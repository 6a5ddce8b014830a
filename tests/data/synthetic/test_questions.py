"""Every stored answer agrees with one recomputed here from the scene file and the sample's cameras.

The test has its own maths for headings, motions, directions and distances, and its own single-ray
caster for marked points; it uses the package's renderer only for the instance masks of whole views
(correspondence boxes and counting), which test_render.py checks against the scene geometry.
"""

import json
import math
import re
from collections import Counter
from functools import cache

import numpy as np
import pytest

from hatchvl.data.format import LETTERS, load_image
from hatchvl.data.synthetic.questions import (
    CATEGORIES,
    POSE_CATEGORIES,
    VISIBLE_FRACTION,
    make_pose_question,
    make_question,
)
from hatchvl.data.synthetic.render import render
from hatchvl.data.synthetic.scene import make_scene, sample_cameras, scene_from_json
from hatchvl.geometry.camera import intrinsics_from_fov
from hatchvl.geometry.motion import all_pairs, compose_actions
from tests.data.oracle import cast

PER_TYPE = 200


def _wrap(deg):
    return (deg + 180) % 360 - 180


def _heading_pitch(c2w):
    f = c2w[:3, 2]
    return math.atan2(f[1], f[0]), math.asin(f[2])


def _motion(c2w_i, c2w_j):
    """(forward, right, up) metres in camera i's heading frame, yaw (right +), pitch (up +) degrees."""
    (a_i, p_i), (a_j, p_j) = _heading_pitch(c2w_i), _heading_pitch(c2w_j)
    d = c2w_j[:3, 3] - c2w_i[:3, 3]
    forward = d[0] * math.cos(a_i) + d[1] * math.sin(a_i)
    right = d[0] * math.sin(a_i) - d[1] * math.cos(a_i)
    return forward, right, d[2], _wrap(math.degrees(a_i - a_j)), math.degrees(p_j - p_i)


def _sector(bearing):
    a = abs(bearing)
    assert min(abs(a - 45), abs(a - 135)) >= 10, "asked about a direction on a sector boundary"
    return "in front" if a < 45 else "behind" if a > 135 else "to the right" if bearing > 0 else "to the left"


def _cast(scene, sample, view, u, v):
    """(z-depth, object index) of what the marked pixel centre (u, v) shows; it must be an object."""
    depth, instance = cast(scene, sample.K[view], sample.c2w[view], u, v)
    assert instance > 0, "the marked pixel shows no object"
    return depth, instance - 1


def _ids(root, sample, view):
    h, w = load_image(root, sample.images[view]).shape[:2]
    return render(_scene(root, sample.scene_id), sample.K[view], sample.c2w[view], h, w).ids


@cache
def _scene(root, scene_id):
    return scene_from_json(json.loads((root / "scenes" / scene_id / "scene.json").read_text()))


def _named(scene, name):
    matches = [k for k, o in enumerate(scene.objects) if o.name == name]
    assert len(matches) == 1, f"{name!r} does not name exactly one object"
    return matches[0]


def _numbers(pattern, text):
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return match.groups()


def _camera_motion(root, s, scene):
    i, j = (int(x) - 1 for x in _numbers(r"first image (\d+), then image (\d+)", s.question))
    forward, right, _, yaw, _ = _motion(s.c2w[i], s.c2w[j])
    move = _sector(math.degrees(math.atan2(right, forward)))
    words = {"in front": "forward", "behind": "backward", "to the left": "to the left", "to the right": "to the right"}
    parsed = [_numbers(r"moved about ([\d.]+) m, mostly (.+), and turned about (\d+) degrees to the (\w+)", o)
              for o in s.options]
    chosen = parsed[LETTERS.index(s.answer)]
    assert abs(float(chosen[0]) - math.hypot(forward, right)) <= 0.05 + 1e-9
    assert abs(int(chosen[2]) - abs(yaw)) <= 0.5 + 1e-9
    assert (chosen[1], chosen[3]) == (words[move], "right" if yaw > 0 else "left")
    assert len({(p[1], p[3]) for p in parsed}) == 4  # no second option says the same


def _object_direction(root, s, scene):
    j = int(_numbers(r"viewpoint of image (\d+)", s.question)[0]) - 1
    k = _named(scene, _numbers(r"where is the (\w+ \w+)\?", s.question)[0])
    heading, _ = _heading_pitch(s.c2w[j])
    to_obj = np.asarray(scene.objects[k].centre) - s.c2w[j][:3, 3]
    bearing = _wrap(math.degrees(heading - math.atan2(to_obj[1], to_obj[0])))
    assert s.options[LETTERS.index(s.answer)] == _sector(bearing)


def _correspondence(root, s, scene):
    i, j = (int(x) - 1 for x in _numbers(r"In image (\d+) .* box in image (\d+)", s.question))
    (marker,) = s.markers
    assert marker.image == i
    _, k = _cast(scene, s, i, marker.u, marker.v)
    assert tuple(load_image(root, s.images[i])[int(marker.v), int(marker.u)]) == (255, 255, 255)
    rows, cols = np.nonzero(_ids(root, s, j) == k + 1)
    h, w = load_image(root, s.images[j]).shape[:2]
    box = [1000 * cols.min() / w, 1000 * rows.min() / h, 1000 * (cols.max() + 1) / w, 1000 * (rows.max() + 1) / h]
    chosen = [int(x) for x in re.findall(r"\d+", s.options[LETTERS.index(s.answer)])]
    assert np.abs(np.array(chosen) - box).max() <= 0.5


def _counting(root, s, scene):
    words = _numbers(r"How many (.+) can be seen", s.question)[0].split()
    colour = words[0] if len(words) == 2 else None
    shape = {"boxes": "box", "spheres": "sphere", "cylinders": "cylinder"}.get(words[-1])
    ids = [_ids(root, s, v) for v in range(s.num_views)]
    least = math.ceil(VISIBLE_FRACTION * ids[0].size)
    seen = {int(k) - 1 for x in ids for k, n in zip(*np.unique(x[x > 0], return_counts=True), strict=True)
            if n >= least}
    kinds = [(scene.objects[k].colour, scene.objects[k].shape) for k in seen]
    count = sum(1 for c, sh in kinds if colour in (None, c) and shape in (None, sh))
    assert s.options[LETTERS.index(s.answer)] == str(count)


def _depth_distance(root, s, scene):
    if "(its depth)" in s.question:
        (marker,) = s.markers
        expected, _ = _cast(scene, s, marker.image, marker.u, marker.v)
    elif "from the camera that took image" in s.question:
        name, view = _numbers(r"centre of the (\w+ \w+) from the camera that took image (\d+)", s.question)
        expected = math.dist(scene.objects[_named(scene, name)].centre, s.c2w[int(view) - 1][:3, 3])
    else:
        a, b = _numbers(r"centres of the (\w+ \w+) and the (\w+ \w+)\?", s.question)
        expected = math.dist(scene.objects[_named(scene, a)].centre, scene.objects[_named(scene, b)].centre)
    assert abs(float(s.answer) - expected) <= 0.005 + 1e-6


def _view_change(root, s, scene):
    i, j = (int(x) - 1 for x in _numbers(r"from image (\d+) to image (\d+)", s.question))
    forward, right, up, yaw, pitch = _motion(s.c2w[i], s.c2w[j])
    stated = {k: float(v) for k, v in (part.split(":") for part in s.answer.split(","))}
    axes = [("move_right", "move_left", right, 0.005), ("move_forward", "move_backward", forward, 0.005),
            ("move_up", "move_down", up, 0.005), ("rotate_right", "rotate_left", yaw, 0.5),
            ("rotate_up", "rotate_down", pitch, 0.5)]
    for positive, negative, truth, half_step in axes:
        value = stated.get(positive, 0.0) - stated.get(negative, 0.0)
        assert not (positive in stated and negative in stated)
        assert abs(value - truth) <= half_step + 1e-6, (positive, value, truth)


CHECKS = {
    "camera_motion": _camera_motion, "object_direction": _object_direction, "correspondence": _correspondence,
    "counting": _counting, "depth_distance": _depth_distance, "view_change": _view_change,
}


@pytest.mark.parametrize("category", CATEGORIES)
def test_stored_answer_matches_the_scene(category, synth_root, synth_samples):
    samples = [s for s in synth_samples if s.category == category]
    assert len(samples) >= PER_TYPE
    for s in samples[:PER_TYPE]:
        assert s.up.tolist() == [0.0, 0.0, 1.0]
        CHECKS[category](synth_root, s, _scene(synth_root, s.scene_id))


def test_answer_letters_are_balanced(synth_samples):
    letters = Counter(s.answer for s in synth_samples if s.answer_type == "choice")
    total = sum(letters.values())
    assert set(letters) == set("ABCD") and total >= 4 * PER_TYPE
    for letter, n in letters.items():
        assert 0.15 <= n / total <= 0.35, (letter, n / total)


def test_every_view_pair_carries_actions_that_compose_to_the_true_motion(synth_samples):
    for s in synth_samples[:300]:
        assert [(p.src, p.dst) for p in s.actions] == list(all_pairs(s.num_views))
        for pair in s.actions:
            forward, right, up, yaw, pitch = _motion(s.c2w[pair.src], s.c2w[pair.dst])
            m = compose_actions(pair.actions)
            assert math.dist((m.forward_m, m.right_m, m.up_m), (forward, right, up)) < 0.15
            assert abs(_wrap(m.yaw_deg - yaw)) <= 1.5 and abs(m.pitch_deg - pitch) <= 1.0


def test_question_types_and_view_counts_are_all_used(synth_samples):
    assert set(Counter(s.category for s in synth_samples)) == set(CATEGORIES)
    assert set(Counter(s.num_views for s in synth_samples)) == {2, 3, 4}


@pytest.mark.parametrize("category", POSE_CATEGORIES)
def test_pose_questions_need_only_the_poses(category):
    rng = np.random.default_rng(4)
    scene = make_scene(rng)
    K = intrinsics_from_fov(32, 32, 75.0)
    views = [render(scene, K, c2w, 32, 32) for c2w in sample_cameras(scene, rng, 3)]
    for seed in range(5):
        full = make_question(category, scene, views, np.random.default_rng(seed))
        poses_only = make_pose_question(category, [v.c2w for v in views], scene.up, np.random.default_rng(seed))
        assert full is not None and poses_only == full


def test_a_question_that_needs_the_scene_is_refused_from_poses_alone():
    with pytest.raises(ValueError, match="not a question about poses alone"):
        make_pose_question("counting", [np.eye(4), np.eye(4)], (0.0, 0.0, 1.0), np.random.default_rng(0))
