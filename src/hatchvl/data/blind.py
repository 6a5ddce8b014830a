"""The blind control's swap rule: which item shows which other item's images.

Images move only between items with the same number of views (prompts name each view), by a seeded
derangement within each such group: the group's items form one shuffled cycle, each taking the next one's
images. An item alone in its group keeps its own images. The benchmarks' blind control (eval/blind.py),
the sampled rewards with swapped views (objectives/sampling.py) and the caption probe (objectives/caption_probe.py)
all use it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np


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
