"""Sampled completions of a model on a dataset split, scored by the ActoR rewards: how well the model
keeps the action-then-answer format when it samples (temperature 1, as GRPO does), and what its actions
and answers earn. This is the cold start's measure of success."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from hatchvl.data.format import read_manifest, resolve
from hatchvl.io import open_rgb
from hatchvl.models.generation import generate_texts
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

    def as_dict(self) -> dict:
        return asdict(self)


def sample_rewards(model, processor, data: str | Path, split: str = "val", limit: int = 64,
                   temperature: float = 1.0, max_new_tokens: int = 256, batch_size: int = 8,
                   seed: int = 0) -> SampledRewards:
    """Sample one completion per sample of the first `limit` samples of a split and score them."""
    samples = read_manifest(data, split)[:limit]
    if not samples:
        raise ValueError(f"split {split!r} of {data} holds no samples to sample from")
    torch.manual_seed(seed)
    outputs: list[str] = []
    for start in range(0, len(samples), batch_size):
        batch = samples[start: start + batch_size]
        images = [[open_rgb(resolve(data, p)) for p in s.images] for s in batch]
        conversations = [prompt_messages(s, "action_answer") for s in batch]
        outputs += generate_texts(model, processor, conversations, images, max_new_tokens, temperature)
    targets = [reward_target(s) for s in samples]
    n = len(samples)
    return SampledRewards(
        count=n,
        format_rate=sum(format_reward(o) for o in outputs) / n,
        action_reward=sum(action_reward(o, t) for o, t in zip(outputs, targets, strict=True)) / n,
        answer_reward=sum(answer_reward(o, t) for o, t in zip(outputs, targets, strict=True)) / n,
        temperature=temperature,
        examples=outputs[:3],
    )
