"""Camera motion between two views as ActoR sees it (docs/actor.md): the relative motion, its
decomposition into atomic actions, and the composition of actions back into a motion.

Frames: the motion from view i to view j is expressed in view i's *heading frame*: forward is the
camera's optical axis projected on the horizontal plane (h_i), right is h_i x up, up is the world up.
Yaw is a turn about world up, positive to the right, in degrees wrapped to (-180, 180]; pitch is the
angle of the optical axis above the horizontal, in degrees. Roll is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from hatchvl.geometry.camera import check_pose

TURNS = ("turn_left_deg", "turn_right_deg", "turn_up_deg", "turn_down_deg")
MOVES = ("move_forward_m", "move_up_m", "move_down_m")
ACTION_NAMES = TURNS + MOVES


@dataclass(frozen=True)
class Motion:
    """Net motion from view i to view j in view i's heading frame (metres, degrees)."""

    forward_m: float
    right_m: float
    up_m: float
    yaw_deg: float  # positive = turn right, in (-180, 180]
    pitch_deg: float  # positive = look further up


@dataclass(frozen=True)
class Action:
    """One atomic action: a name from ACTION_NAMES and a non-negative finite amount (degrees or metres)."""

    name: str
    value: float

    def __post_init__(self) -> None:
        if self.name not in ACTION_NAMES:
            raise ValueError(f"unknown action {self.name!r}; expected one of {', '.join(ACTION_NAMES)}")
        if not (isinstance(self.value, (int, float)) and math.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"action {self.name} needs a finite amount >= 0, got {self.value!r}")


def wrap_degrees(angle: float) -> float:
    """Wrap an angle in degrees to (-180, 180]."""
    wrapped = math.fmod(angle, 360.0)
    if wrapped <= -180.0:
        wrapped += 360.0
    elif wrapped > 180.0:
        wrapped -= 360.0
    return wrapped


def _unit_up(up: np.ndarray) -> np.ndarray:
    up = np.asarray(up, dtype=np.float64)
    if up.shape != (3,) or not np.all(np.isfinite(up)) or np.linalg.norm(up) < 1e-9:
        raise ValueError(f"up must be a finite non-zero 3-vector, got {up.tolist()}")
    return up / np.linalg.norm(up)


def _heading_and_pitch(c2w: np.ndarray, up: np.ndarray, name: str) -> tuple[np.ndarray, float]:
    """Horizontal unit heading (3,) and pitch (radians) of a camera's optical axis (c2w column z)."""
    forward = c2w[:3, 2]
    level = forward - np.dot(forward, up) * up
    norm = np.linalg.norm(level)
    if norm < 1e-6:
        raise ValueError(f"{name} looks straight along world up: its heading (yaw) is undefined")
    return level / norm, math.asin(float(np.clip(np.dot(forward, up), -1.0, 1.0)))


def signed_yaw(a: np.ndarray, b: np.ndarray, up: np.ndarray) -> float:
    """Signed angle (degrees) turning horizontal direction a onto b about up, positive = right:
    atan2((a x b) . (-up), a . b)."""
    return math.degrees(math.atan2(float(np.dot(np.cross(a, b), -up)), float(np.dot(a, b))))


def relative_motion(c2w_i: np.ndarray, c2w_j: np.ndarray, up: np.ndarray) -> Motion:
    """True motion from camera i to camera j. c2w (4, 4) camera-to-world in metres, up (3,) world up.

    forward, right: horizontal displacement along h_i and h_i x up; up: displacement along world up;
    yaw = yaw(h_i -> h_j) wrapped to (-180, 180]; pitch = p_j - p_i.
    """
    c2w_i, c2w_j = check_pose(c2w_i, "c2w_i"), check_pose(c2w_j, "c2w_j")
    up = _unit_up(up)
    h_i, p_i = _heading_and_pitch(c2w_i, up, "c2w_i")
    h_j, p_j = _heading_and_pitch(c2w_j, up, "c2w_j")
    d = c2w_j[:3, 3] - c2w_i[:3, 3]
    return Motion(
        forward_m=float(np.dot(d, h_i)),
        right_m=float(np.dot(d, np.cross(h_i, up))),
        up_m=float(np.dot(d, up)),
        yaw_deg=wrap_degrees(signed_yaw(h_i, h_j, up)),
        pitch_deg=math.degrees(p_j - p_i),
    )


def invert_motion(m: Motion) -> Motion:
    """The motion from j back to i, in j's heading frame, given the motion from i to j.

    j's heading is i's turned right by yaw, so i's displacement -(f, r) seen along j's axes
    (cos yaw, sin yaw) and (-sin yaw, cos yaw) is f' = -(f cos yaw + r sin yaw), r' = f sin yaw - r cos yaw.
    """
    c, s = math.cos(math.radians(m.yaw_deg)), math.sin(math.radians(m.yaw_deg))
    return Motion(
        forward_m=-(m.forward_m * c + m.right_m * s),
        right_m=m.forward_m * s - m.right_m * c,
        up_m=-m.up_m,
        yaw_deg=wrap_degrees(-m.yaw_deg),
        pitch_deg=-m.pitch_deg,
    )


