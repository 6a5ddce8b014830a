"""Completions of a model on a dataset split, scored by the ActoR rewards: how well the model keeps the
action-then-answer format when it samples (temperature 1, as GRPO does), and what its actions and
answers earn. This is the cold start's measure of success, and (greedy, temperature 0) the points of the
sees curve logged during training (train/sees_curve.py).

Every prompt's rewards are kept (`rewards`), so that two runs on the same prompts compare item by item
(before and after GRPO; with the prompts' own images and blind, `blind=True`, each sample's views
swapped for another sample's as in the blind control, data/blind.py).

With the answer-only style (QA fine-tuning) the whole completion is the answer: it is scored by its answer
type, and the format and action parts are 0."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from hatchvl.data.badfiles import drop_bad_samples, open_sample_image
from hatchvl.data.blind import swap_donors
from hatchvl.data.format import read_manifest
from hatchvl.models.generation import generate_texts
from hatchvl.objectives.answers import answer_score
from hatchvl.objectives.prompts import prompt_messages
from hatchvl.objectives.rewards import action_reward, answer_reward, format_reward, reward_target


@dataclass
class SampledRewards:
    count: int
    format_rate: float  # share of completions with format reward 1
    action_reward: float  # means over completions
    answer_reward: float
    temperature: float
    examples: list[str]
    blind: bool = False  # the views were swapped between samples
    ids: list[str] = field(default_factory=list)  # the samples, in order
    rewards: dict[str, list[float]] = field(default_factory=dict)  # part -> the reward of each sample
    bad_samples: list[dict] = field(default_factory=list)  # skipped (skip_bad): files that cannot be decoded

    def as_dict(self) -> dict:
        return asdict(self)


def sample_rewards(model, processor, data: str | Path, split: str = "val", limit: int = 64,
                   temperature: float = 1.0, max_new_tokens: int = 256, batch_size: int = 8,
                   seed: int = 0, blind: bool = False, style: str = "action_answer",
                   skip_bad: bool = False) -> SampledRewards:
    """Sample one completion per sample of the first `limit` samples of a split and score them; with
    `blind`, each sample is shown another sample's views (same number of views, seeded). `style` is the
    prompt's target style: action_answer, or answer (module docstring). A sample whose images cannot be
    decoded (data/badfiles.py) raises BadSampleError naming it, or with skip_bad is left out and listed."""
    if style not in ("action_answer", "answer"):
        raise ValueError(f"style must be action_answer or answer, got {style!r}")
    samples, bad = drop_bad_samples(data, split, read_manifest(data, split)[:limit], skip_bad)
    if not samples:
        raise ValueError(f"split {split!r} of {data} holds no samples to sample from")
    views = [(s.id, s.images) for s in samples]  # (the sample whose files they are, the files)
    if blind:
        donors = swap_donors([len(v) for _, v in views], seed, name=f"split {split!r} of {data}")
        views = [views[d] for d in donors]
    torch.manual_seed(seed)
    outputs: list[str] = []
    for start in range(0, len(samples), batch_size):
        batch = samples[start: start + batch_size]
        images = [[open_sample_image(data, split, owner, p) for p in paths]
                  for owner, paths in views[start: start + batch_size]]
        conversations = [prompt_messages(s, style) for s in batch]
        outputs += generate_texts(model, processor, conversations, images, max_new_tokens, temperature)
    targets = [reward_target(s) for s in samples]
    if style == "answer":
        rewards = {"format": [0.0] * len(outputs), "action": [0.0] * len(outputs),
                   "answer": [answer_score(o.strip(), t.answer, t.answer_type) for o, t in
                              zip(outputs, targets, strict=True)]}
    else:
        rewards = {"format": [format_reward(o) for o in outputs],
                   "action": [action_reward(o, t) for o, t in zip(outputs, targets, strict=True)],
                   "answer": [answer_reward(o, t) for o, t in zip(outputs, targets, strict=True)]}
    n = len(samples)
    return SampledRewards(
        count=n,
        format_rate=sum(rewards["format"]) / n,
        action_reward=sum(rewards["action"]) / n,
        answer_reward=sum(rewards["answer"]) / n,
        temperature=temperature,
        examples=outputs[:3],
        blind=blind,
        ids=[s.id for s in samples],
        rewards=rewards,
        bad_samples=[b.as_dict() for b in bad],
    )
