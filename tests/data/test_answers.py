"""The answer vocabulary: view-change keys, their text and their parsing."""

import pytest

from hatchvl.data.answers import (
    AXIS_KEYS,
    OPPOSITE_KEYS,
    VIEW_CHANGE_AXES,
    VIEW_CHANGE_KEYS,
    describe_view_change_keys,
    format_view_change,
    parse_view_change,
)

KEYS = ("move_right", "move_left", "move_forward", "move_backward", "move_up", "move_down",
        "rotate_right", "rotate_left", "rotate_up", "rotate_down")


def test_keys_axes_and_opposites():
    assert tuple(VIEW_CHANGE_KEYS) == KEYS
    assert tuple(AXIS_KEYS) == VIEW_CHANGE_AXES == ("right", "up", "forward", "yaw", "pitch")
    assert AXIS_KEYS["forward"] == ("move_forward", "move_backward")
    assert OPPOSITE_KEYS["rotate_down"] == "rotate_up" and OPPOSITE_KEYS["move_left"] == "move_right"
    assert describe_view_change_keys() == (
        "move_right, move_left, move_forward, move_backward, move_up, move_down (metres) and "
        "rotate_right, rotate_left, rotate_up, rotate_down (degrees)")
    assert describe_view_change_keys("in {}").endswith("move_down in metres and rotate_right, "
                                                      "rotate_left, rotate_up, rotate_down in degrees")


def test_format_and_parse_round_trip():
    text = format_view_change({"right": -0.5, "up": 0.0, "forward": 1.234, "yaw": 30.4, "pitch": -2.0})
    assert text == "move_left:0.50,move_forward:1.23,rotate_right:30,rotate_down:2"
    assert parse_view_change(text) == {"right": -0.5, "up": 0.0, "forward": 1.23, "yaw": 30.0, "pitch": -2.0}
    # the keys' order (right, forward, up), whatever the mapping's; values that round to 0 left out
    assert format_view_change({"up": 0.25, "right": 0.004, "forward": -1.0}) == "move_backward:1.00,move_up:0.25"
    assert format_view_change({}) == "" and parse_view_change(" ") == dict.fromkeys(VIEW_CHANGE_AXES, 0.0)


@pytest.mark.parametrize("text, axes", [
    (" Move_Up : 1 ,move_down:0.25", {"up": 0.75}),  # stripped, lower-cased; repeats add up
    ("move_sideways:1", None), ("move_left:-1", None), ("move_left", None), ("move_left:x", None),
    ("move_left:inf", None), ("move_left:1,", None),
])
def test_parse_view_change(text, axes):
    parsed = parse_view_change(text)
    assert parsed == (None if axes is None else {**dict.fromkeys(VIEW_CHANGE_AXES, 0.0), **axes})
