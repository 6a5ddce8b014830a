"""The paired bootstrap behind every `sees` gap: right centre, right width, no interval on too few items."""

import numpy as np
import pytest

from hatchvl.stats import MIN_ITEMS_FOR_INTERVAL, format_gap, paired_gap


def test_a_clear_gap_has_an_interval_above_zero_and_a_null_gap_one_around_zero():
    rng = np.random.default_rng(0)
    own = (rng.random(400) < 0.6).astype(float)
    swapped = (rng.random(400) < 0.3).astype(float)
    gap = paired_gap(own, swapped)
    assert gap.delta == pytest.approx(own.mean() - swapped.mean())
    assert 0 < gap.low < gap.delta < gap.high and gap.items == 400
    null = paired_gap(own, rng.permutation(own))
    assert null.low < 0 < null.high


def test_interval_width_shrinks_with_items_and_is_deterministic():
    rng = np.random.default_rng(1)
    small, large = ((rng.random(n) < 0.5).astype(float) for n in (100, 1600))
    width = [paired_gap(x, np.zeros_like(x)).high - paired_gap(x, np.zeros_like(x)).low for x in (small, large)]
    assert width[1] < width[0] / 2.5  # ~1/sqrt(n): a quarter, with bootstrap noise
    assert paired_gap(small, small[::-1], seed=3) == paired_gap(small, small[::-1], seed=3)


def test_too_few_items_get_the_gap_but_no_interval_and_say_why():
    gap = paired_gap([1.0] * (MIN_ITEMS_FOR_INTERVAL - 1), [0.0] * (MIN_ITEMS_FOR_INTERVAL - 1))
    assert gap.delta == 1.0 and gap.low is None and "fewer than 50" in gap.note
    assert "no interval" in format_gap(gap)
    assert format_gap(paired_gap([1.0] * 60, [0.0] * 60), scale=100) == "+100.0 [+100.0, +100.0]"
    with pytest.raises(ValueError, match="one length"):
        paired_gap([1.0, 0.0], [1.0])
