"""The blind control: the same items with each item's images swapped for another item's.

A model that answers as well blind as with its own images did not use the images. Images move only
between items with the same number of views (prompts name each view), by a seeded derangement within
each such group; an item alone in its group keeps its images, is counted, and is left out of the `sees`
gaps (eval/sees.py). A set in which no item can be swapped is an error, not a silent copy of the images.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from hatchvl.eval.benchmarks.items import EvalItem


def swap_donors(view_counts: Sequence[int], seed: int = 0, name: str = "items") -> list[int]:
    """donors[k]: the index whose images item k gets instead of its own. Within each group of equal view
    count the items form one shuffled cycle (each takes the next one's images); an item alone in its group
    is its own donor. Raises ValueError, naming `name`, when no item can be swapped."""
    groups: dict[int, list[int]] = defaultdict(list)
    for k, count in enumerate(view_counts):
        groups[count].append(k)
    rng = np.random.default_rng(seed)
    donors = list(range(len(view_counts)))
    for members in groups.values():
        if len(members) == 1:
            continue
        order = [members[k] for k in rng.permutation(len(members))]
        for position, k in enumerate(order):
            donors[k] = order[(position + 1) % len(order)]
    if view_counts and all(d == k for k, d in enumerate(donors)):
        raise ValueError(f"{name}: the blind control cannot swap images: no two of its {len(view_counts)} items "
                         "have the same number of views")
    return donors


def blind_items(items: Sequence[EvalItem], seed: int = 0, name: str = "items") -> tuple[list[EvalItem], list[str]]:
    """(items with swapped images, ids of the items that kept their own images)."""
    donors = swap_donors([len(item.images) for item in items], seed, name)
    out = [dataclasses.replace(item, images=items[d].images) if d != k else item
           for k, (item, d) in enumerate(zip(items, donors, strict=True))]
    return out, [item.id for k, item in enumerate(items) if donors[k] == k]
