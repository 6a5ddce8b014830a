"""Prompt messages and target texts."""

import pytest

from hatchvl.geometry.actions_text import parse_actions
from hatchvl.objectives.prompts import prompt_messages, question_text, target_text
from hatchvl.objectives.rewards import action_reward, answer_reward, format_reward, reward_target
from tests.objectives.test_rewards import SAMPLE


def test_prompt_has_every_image_in_order_then_the_question():
    (turn,) = prompt_messages(SAMPLE, "action_answer")
    assert turn["role"] == "user"
    blocks = turn["content"]
    assert [b["type"] for b in blocks] == ["text", "image"] * 3 + ["text"]
    assert [b["text"] for b in blocks[0:6:2]] == ["Image 1:", "Image 2:", "Image 3:"]
    text = blocks[-1]["text"]
    assert text.startswith("Where did the camera go?\nA. left\nB. right\nC. behind\nD. ahead\n")
    assert "<action>" in text and "<answer>" in text
    assert "<action>" not in question_text(SAMPLE, "answer")


def test_targets():
    assert target_text(SAMPLE, "answer") == "B"
    actor = target_text(SAMPLE, "action_answer")
    assert parse_actions(actor).pairs == SAMPLE.actions
    target = reward_target(SAMPLE)
    assert format_reward(actor) == 1.0 and answer_reward(actor, target) == 1.0 and action_reward(actor, target) > 0.99
    with pytest.raises(ValueError, match="unknown target style"):
        target_text(SAMPLE, "essay")
