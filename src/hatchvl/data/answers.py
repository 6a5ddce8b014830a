"""The answer vocabulary: the answer types and the view-change keys, with their formatting and parsing.

The one owner of these terms. The dataset format (`format`), the question builders (`synthetic.questions`,
`importers.spar_questions`), the prompts and answer scores (hatchvl.objectives) and the benchmark scores
(hatchvl.eval.score) import them from here.

A view change is SPAR view_change_infer's `key:value,key:value` text: each key moves or turns the camera
along one of 5 signed axes, in metres or in degrees, by a value that is never negative (a negative
motion is the opposite key).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

ANSWER_TYPES = ("choice", "number", "view_change")


class ViewChangeKey(NamedTuple):
    """What a view-change key means: its axis, the sign it gives the value on that axis, and the unit."""

    axis: str
    sign: int
    unit: str


_METRES, _DEGREES = "metres", "degrees"
# In SPAR's order, the order that instructions list them in and that format_view_change writes them in.
VIEW_CHANGE_KEYS = {
    "move_right": ViewChangeKey("right", 1, _METRES), "move_left": ViewChangeKey("right", -1, _METRES),
    "move_forward": ViewChangeKey("forward", 1, _METRES), "move_backward": ViewChangeKey("forward", -1, _METRES),
    "move_up": ViewChangeKey("up", 1, _METRES), "move_down": ViewChangeKey("up", -1, _METRES),
    "rotate_right": ViewChangeKey("yaw", 1, _DEGREES), "rotate_left": ViewChangeKey("yaw", -1, _DEGREES),
    "rotate_up": ViewChangeKey("pitch", 1, _DEGREES), "rotate_down": ViewChangeKey("pitch", -1, _DEGREES),
}
# The 5 signed axes in the order scores average over them (so that float sums stay as they were):
# right, up, forward (metres), yaw = rotate right, pitch = rotate up (degrees).
VIEW_CHANGE_AXES = ("right", "up", "forward", "yaw", "pitch")
# axis -> (key of a positive value, key of a negative value), in the order of VIEW_CHANGE_AXES
AXIS_KEYS = {
    axis: tuple(key for sign in (1, -1) for key, k in VIEW_CHANGE_KEYS.items() if k.axis == axis and k.sign == sign)
    for axis in VIEW_CHANGE_AXES
}
OPPOSITE_KEYS = {key: other for pos, neg in AXIS_KEYS.values() for key, other in ((pos, neg), (neg, pos))}
AXIS_UNITS = {k.axis: k.unit for k in VIEW_CHANGE_KEYS.values()}  # in the keys' order: right, forward, up, ...
DIGITS = {_METRES: 2, _DEGREES: 0}  # decimals format_view_change writes


def describe_view_change_keys(unit_format: str = "({})") -> str:
    """The keys in order, grouped by unit: "move_right, ..., move_down (metres) and rotate_right, ...,
    rotate_down (degrees)"; unit_format places the unit (e.g. "in {}": "... move_down in metres and ...")."""
    groups: dict[str, list[str]] = {}
    for key, meaning in VIEW_CHANGE_KEYS.items():
        groups.setdefault(meaning.unit, []).append(key)
    return " and ".join(f"{', '.join(keys)} {unit_format.format(unit)}" for unit, keys in groups.items())


def format_view_change(axes: Mapping[str, float]) -> str:
    """The view-change text of signed axis values (VIEW_CHANGE_AXES; a missing axis is 0) in the keys'
    order: metres to 0.01, degrees to 1, axes that round to 0 left out (no motion: the empty string)."""
    parts = []
    for axis, unit in AXIS_UNITS.items():
        value = axes.get(axis, 0.0)
        text = f"{abs(value):.{DIGITS[unit]}f}"
        if float(text) > 0:
            positive, negative = AXIS_KEYS[axis]
            parts.append(f"{positive if value > 0 else negative}:{text}")
    return ",".join(parts)


def parse_view_change(text: str) -> dict[str, float] | None:
    """Signed axes (VIEW_CHANGE_AXES) of a `key:value,key:value` view change; None if any part does not
    parse (unknown key, a value that is not a finite number >= 0). Keys are read stripped and lower-cased;
    repeated keys add up. An empty string is no motion at all (every axis 0)."""
    axes = dict.fromkeys(VIEW_CHANGE_AXES, 0.0)
    text = text.strip()
    if not text:
        return axes
    for part in text.split(","):
        key, sep, value = part.partition(":")
        key = key.strip().lower()
        if not sep or key not in VIEW_CHANGE_KEYS:
            return None
        try:
            amount = float(value)
        except ValueError:
            return None
        if not math.isfinite(amount) or amount < 0:
            return None
        axes[VIEW_CHANGE_KEYS[key].axis] += VIEW_CHANGE_KEYS[key].sign * amount
    return axes
