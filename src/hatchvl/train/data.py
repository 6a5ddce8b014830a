"""Turning hatchvl dataset samples into the Hugging Face datasets that TRL's trainers read.

Images are stored as paths and decoded lazily by `datasets` (an `Image` feature), so a large pool does
not sit in memory as pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datasets import Dataset, Image, List

from hatchvl.data.format import Sample, read_manifest, resolve
from hatchvl.objectives.prompts import completion_messages, prompt_messages


def load_samples(data: str | Path, split: str = "train", fraction: float = 1.0, seed: int = 0,
                 limit: int | None = None) -> list[Sample]:
    """A split's samples; with fraction < 1 or a limit below the split's size, a seeded random subset of
    round(fraction * size) samples, at most `limit` (0 or None: no limit; at least one), kept in manifest order."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    samples = read_manifest(data, split)
    if not samples:
        raise ValueError(f"split {split!r} of {data} holds no samples")
    count = max(1, min(round(fraction * len(samples)), limit or len(samples)))
    if count < len(samples):
        keep = np.sort(np.random.default_rng(seed).choice(len(samples), size=count, replace=False))
        samples = [samples[k] for k in keep]
    return samples


def _with_images(rows: dict, root: str | Path, samples: list[Sample]) -> Dataset:
    rows["images"] = [[str(resolve(root, p)) for p in s.images] for s in samples]
    return Dataset.from_dict(rows).cast_column("images", List(Image(mode="RGB")))


def sft_dataset(root: str | Path, samples: list[Sample], style: str) -> Dataset:
    """Prompt-completion rows (TRL's conversational format) with the views as `images`: TRL then puts
    the loss on the completion only."""
    rows = {
        "prompt": [prompt_messages(s, style) for s in samples],
        "completion": [completion_messages(s, style) for s in samples],
    }
    return _with_images(rows, root, samples)


def prompt_dataset(root: str | Path, samples: list[Sample], style: str = "action_answer") -> Dataset:
    """Prompt-only rows for GRPO, with `sample_id` so that rewards find each sample's target."""
    rows = {"prompt": [prompt_messages(s, style) for s in samples], "sample_id": [s.id for s in samples]}
    return _with_images(rows, root, samples)
