"""Turning hatchvl dataset samples into the Hugging Face datasets that TRL's trainers read.

Images are stored as paths and decoded when a row is read (`DecodeViews`, the decoding of `datasets`'
`Image` feature), so a large pool does not sit in memory as pixels, and a file that fails to decode is
named with its split and a sample that uses it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from datasets import Dataset, Image

from hatchvl.data.badfiles import DECODE_ERRORS, BadSample, decode_error, drop_bad_samples
from hatchvl.data.format import Sample, read_manifest, resolve
from hatchvl.objectives.prompts import CAPTION, caption_messages, completion_messages, prompt_messages

logger = logging.getLogger(__name__)


def load_samples(data: str | Path, split: str = "train", fraction: float = 1.0, seed: int = 0,
                 limit: int | None = None) -> list[Sample]:
    """A split's samples; with fraction < 1 or a limit below the split's size, a seeded random subset of
    round(fraction * size) samples, at most `limit` (0 or None: no limit; at least one), kept in manifest order.
    Their files are not checked here (`usable_samples`)."""
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


def usable_samples(data: str | Path, split: str, samples: list[Sample], skip_bad: bool,
                   what: str = "training") -> tuple[list[Sample], list[BadSample]]:
    """The samples whose image files pass the check of data/badfiles.py, in their order, and the bad ones
    (logged); BadSampleError for the first bad one unless skip_bad. Leaving them out before the trainer draws
    its data order trains the others in the order they would have without the bad ones in the manifest."""
    kept, bad = drop_bad_samples(data, split, samples, skip_bad)
    if bad:
        logger.warning("%s: skipping %d samples whose files cannot be decoded (skip_bad), e.g. %s", what, len(bad),
                       bad[0].describe())
    return kept, bad


class DecodeViews:
    """The transform (`Dataset.with_transform`) of a training dataset: each row's `images`, file paths, decoded
    to RGB as `datasets`' Image feature decodes them; a file that fails names the split and its first sample."""

    def __init__(self, split: str, owners: dict[str, str]):
        self.split, self.owners = split, owners
        self.feature = Image(mode="RGB")

    def __call__(self, batch: dict) -> dict:
        batch["images"] = [[self.decode(path) for path in paths] for paths in batch["images"]]
        return batch

    def decode(self, path: str):
        try:
            return self.feature.decode_example({"path": path, "bytes": None})
        except DECODE_ERRORS as err:
            raise decode_error(self.split, self.owners.get(path, "?"), path, err) from None


def _with_images(rows: dict, root: str | Path, images: list, samples: list[Sample], split: str) -> Dataset:
    """The rows with `images` (each row's relative view paths) decoded when read."""
    rows["images"] = [[str(resolve(root, p)) for p in paths] for paths in images]
    owners = {str(resolve(root, p)): s.id for s in reversed(samples) for p in s.images}  # the first sample wins
    return Dataset.from_dict(rows).with_transform(DecodeViews(split, owners))


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
                seed: int = 0, split: str = "train") -> Dataset:
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
    return _with_images(rows, root, rows.pop("images"), samples, split)


def prompt_dataset(root: str | Path, samples: list[Sample], style: str = "action_answer",
                   split: str = "train") -> Dataset:
    """Prompt-only rows for GRPO, with `sample_id` so that rewards find each sample's target."""
    rows = {"prompt": [prompt_messages(s, style) for s in samples], "sample_id": [s.id for s in samples]}
    return _with_images(rows, root, [s.images for s in samples], samples, split)
