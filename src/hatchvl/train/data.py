"""Turning hatchvl dataset samples into the Hugging Face datasets that TRL's trainers read.

Images are stored as paths and decoded lazily by `datasets` (an `Image` feature), so a large pool does
not sit in memory as pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datasets import Dataset, Image, List

from hatchvl.data.format import Sample, read_manifest, resolve
from hatchvl.objectives.prompts import CAPTION, caption_messages, completion_messages, prompt_messages


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


def _with_images(rows: dict, root: str | Path, images: list) -> Dataset:
    """The rows with `images` (each row's relative view paths) as lazily decoded RGB images."""
    rows["images"] = [[str(resolve(root, p)) for p in paths] for paths in images]
    return Dataset.from_dict(rows).cast_column("images", List(Image(mode="RGB")))


def captioned_views(samples: list[Sample], where: str) -> list[tuple[str, str]]:
    """(image path, caption) of every distinct view of the samples, in manifest order. A sample without
    captions is an error naming `where` (the split) and the sample."""
    views: dict[str, str] = {}
    for s in samples:
        if not s.captions:
            raise ValueError(f"{where}: sample {s.id!r} has no captions; the caption target needs a dataset with "
                             "captions (`hatchvl data synth` writes them)")
        for path, text in zip(s.images, s.captions, strict=True):
            views.setdefault(path, text)
    return list(views.items())


def _caption_rows(views: list[tuple[str, str]]) -> dict:
    return {"prompt": [caption_messages()[:1] for _ in views],
            "completion": [caption_messages(text)[1:] for _, text in views], "images": [[p] for p, _ in views]}


def sft_dataset(root: str | Path, samples: list[Sample], style: str, caption_share: float = 0.0,
                seed: int = 0) -> Dataset:
    """Prompt-completion rows (TRL's conversational format) with the views as `images`: TRL then puts
    the loss on the completion only. style "caption": one row per distinct view, its caption as the
    target. Otherwise one row per sample, plus caption rows making up `caption_share` of all rows (views
    drawn with the seed), so that a skill learnt in pretraining is not forgotten."""
    where = f"dataset {root}"
    if style == CAPTION:
        rows = _caption_rows(captioned_views(samples, where))
    else:
        rows = {"prompt": [prompt_messages(s, style) for s in samples],
                "completion": [completion_messages(s, style) for s in samples], "images": [s.images for s in samples]}
        if caption_share > 0:
            views = captioned_views(samples, where)
            count = round(len(samples) * caption_share / (1 - caption_share))
            picked = np.random.default_rng(seed).choice(len(views), size=count, replace=count > len(views))
            extra = _caption_rows([views[k] for k in picked])
            rows = {key: rows[key] + extra[key] for key in rows}
    return _with_images(rows, root, rows.pop("images"))


def prompt_dataset(root: str | Path, samples: list[Sample], style: str = "action_answer") -> Dataset:
    """Prompt-only rows for GRPO, with `sample_id` so that rewards find each sample's target."""
    rows = {"prompt": [prompt_messages(s, style) for s in samples], "sample_id": [s.id for s in samples]}
    return _with_images(rows, root, [s.images for s in samples])
