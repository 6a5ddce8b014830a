"""The blind control's image swap."""

import pytest

from hatchvl.data.blind import swap_donors
from hatchvl.eval.benchmarks.items import MMSI_LETTER, EvalItem
from hatchvl.eval.blind import blind_items


def _item(k, views):
    return EvalItem(id=str(k), images=tuple(f"img{k}_{v}.png" for v in range(views)), question="?", answer="A",
                    category="c", scoring=MMSI_LETTER, options=("A", "B"))


def test_every_item_gets_another_items_images_with_the_same_view_count():
    items = [_item(k, 2 + k % 3) for k in range(30)] + [_item(99, 7)]
    blind, kept = blind_items(items, seed=3)
    assert kept == ["99"] and blind[-1].images == items[-1].images
    for original, swapped in zip(items[:-1], blind[:-1], strict=True):
        assert swapped.id == original.id and swapped.answer == original.answer
        assert swapped.images != original.images and len(swapped.images) == len(original.images)
    # a permutation: every image tuple is used exactly once
    assert sorted(b.images for b in blind) == sorted(i.images for i in items)
    assert blind_items(items, seed=3)[0] == blind and blind_items(items, seed=4)[0] != blind


def test_a_set_where_no_item_can_swap_is_an_error_naming_it():
    with pytest.raises(ValueError, match="mmsi: the blind control cannot swap images"):
        blind_items([_item(k, 2 + k) for k in range(4)], name="mmsi")
    assert swap_donors([2, 2], seed=0) == [1, 0] and swap_donors([], seed=0) == []
