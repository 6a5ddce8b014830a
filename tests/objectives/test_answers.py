"""Answer reading and scoring by answer type."""

import pytest

from hatchvl.objectives.answers import (
    answer_score,
    mean_relative_accuracy,
    read_choice,
    read_number,
    view_change_accuracy,
)


@pytest.mark.parametrize("text, letter", [
    ("B", "B"), ("(B)", "B"), ("B. chair", "B"), (" b ", "B"), ("B)", "B"), ("C: red box", "C"),
    ("chair", None), ("", None), ("The answer is B", None), ("b. chair", None), ("BC", None),
])
def test_read_choice(text, letter):
    assert read_choice(text) == letter


@pytest.mark.parametrize("text, value", [
    ("2.5", 2.5), ("2.5 m", 2.5), ("about 3 metres", 3.0), ("-1.25", -1.25), (".5m", 0.5), ("none", None),
    ("1e999", None),
])
def test_read_number(text, value):
    assert read_number(text) == value


def test_mean_relative_accuracy_thresholds():
    assert mean_relative_accuracy(2.0, 2.0) == 1.0
    assert mean_relative_accuracy(2.2, 2.0) == pytest.approx(0.9)  # 10% off: passes 0.50 .. 0.90
    assert mean_relative_accuracy(1.8, 2.0) == pytest.approx(0.9)
    assert mean_relative_accuracy(2.5, 2.0) == pytest.approx(0.6)  # 25%: passes 0.50 .. 0.75
    assert mean_relative_accuracy(3.1, 2.0) == 0.0
    assert mean_relative_accuracy(0.0, 0.0) == 1.0 and mean_relative_accuracy(0.3, 0.0) == pytest.approx(0.5)


def test_view_change_scoring():
    text = "move_left:0.50,move_forward:1.23,rotate_right:30,rotate_down:2"
    assert view_change_accuracy(text, text) == 1.0
    # right and up exact, forward 10% off, yaw and pitch exact
    assert view_change_accuracy("move_left:0.5,move_forward:1.353,rotate_right:30,rotate_down:2", text) == \
        pytest.approx((1 + 1 + 0.9 + 1 + 1) / 5)
    assert view_change_accuracy("move_sideways:1", text) == 0.0
    assert view_change_accuracy("move_left:-1", text) == 0.0


def test_answer_score_by_type():
    assert answer_score("(B)", "B", "choice") == 1.0 and answer_score("C. lamp", "B", "choice") == 0.0
    assert answer_score("2.2 m", "2.0", "number") == pytest.approx(0.9)
    assert answer_score("no idea", "2.0", "number") == 0.0
    with pytest.raises(ValueError, match="unknown answer_type 'essay'"):
        answer_score("x", "y", "essay")
