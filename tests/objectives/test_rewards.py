"""ActoR rewards: hand-made cases and properties (never raise, always in [0, 1])."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hatchvl.data.format import Sample
from hatchvl.geometry.actions_text import PairActions, format_actions
from hatchvl.geometry.camera import pose_from_heading
from hatchvl.geometry.motion import Action, actions_from_poses, all_pairs
from hatchvl.objectives.rewards import (
    action_reward,
    answer_reward,
    format_reward,
    reward_target,
)

UP = np.array([0.0, 0.0, 1.0])
POSES = [pose_from_heading([1, 1, 1.5], 0), pose_from_heading([2, 0.5, 1.5], 40, 5),
         pose_from_heading([1, 2, 1.6], 179)]


def make_sample(poses=POSES, answer="B", answer_type="choice", options=("left", "right", "behind", "ahead")):
    pairs = tuple(PairActions(i, j, tuple(actions_from_poses(poses[i], poses[j], UP)))
                  for i, j in all_pairs(len(poses)))
    return Sample(
        id="s1", scene_id="room0", category="camera_motion", question="Where did the camera go?",
        options=options if answer_type == "choice" else (), answer=answer, answer_type=answer_type,
        images=tuple(f"images/{k}.png" for k in range(len(poses))), depths=None, K=None,
        c2w=np.stack(poses), up=UP, actions=pairs,
    )


def completion(pairs, answer="B"):
    return f"<action>{format_actions(pairs)}</action>\n<answer>{answer}</answer>"


SAMPLE = make_sample()
TARGET = reward_target(SAMPLE)
PERFECT = completion(SAMPLE.actions)


def test_perfect_completion_scores_one_each():
    assert format_reward(PERFECT) == 1.0
    assert action_reward(PERFECT, TARGET) > 0.99  # only rounding of the actions is lost
    assert answer_reward(PERFECT, TARGET) == 1.0


def test_swapped_pair_order_is_scored_against_the_motion_back():
    swapped = tuple(PairActions(j, i, tuple(actions_from_poses(POSES[j], POSES[i], UP))) for i, j in all_pairs(3))
    assert action_reward(completion(swapped), TARGET) > 0.99
    # the forward actions written under swapped indices are wrong
    mislabelled = tuple(PairActions(p.dst, p.src, p.actions) for p in SAMPLE.actions)
    assert action_reward(completion(mislabelled), TARGET) < 0.8


def test_missing_pair_scores_zero_for_that_pair():
    two_of_three = completion(SAMPLE.actions[:2])
    assert action_reward(two_of_three, TARGET) == pytest.approx(action_reward(PERFECT, TARGET) * 2 / 3, abs=0.01)
    assert format_reward(two_of_three) == 1.0  # well-formed, just incomplete


def test_yaw_near_180_wraps():
    # truth for pair (0, 2) is a turn of 179 degrees; writing "turn left 179" is 2 degrees off, not 358
    sample = make_sample(poses=[pose_from_heading([0, 0, 1.5], 0), pose_from_heading([0, 0, 1.5], 179)])
    target = reward_target(sample)
    left = completion((PairActions(0, 1, (Action("turn_left_deg", 179),)),))
    right = completion((PairActions(0, 1, (Action("turn_right_deg", 179),)),))
    assert action_reward(right, target) == pytest.approx(1.0)
    assert action_reward(left, target) == pytest.approx((1 + np.exp(-2 / 30) + 1) / 3)


def test_numeric_answer_within_ten_percent():
    target = reward_target(make_sample(answer="2.0", answer_type="number"))
    assert answer_reward("<action>[]</action><answer>2.2</answer>", target) == pytest.approx(0.9)
    assert answer_reward("<action>[]</action><answer>1.8 m</answer>", target) == pytest.approx(0.9)


@pytest.mark.parametrize("written, score", [("(B)", 1.0), ("B. chair", 1.0), ("B", 1.0), ("C", 0.0), ("", 0.0)])
def test_multiple_choice_forms(written, score):
    assert answer_reward(completion(SAMPLE.actions, written), TARGET) == score


def test_malformed_parts_lose_only_their_own_credit():
    broken_actions = "<action>[{from: 0, to: 1, actions: [{jump: 3}]}]</action>\n<answer>B</answer>"
    assert format_reward(broken_actions) == 0.0
    assert action_reward(broken_actions, TARGET) == 0.0
    assert answer_reward(broken_actions, TARGET) == 1.0
    no_answer = f"<action>{format_actions(SAMPLE.actions)}</action>"
    assert format_reward(no_answer) == 0.0 and answer_reward(no_answer, TARGET) == 0.0
    assert action_reward(no_answer, TARGET) > 0.99
    for text in (PERFECT + PERFECT, "chatter " + PERFECT, "<answer>B</answer><action>[]</action>"):
        assert format_reward(text) == 0.0


def test_unscorable_samples_fail_at_load_time():
    with pytest.raises(ValueError, match="sample s1: no reward knows answer_type 'essay'"):
        reward_target(make_sample(answer_type="essay"))
    with pytest.raises(ValueError, match="sample s1: answer 'Z9' is not a valid number"):
        reward_target(make_sample(answer="Z9", answer_type="number"))
    with pytest.raises(ValueError, match="at least two views"):
        reward_target(make_sample(poses=POSES[:1]))


fragments = st.sampled_from(["<action>", "</action>", "<answer>", "</answer>", "[", "]", "{", "}", '"from": 0',
                             '"to": 1', '"actions": [', '{"turn_right_deg": 30}', ",", "B", "2.5", "\n"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.lists(fragments, max_size=25).map("".join)))
def test_rewards_never_raise_and_stay_in_range(text):
    for value in (format_reward(text), action_reward(text, TARGET), answer_reward(text, TARGET)):
        assert 0.0 <= value <= 1.0
