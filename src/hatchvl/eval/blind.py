"""The blind control: the same items with each item's images swapped for another item's.

A model that answers as well blind as with its own images did not use the images. Images move only
between items with the same number of views (prompts name each view), by a seeded derangement within
each such group; an item alone in its group keeps its images and is counted.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from hatchvl.eval.benchmarks.items import EvalItem


def blind_items(items: Sequence[EvalItem], seed: int = 0) -> tuple[list[EvalItem], int]:
    """(items with swapped images, number of items that kept their own images)."""
    groups: dict[int, list[int]] = defaultdict(list)
    for k, item in enumerate(items):
        groups[len(item.images)].append(k)
    rng = np.random.default_rng(seed)
    out, kept = list(items), 0
    for members in groups.values():
        if len(members) == 1:
            kept += 1
            continue
        order = [members[k] for k in rng.permutation(len(members))]
        for position, k in enumerate(order):  # each takes the images of the next in a shuffled cycle
            donor = order[(position + 1) % len(order)]
            out[k] = dataclasses.replace(items[k], images=items[donor].images)
    return out, kept
