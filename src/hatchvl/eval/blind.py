"""The blind control: the same items with each item's images swapped for another item's.

A model that answers as well blind as with its own images did not use the images. Images move by the
swap rule of hatchvl.data.blind (within groups of equal view count); an item alone in its group keeps its
images, is counted, and is left out of the `sees` gaps (eval/sees.py). A set in which no item can be
swapped is an error, not a silent copy of the images.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hatchvl.data.blind import swap_donors
from hatchvl.eval.benchmarks.items import EvalItem


def blind_items(items: Sequence[EvalItem], seed: int = 0, name: str = "items") -> tuple[list[EvalItem], list[str]]:
    """(items with swapped images, ids of the items that kept their own images)."""
    donors = swap_donors([len(item.images) for item in items], seed, name)
    out = [dataclasses.replace(item, images=items[d].images) if d != k else item
           for k, (item, d) in enumerate(zip(items, donors, strict=True))]
    return out, [item.id for k, item in enumerate(items) if donors[k] == k]