def _quantise(x: float, step: float) -> float:
    """Round half up to a multiple of step, cleaned of float noise (12 * 0.1 -> 1.2)."""
    return round(math.floor(x / step + 0.5) * step, 9)


def _signed(amount: float, positive: str, negative: str, step: float) -> list[Action]:
    value = _quantise(abs(amount), step)
    return [Action(positive if amount > 0 else negative, value)] if value > 0 else []


def actions_from_poses(
    c2w_i: np.ndarray,
    c2w_j: np.ndarray,
    up: np.ndarray,
    deg_step: float = 1.0,
    metre_step: float = 0.1,
    eps_m: float = 0.05,
    eps_deg: float = 1.0,
) -> list[Action]:
    """Deterministic action sequence taking camera i to camera j (docs/actor.md, "Decomposition").

    If the horizontal displacement dh is at least eps_m: turn towards dh, move forward |dh|, turn to
    h_j; otherwise turn from h_i to h_j. Then move up/down |dv| if >= eps_m, then turn up/down by the
    pitch change if >= eps_deg. Degrees are rounded to deg_step and metres to metre_step; actions that
    round to zero are dropped.
    """
    if not (deg_step > 0 and metre_step > 0 and eps_m >= 0 and eps_deg >= 0):
        raise ValueError("deg_step and metre_step must be > 0, eps_m and eps_deg >= 0")
    c2w_i, c2w_j = check_pose(c2w_i, "c2w_i"), check_pose(c2w_j, "c2w_j")
    up = _unit_up(up)
    h_i, p_i = _heading_and_pitch(c2w_i, up, "c2w_i")
    h_j, p_j = _heading_and_pitch(c2w_j, up, "c2w_j")
    d = c2w_j[:3, 3] - c2w_i[:3, 3]
    dv = float(np.dot(d, up))
    dh = d - dv * up
    dist = float(np.linalg.norm(dh))

    actions: list[Action] = []
    if dist >= eps_m:
        actions += _signed(signed_yaw(h_i, dh / dist, up), "turn_right_deg", "turn_left_deg", deg_step)
        if (step := _quantise(dist, metre_step)) > 0:
            actions.append(Action("move_forward_m", step))
        actions += _signed(signed_yaw(dh / dist, h_j, up), "turn_right_deg", "turn_left_deg", deg_step)
    else:
        actions += _signed(signed_yaw(h_i, h_j, up), "turn_right_deg", "turn_left_deg", deg_step)
    if abs(dv) >= eps_m:
        actions += _signed(dv, "move_up_m", "move_down_m", metre_step)
    pitch = math.degrees(p_j - p_i)
    if abs(pitch) >= eps_deg:
        actions += _signed(pitch, "turn_up_deg", "turn_down_deg", deg_step)
    return actions


def compose_actions(actions: Iterable[Action]) -> Motion:
    """Play actions from the start view's heading frame and return the net motion.

    State: position (forward, right, up) in metres, heading psi (degrees, positive = right of the start
    heading) and pitch. move_forward goes along the current heading: (cos psi, sin psi).
    """
    forward = right = up = yaw = pitch = 0.0
    for action in actions:
        name, value = action.name, float(action.value)
        if name == "turn_right_deg":
            yaw += value
        elif name == "turn_left_deg":
            yaw -= value
        elif name == "turn_up_deg":
            pitch += value
        elif name == "turn_down_deg":
            pitch -= value
        elif name == "move_forward_m":
            forward += value * math.cos(math.radians(yaw))
            right += value * math.sin(math.radians(yaw))
        elif name == "move_up_m":
            up += value
        elif name == "move_down_m":
            up -= value
        else:  # unreachable for a valid Action; keeps duck-typed inputs honest
            raise ValueError(f"unknown action {name!r}")
    return Motion(forward, right, up, wrap_degrees(yaw), pitch)


def motion_error(a: Motion, b: Motion) -> tuple[float, float, float]:
    """(position distance in metres, |yaw difference| in degrees wrapped to [0, 180], |pitch difference|)."""
    pos = math.dist((a.forward_m, a.right_m, a.up_m), (b.forward_m, b.right_m, b.up_m))
    return pos, abs(wrap_degrees(a.yaw_deg - b.yaw_deg)), abs(a.pitch_deg - b.pitch_deg)


def all_pairs(num_views: int) -> Sequence[tuple[int, int]]:
    """Every unordered view pair (i, j), i < j, in order: the pairs ActoR writes actions for."""
    return [(i, j) for i in range(num_views) for j in range(i + 1, num_views)]
