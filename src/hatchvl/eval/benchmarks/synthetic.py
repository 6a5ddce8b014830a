"""The synthetic benchmark: the `test` split of a dataset in the hatchvl dataset format
(hatchvl.data.format; markers are already drawn into its images). Scored with hatchvl's own answer
scores (hatchvl.objectives.answers); categories are the samples' categories."""

from __future__ import annotations

from pathlib import Path

from hatchvl.data.format import LETTERS, read_manifest, resolve
from hatchvl.eval.benchmarks.items import HATCH_CHOICE, HATCH_NUMBER, HATCH_VIEW_CHANGE, Benchmark, EvalItem

SPLIT = "test"
_SCORING = {"choice": HATCH_CHOICE, "number": HATCH_NUMBER, "view_change": HATCH_VIEW_CHANGE}


def read_synthetic(path: Path, images: bool = True) -> Benchmark:
    """The test split of the hatchvl dataset at path (its root folder); with images, every image file
    must exist (ValueError naming the manifest line and sample otherwise)."""
    samples = read_manifest(path, SPLIT, check_files=images)
    if not samples:
        raise ValueError(f"{path}: the {SPLIT} split is empty")
    items = tuple(
        EvalItem(
            id=s.id,
            images=tuple(resolve(path, p) for p in s.images) if images else (),
            question=s.question,
            answer=s.answer,
            category=s.category,
            scoring=_SCORING[s.answer_type],
            options=tuple(LETTERS[: len(s.options)]),
            sample=s,
        )
        for s in samples
    )
    return Benchmark("synthetic", items, (f"read {path}/{SPLIT}.jsonl ({len(items)} samples)",))
