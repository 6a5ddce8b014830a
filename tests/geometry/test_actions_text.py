"""The canonical action text and its lenient parser."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hatchvl.geometry.actions_text import PairActions, format_actions, parse_actions
from hatchvl.geometry.motion import ACTION_NAMES, Action

PAPER = [PairActions(0, 1, (Action("turn_right_deg", 120), Action("move_forward_m", 1.2),
                            Action("turn_left_deg", 150)))]


def test_canonical_text_is_exactly_the_design_example():
    assert format_actions(PAPER) == ('[{"from": 0, "to": 1, "actions": [{"turn_right_deg": 120}, '
                                     '{"move_forward_m": 1.2}, {"turn_left_deg": 150}]}]')


@pytest.mark.parametrize("text", [
    "{from:0,to:1,action:[{turn right: 120 deg},{move forward: 1.2 m},{turn left: 150 deg}]}",
    "[{from: 0, to: 1, actions: [{turn right: 120 degrees}, {move forward: 1.2 meters}, {turn left: 150°},],},]",
    '<action>[{"from": 0, "to": 1, "actions": [{"turn_right_deg": 120}, {"move_forward_m": 1.2}, '
    '{"turn_left_deg": 150},]}]</action><answer>C</answer>',
    '  [ { "from" : 0 ,\n "to" : 1 , "actions" : [ {"turn_right_deg":120.0} , {"move_forward_m" : 1.2 } ,'
    ' {"turn_left_deg": 1.5e2} ] } ]  ',
])
def test_lenient_forms_parse_to_the_same_actions(text):
    parsed = parse_actions(text)
    assert parsed.ok, parsed.error
    assert parsed.pairs == tuple(PAPER)


@pytest.mark.parametrize("text, message", [
    ("", "no actions"),
    ("I think the camera turned left.", "expected a value"),
    ('[{"from": 0, "to": 1, "actions": [{"turn_right_deg": -30}]}]', "negative"),
    ('[{"from": 0, "to": 1, "actions": [{"move_left_m": 1}]}]', "unknown action"),
    ('[{"from": 0, "to": 1, "actions": [{"turn_right_deg": 30, "move_forward_m": 1}]}]', "one"),
    ("{from:0,to:1,action:[{turn right: 1.2 m}]}", "unknown action|unit"),
    ('[{"from": 0, "to": 1, "actions": [{"turn_right_deg": "30"}]}]', "needs a number"),
    ('[{"from": 0, "to": 0, "actions": []}]', "itself"),
    ('[{"from": 0, "to": 1, "actions": []}, {"from": 0, "to": 1, "actions": []}]', "repeated"),
    ('[{"from": 0.5, "to": 1, "actions": []}]', "image index"),
    ('[{"from": 0, "to": 1, "actions": [{"turn_right_deg": NaN}]}]', "needs a number"),
    ("<action>[]</action><action>[]</action>", "2 <action> blocks"),
    ('[{"from": 0, "to": 1, "actions": [{"turn_right_deg": 1e999}]}]', "needs a number"),
    ("[" * 5000 + "]" * 5000, "deep"),
])
def test_unreadable_text_is_a_reported_failure(text, message):
    parsed = parse_actions(text)
    assert not parsed.ok and parsed.pairs == ()
    assert any(part in parsed.error for part in message.split("|")), parsed.error


amounts = st.one_of(st.integers(0, 360).map(float), st.integers(0, 100).map(lambda k: round(k * 0.1, 9)))
actions = st.builds(Action, st.sampled_from(ACTION_NAMES), amounts)
pairs = st.lists(st.builds(PairActions, st.integers(0, 5), st.integers(6, 9),
                           st.lists(actions, max_size=6).map(tuple)),
                 max_size=6, unique_by=lambda p: (p.src, p.dst))


@settings(max_examples=300, deadline=None)
@given(pairs)
def test_parse_of_format_is_identity(p):
    parsed = parse_actions(format_actions(p))
    assert parsed.ok, parsed.error
    assert parsed.pairs == tuple(p)


@settings(max_examples=1000, deadline=None)
@given(st.text())
def test_parse_never_raises_on_any_text(text):
    parsed = parse_actions(text)
    assert parsed.ok or parsed.error


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='[]{}:,"0123456789. -e_turnlfgdmaciso\n', max_size=80))
def test_parse_never_raises_on_near_miss_syntax(text):
    parsed = parse_actions(text)
    assert parsed.ok == (parsed.error is None)
