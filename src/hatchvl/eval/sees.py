"""`sees`: how much a model's score depends on its own images, item by item.

sees = mean item score with the item's own images − with another item's images (the blind control,
eval/blind.py), in points, over the items both runs scored; items that kept their own images in the
blind run are left out. Each gap has a 95% paired bootstrap interval over items (hatchvl.stats), overall
and per category; fewer than 50 items get the gap without an interval and a note that says why.

The overall gap is item-weighted, also for benchmarks whose official average is a mean over tasks
(SPAR-Bench): it answers "did the images change the answers", not "by how much did the headline move".
A model that does not use its images has sees ≈ 0 with an interval around 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from hatchvl.stats import Gap, format_gap_keys, gap_keys, paired_gap


def _gap_entry(gap: Gap) -> dict:
    return gap_keys("sees", gap, scale=100) | {"sees_items": gap.items}


def sees_gaps(own: Sequence[dict], blind: Sequence[dict], kept: Iterable[str] = (), seed: int = 0) -> dict:
    """From the scored rows (`id`, `category`, `score`) of a run and its blind control: {sees, sees_ci,
    sees_items[, sees_note], categories: {category: {sees, sees_ci, sees_items[, sees_note]}}}."""
    blind_scores = {row["id"]: row["score"] for row in blind}
    left_out = set(kept)
    pairs = [(row["category"], row["score"], blind_scores[row["id"]]) for row in own
             if row["id"] in blind_scores and row["id"] not in left_out]
    if not pairs:
        raise ValueError("no item was scored both with its own images and in the blind control")
    out = _gap_entry(paired_gap([a for _, a, _ in pairs], [b for _, _, b in pairs], seed=seed))
    by_category: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for category, a, b in pairs:
        by_category[category].append((a, b))
    out["categories"] = {c: _gap_entry(paired_gap([a for a, _ in v], [b for _, b in v], seed=seed))
                         for c, v in sorted(by_category.items())}
    return out


def format_sees(entry: dict) -> str:
    """'+12.3 [+5.1, +19.0]' points, or '+1.0 (no interval: ...)'."""
    return format_gap_keys(entry, "sees")
