"""ActoR's verifiable rewards (docs/actor.md, "Rewards"): pure functions of (completion text, target).

Each reward is in [0, 1] and never raises on any completion:
- format: exactly one <action> block, then exactly one <answer> block, nothing else but whitespace,
  the actions parse and the answer is not empty.
- action: for every true view pair, compose the predicted actions and compare with the true motion:
  mean of exp(-|d pos| / sigma_m), exp(-|d yaw| / sigma_yaw), exp(-|d pitch| / sigma_pitch); a pair
  written in the other order (j -> i) is compared with the motion back; a missing pair scores 0;
  averaged over the true pairs. Extra pairs are ignored.
- answer: the text inside the one <answer> block, scored by its answer type (objectives.answers).
- total: w_action * action + w_answer * answer + w_format * format, summed by TRL's GRPOTrainer
  (`reward_weights`, hatchvl.train.grpo).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from hatchvl.data.answers import ANSWER_TYPES
from hatchvl.data.format import Sample
from hatchvl.geometry.actions_text import ParsedActions, parse_actions
from hatchvl.geometry.motion import Motion, all_pairs, compose_actions, invert_motion, motion_error, relative_motion
from hatchvl.objectives.answers import answer_score

_STRUCTURE = re.compile(r"^\s*<action>(.*?)</action>\s*<answer>(.*?)</answer>\s*$", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@dataclass(frozen=True)
class RewardTarget:
    """What a completion is scored against: the answer and the true motion of every pair i < j."""

    answer: str
    answer_type: str
    motions: dict[tuple[int, int], Motion]


@dataclass(frozen=True)
class RewardConfig:
    """Reward weights and the scales of the action reward (metres, degrees)."""

    w_action: float = 1.0
    w_answer: float = 1.0
    w_format: float = 0.5
    sigma_m: float = 0.5
    sigma_yaw: float = 30.0
    sigma_pitch: float = 15.0


def reward_target(sample: Sample) -> RewardTarget:
    """The target of a sample: motions from its poses, or, without poses, from its target actions.

    Raises ValueError naming the sample when it cannot be scored (unknown answer type, fewer than two
    views, no geometry and no target actions), so that bad data fails at load time, not in training.
    """
    if sample.answer_type not in ANSWER_TYPES:
        raise ValueError(f"sample {sample.id}: no reward knows answer_type {sample.answer_type!r} "
                         f"(expected one of {', '.join(ANSWER_TYPES)})")
    pairs = all_pairs(sample.num_views)
    if not pairs:
        raise ValueError(f"sample {sample.id}: ActoR needs at least two views, got {sample.num_views}")
    if sample.c2w is not None and sample.up is not None:
        motions = {(i, j): relative_motion(sample.c2w[i], sample.c2w[j], sample.up) for i, j in pairs}
    else:
        written = {(p.src, p.dst): p.actions for p in sample.actions}
        if set(written) != set(pairs):
            raise ValueError(f"sample {sample.id}: without poses, target actions must cover every pair {pairs}")
        motions = {pair: compose_actions(written[pair]) for pair in pairs}
    target = RewardTarget(sample.answer, sample.answer_type, motions)
    try:
        scores_itself = answer_score(sample.answer, sample.answer, sample.answer_type) == 1.0
    except ValueError:
        scores_itself = False
    if not scores_itself:
        raise ValueError(f"sample {sample.id}: answer {sample.answer!r} is not a valid {sample.answer_type} answer")
    return target


@lru_cache(maxsize=8192)
def _parsed(completion: str) -> ParsedActions:
    """parse_actions, cached: the three rewards of one completion read it once."""
    return parse_actions(completion)


def format_reward(completion: str) -> float:
    if not isinstance(completion, str):
        return 0.0
    match = _STRUCTURE.match(completion)
    if not match or completion.count("<action>") != 1 or completion.count("<answer>") != 1:
        return 0.0
    return float(bool(match.group(2).strip()) and _parsed(completion).ok)


def _pair_score(predicted: Motion, truth: Motion, cfg: RewardConfig) -> float:
    pos, yaw, pitch = motion_error(predicted, truth)
    return (math.exp(-pos / cfg.sigma_m) + math.exp(-yaw / cfg.sigma_yaw) + math.exp(-pitch / cfg.sigma_pitch)) / 3


def action_reward(completion: str, target: RewardTarget, cfg: RewardConfig = RewardConfig()) -> float:
    if not isinstance(completion, str) or "<action>" not in completion:
        return 0.0
    parsed = _parsed(completion)
    if not parsed.ok or not target.motions:
        return 0.0
    written = {(p.src, p.dst): p.actions for p in parsed.pairs}
    total = 0.0
    for (i, j), truth in target.motions.items():
        if (i, j) in written:
            total += _pair_score(compose_actions(written[i, j]), truth, cfg)
        elif (j, i) in written:
            total += _pair_score(compose_actions(written[j, i]), invert_motion(truth), cfg)
    return total / len(target.motions)


def answer_reward(completion: str, target: RewardTarget) -> float:
    if not isinstance(completion, str):
        return 0.0
    answers = _ANSWER.findall(completion)
    if len(answers) != 1:
        return 0.0
    return answer_score(answers[0], target.answer, target.answer_type)

