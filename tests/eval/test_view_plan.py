"""The viewer's camera plan and its SVG: a known motion lands where it should, and the picture's numbers are
the action reward's."""

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from hatchvl.data.format import Sample
from hatchvl.eval.view.plan import camera_plan, true_cameras, true_motions
from hatchvl.eval.view.svg import plan_svg
from hatchvl.geometry.actions_text import PairActions
from hatchvl.geometry.motion import actions_from_poses
from hatchvl.objectives.rewards import RewardConfig, action_reward, reward_target

UP = np.array([0.0, -1.0, 0.0])  # OpenCV cameras: y points down


def pose(position, forward) -> np.ndarray:
    """A level camera at position looking along forward (x right, y down, z forward)."""
    z = np.asarray(forward, float) / np.linalg.norm(forward)
    y = -UP
    c2w = np.eye(4)
    c2w[:3, :3] = np.stack([np.cross(y, z), y, z], axis=1)
    c2w[:3, 3] = position
    return c2w


def two_views() -> Sample:
    """View 2 stands 2 m to the right of view 1 and looks to view 1's right."""
    c2w = np.stack([pose([0, 0, 0], [0, 0, 1]), pose([2, 0, 0], [1, 0, 0])])
    target = PairActions(0, 1, tuple(actions_from_poses(c2w[0], c2w[1], UP)))
    return Sample(id="s", scene_id="scene", category="camera_motion", question="?", options=("a", "b"), answer="A",
                  answer_type="choice", images=("a.png", "b.png"), c2w=c2w, up=UP, actions=(target,))


def said(actions: str) -> str:
    return f'<action>[{{"from": 0, "to": 1, "actions": [{actions}]}}]</action>\n<answer>A</answer>'


def test_the_true_cameras_are_seen_from_above_with_view_1_looking_up_the_plan():
    first, second = true_cameras(true_motions(two_views()), 2)
    assert (first.x_m, first.y_m, first.heading_deg) == (0, 0, 0)
    assert second.x_m == pytest.approx(2) and second.y_m == pytest.approx(0) and second.heading_deg == pytest.approx(90)


def test_a_turn_and_a_move_compose_to_the_pose_and_the_reward_they_earn():
    sample = two_views()
    exact = camera_plan(sample, said('{"turn_right_deg": 90}, {"move_forward_m": 2}'))
    (pair,) = exact.pairs
    assert pair.written == (0, 1) and pair.predicted.x_m == pytest.approx(2) and pair.predicted.y_m == pytest.approx(0)
    assert pair.position_error_m == pytest.approx(0, abs=1e-9) and pair.reward == pytest.approx(1)
    assert pair.target.x_m == pytest.approx(2, abs=0.05) and pair.target.heading_deg == pytest.approx(90, abs=0.5)

    short = camera_plan(sample, said('{"turn_right_deg": 90}, {"move_forward_m": 1}'))
    (pair,) = short.pairs
    assert pair.predicted.x_m == pytest.approx(1) and pair.position_error_m == pytest.approx(1)
    assert pair.yaw_error_deg == pytest.approx(0, abs=1e-9)
    cfg = RewardConfig()
    assert pair.reward == pytest.approx((math.exp(-1 / cfg.sigma_m) + 2) / 3)
    assert short.reward == action_reward(said('{"turn_right_deg": 90}, {"move_forward_m": 1}'), reward_target(sample))


def test_a_pair_written_backwards_starts_at_the_other_camera_and_outputs_without_actions_earn_nothing():
    sample = two_views()
    # from view 2 (facing view 1's right): turn round, walk the 2 m back, turn right to face view 1's way
    back = camera_plan(sample, '<action>[{"from": 1, "to": 0, "actions": [{"turn_right_deg": 180}, '
                               '{"move_forward_m": 2}, {"turn_right_deg": 90}]}]</action><answer>A</answer>')
    (pair,) = back.pairs
    assert pair.written == (1, 0) and pair.reward == pytest.approx(1)
    assert (pair.predicted.x_m, pair.predicted.y_m) == pytest.approx((0, 0), abs=1e-9)
    assert pair.predicted.heading_deg % 360 == pytest.approx(0, abs=1e-9)
    bare = camera_plan(sample, '[{"from": 0, "to": 1, "actions": [{"turn_right_deg": 90}]}] A')
    assert bare.reward == 0 and bare.pairs[0].predicted is None and bare.parse_error == "no <action> block"


def _centre(svg: ET.Element, cls: str, key: str, value: str) -> tuple[float, float]:
    group = next(g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == cls and g.get(key) == value)
    circle = group.find("{http://www.w3.org/2000/svg}circle")
    return float(circle.get("cx")), float(circle.get("cy"))


def test_the_svg_draws_right_as_right_and_ahead_as_up_at_one_scale():
    sample = two_views()
    svg = ET.fromstring(plan_svg(camera_plan(sample, said('{"move_forward_m": 1}'))))
    x0, y0 = _centre(svg, "true", "data-view", "1")
    x1, y1 = _centre(svg, "true", "data-view", "2")
    xp, yp = _centre(svg, "predicted", "data-pair", "1-2")
    assert x1 > x0 and y1 == pytest.approx(y0, abs=0.1)  # 2 m to the right
    assert xp == pytest.approx(x0, abs=0.1) and yp < y0  # 1 m ahead: up the picture
    assert (y0 - yp) * 2 == pytest.approx(x1 - x0, abs=0.2)  # the same metres per pixel both ways
    xt, yt = _centre(svg, "target", "data-pair", "1-2")
    assert (xt, yt) == pytest.approx((x1, y1), abs=1.5)  # the target actions reach view 2
