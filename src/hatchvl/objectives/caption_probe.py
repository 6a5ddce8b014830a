"""The caption probe: does the model describe the view it is shown, or a view in general?

For held-out views with captions (data/synthetic/captions.py), the model writes a greedy caption of each
view twice: shown the view itself, and shown another view (the blind control's swap rule,
hatchvl.data.blind). Each generated caption is read back and compared with the *true* view's caption:

- count_correct: the leading object count equals the true count;
- precision (visible-object precision): the share of the objects it names ("<colour> <shape>") that
  the true view shows (a caption naming nothing scores 1 on a view without objects, else 0);
- first_visible: the first object it names is shown (the same rule for naming nothing);
- loss: the mean per-token negative log-likelihood (nats) of the true caption, teacher-forced.

`sees` = precision with the view − with another view, in points, with a 95% paired bootstrap interval
over views (hatchvl.stats); `loss_gap` = loss with another view − with the view (positive: the view
helps). A model that ignores its images scores the same either way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from hatchvl.data.badfiles import DECODE_ERRORS, BadSampleError, drop_bad_samples
from hatchvl.data.blind import swap_donors
from hatchvl.data.format import read_manifest, resolve
from hatchvl.io import open_rgb
from hatchvl.models.generation import generate_texts
from hatchvl.objectives.prompts import caption_messages
from hatchvl.stats import paired_gap

_COUNT = re.compile(r"^\s*(\d+) objects?:|^\s*(no) objects\.")
_NAMED = re.compile(r"([a-z]+ [a-z]+) (?:left|centre|right)\b")


@dataclass(frozen=True)
class CaptionRead:
    """What a caption says: the object count (None when unreadable) and the objects named, in order."""

    count: int | None
    names: tuple[str, ...]


def read_caption(text: str) -> CaptionRead:
    match = _COUNT.match(text)
    count = None if match is None else (0 if match.group(2) else int(match.group(1)))
    return CaptionRead(count, tuple(_NAMED.findall(text)))


def caption_scores(generated: str, truth: str) -> dict[str, float]:
    """count_correct, precision and first_visible of one generated caption against the true one."""
    said, true = read_caption(generated), read_caption(truth)
    shown = set(true.names)
    if said.names:
        precision = sum(name in shown for name in said.names) / len(said.names)
        first = float(said.names[0] in shown)
    else:
        precision = first = float(not shown)
    return {"count_correct": float(said.count is not None and said.count == true.count), "precision": precision,
            "first_visible": first}


def held_out_views(data: str | Path, split: str, limit: int, skip_bad: bool = False) -> list[tuple[str, str]]:
    """(image path, caption) of the first `limit` distinct captioned views of a split. A sample whose images
    cannot be decoded (data/badfiles.py) raises BadSampleError naming it, or with skip_bad is passed over."""
    views: dict[str, str] = {}
    for sample in read_manifest(data, split):
        if not drop_bad_samples(data, split, [sample], skip_bad)[0]:
            continue
        for path, text in zip(sample.images, sample.captions, strict=False):
            views.setdefault(path, text)
        if len(views) >= limit:
            break
    if not views:
        raise ValueError(f"split {split!r} of {data} has no captioned views (a dataset without captions)")
    return list(views.items())[:limit]


def _decode(data: str | Path, path: str):
    try:
        return open_rgb(resolve(data, path))
    except DECODE_ERRORS as err:
        raise BadSampleError(f"caption probe of {data}: {path} cannot be decoded ({err}); fix or remove the file") \
            from None


def caption_nll(model, processor, image, caption: str) -> float:
    """Mean negative log-likelihood (nats per token) of `caption` as the answer to the caption prompt."""
    prompt = processor.apply_chat_template(caption_messages(), add_generation_prompt=True, tokenize=False)
    full = processor.apply_chat_template(caption_messages(caption), tokenize=False)
    inputs = processor(text=[full], images=[image], return_tensors="pt").to(model.device)
    start = processor(text=[prompt], images=[image], return_tensors="pt")["input_ids"].shape[1]
    labels = inputs["input_ids"].clone()
    labels[:, :start] = -100
    with torch.inference_mode():
        return float(model(**inputs, labels=labels).loss)


@dataclass
class CaptionProbe:
    views: int
    own: dict[str, float]  # means of count_correct, precision, first_visible, loss with the view itself
    swapped: dict[str, float]  # the same with another view
    sees: float  # points of precision, own - swapped
    sees_ci: list[float] | None
    loss_gap: float  # nats/token, swapped - own
    note: str
    examples: list[dict]

    def as_dict(self) -> dict:
        return asdict(self)


def run_caption_probe(model, processor, data: str | Path, views: Sequence[tuple[str, str]], seed: int = 0,
                      batch_size: int = 16, max_new_tokens: int = 64) -> CaptionProbe:
    """The probe of the module docstring on `views` (held_out_views)."""
    donors = swap_donors([1] * len(views), seed, name="caption probe")
    images = [_decode(data, path) for path, _ in views]
    model.eval()
    per: dict[str, dict[str, list[float]]] = {}
    texts: dict[str, list[str]] = {}
    for kind, order in (("own", list(range(len(views)))), ("swapped", donors)):
        shown = [images[k] for k in order]
        outputs: list[str] = []
        for start in range(0, len(views), batch_size):
            batch = shown[start: start + batch_size]
            outputs += generate_texts(model, processor, [caption_messages() for _ in batch], [[i] for i in batch],
                                      max_new_tokens)
        scores = [caption_scores(out, truth) for out, (_, truth) in zip(outputs, views, strict=True)]
        per[kind] = {key: [s[key] for s in scores] for key in scores[0]}
        per[kind]["loss"] = [caption_nll(model, processor, image, truth) for image, (_, truth) in
                             zip(shown, views, strict=True)]
        texts[kind] = outputs
    gap = paired_gap(per["own"]["precision"], per["swapped"]["precision"], seed=seed)
    means = {kind: {key: float(np.mean(values)) for key, values in per[kind].items()} for kind in per}
    return CaptionProbe(
        views=len(views), own=means["own"], swapped=means["swapped"], sees=100 * gap.delta,
        sees_ci=None if gap.low is None else [100 * gap.low, 100 * gap.high],
        loss_gap=means["swapped"]["loss"] - means["own"]["loss"], note=gap.note,
        examples=[{"image": views[k][0], "truth": views[k][1], "own": texts["own"][k],
                   "swapped": texts["swapped"][k]} for k in range(min(3, len(views)))],
    )
