"""Relative motion, its decomposition into actions, and composition back."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hatchvl.geometry.camera import pose_from_heading
from hatchvl.geometry.motion import (
    Action,
    Motion,
    actions_from_poses,
    all_pairs,
    compose_actions,
    invert_motion,
    motion_error,
    relative_motion,
    wrap_degrees,
)

UP = np.array([0.0, 0.0, 1.0])


def test_design_example_relative_motion():
    # facing +y at (1, 1), then facing +x at (2, 2), world up +z -> forward 1, right 1, yaw +90
    m = relative_motion(pose_from_heading([1, 1, 0], -90), pose_from_heading([2, 2, 0], 0), UP)
    assert (m.forward_m, m.right_m, m.up_m) == pytest.approx((1.0, 1.0, 0.0))
    assert m.yaw_deg == pytest.approx(90.0) and m.pitch_deg == pytest.approx(0.0)


def test_paper_example_composes_to_a_net_left_turn_of_30():
    m = compose_actions([Action("turn_right_deg", 120), Action("move_forward_m", 1.2), Action("turn_left_deg", 150)])
    assert m.yaw_deg == pytest.approx(-30.0)
    assert m.forward_m == pytest.approx(1.2 * math.cos(math.radians(120)))
    assert m.right_m == pytest.approx(1.2 * math.sin(math.radians(120)))


def test_decomposition_of_a_sideways_step():
    actions = actions_from_poses(pose_from_heading([0, 0, 1], 0), pose_from_heading([0, -2, 1], 0), UP)
    assert actions == [Action("turn_right_deg", 90), Action("move_forward_m", 2.0), Action("turn_left_deg", 90)]


def test_vertical_and_pitch_actions():
    actions = actions_from_poses(pose_from_heading([0, 0, 1], 10, 0), pose_from_heading([0, 0, 1.5], 10, -20), UP)
    assert actions == [Action("move_up_m", 0.5), Action("turn_down_deg", 20)]
    tiny = actions_from_poses(pose_from_heading([0, 0, 1], 10), pose_from_heading([0.03, 0, 1.04], 10.2, 0.9), UP)
    assert tiny == []  # below eps_m, rounds to 0 degrees, below eps_deg


def test_rounding_is_configurable():
    a, b = pose_from_heading([0, 0, 0], 0), pose_from_heading([1.234, 0, 0], 37.4)
    assert actions_from_poses(a, b, UP) == [Action("move_forward_m", 1.2), Action("turn_right_deg", 37)]
    assert actions_from_poses(a, b, UP, deg_step=5, metre_step=0.25) == [
        Action("move_forward_m", 1.25), Action("turn_right_deg", 35)]


@pytest.mark.parametrize("yaw_i, yaw_j, expected", [(170, -170, 20), (-170, 170, -20), (0, 180, 180),
                                                     (179.5, -179.5, 1), (90, -90, 180)])
def test_yaw_wraps_across_180(yaw_i, yaw_j, expected):
    m = relative_motion(pose_from_heading([0, 0, 0], yaw_i), pose_from_heading([0, 0, 0], yaw_j), UP)
    assert m.yaw_deg == pytest.approx(expected)
    assert -180 < m.yaw_deg <= 180


def test_wrap_degrees():
    assert wrap_degrees(180) == 180 and wrap_degrees(-180) == 180 and wrap_degrees(540) == 180
    assert wrap_degrees(-190) == pytest.approx(170) and wrap_degrees(721) == pytest.approx(1)


coords = st.floats(-5, 5)
yaws = st.floats(-180, 180)
pitches = st.floats(-40, 40)


@settings(max_examples=300, deadline=None)
@given(coords, coords, coords, yaws, pitches, coords, coords, coords, yaws, pitches)
def test_compose_of_decompose_reproduces_relative_motion(x1, y1, z1, yaw1, p1, x2, y2, z2, yaw2, p2):
    a, b = pose_from_heading([x1, y1, z1], yaw1, p1), pose_from_heading([x2, y2, z2], yaw2, p2)
    truth = relative_motion(a, b, UP)
    composed = compose_actions(actions_from_poses(a, b, UP))
    pos, dyaw, dpitch = motion_error(truth, composed)
    dist = math.hypot(truth.forward_m, truth.right_m)
    # metres rounded to 0.1 (or dropped below 0.05) on the move and the climb; the heading of the move
    # rounded to 1 degree; yaw from two rounded turns; pitch rounded, or dropped below 1 degree
    assert pos <= 0.05 * math.sqrt(2) + dist * math.radians(0.5) + 1e-9
    assert dyaw <= 1.0 + 1e-9
    assert dpitch <= 1.0 + 1e-9


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["turn_left_deg", "turn_right_deg", "move_forward_m"]),
                          st.floats(0, 200)), max_size=6))
def test_composition_is_rigid_motion_in_the_plane(steps):
    actions = [Action(n, v) for n, v in steps]
    m = compose_actions(actions)
    assert -180 < m.yaw_deg <= 180
    assert math.hypot(m.forward_m, m.right_m) <= sum(v for n, v in steps if n == "move_forward_m") + 1e-6


def test_up_can_be_any_axis():
    # the same scene with world up along -y (a y-down world) gives the same motion
    flip = np.eye(4)
    flip[:3, :3] = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]  # maps +z to -y
    a, b = pose_from_heading([0, 0, 1], 20, 5), pose_from_heading([1, 2, 1.3], -50, -5)
    m1 = relative_motion(a, b, UP)
    m2 = relative_motion(flip @ a, flip @ b, flip[:3, :3] @ UP)
    assert motion_error(m1, m2) == pytest.approx((0, 0, 0), abs=1e-9)


def test_bad_input():
    with pytest.raises(ValueError, match="up must be"):
        relative_motion(np.eye(4), np.eye(4), [0, 0, 0])
    looking_up = np.eye(4)  # optical axis (camera z) along world +z
    with pytest.raises(ValueError, match="c2w_j looks straight along world up"):
        relative_motion(pose_from_heading([0, 0, 0], 0), looking_up, UP)
    with pytest.raises(ValueError, match="c2w_i contains non-finite"):
        actions_from_poses(np.full((4, 4), np.nan), np.eye(4), UP)
    with pytest.raises(ValueError, match="unknown action"):
        Action("move_left_m", 1.0)
    with pytest.raises(ValueError, match="finite amount"):
        Action("move_up_m", -1.0)
    assert Motion(0, 0, 0, 0, 0) == compose_actions([])


def test_all_pairs():
    assert all_pairs(3) == [(0, 1), (0, 2), (1, 2)] and all_pairs(1) == []


@settings(max_examples=100, deadline=None)
@given(coords, coords, yaws, pitches, coords, coords, yaws, pitches)
def test_inverse_motion_is_the_motion_back(x1, y1, yaw1, p1, x2, y2, yaw2, p2):
    a, b = pose_from_heading([x1, y1, 1.0], yaw1, p1), pose_from_heading([x2, y2, 1.4], yaw2, p2)
    back = relative_motion(b, a, UP)
    assert motion_error(invert_motion(relative_motion(a, b, UP)), back) == pytest.approx((0, 0, 0), abs=1e-7)
