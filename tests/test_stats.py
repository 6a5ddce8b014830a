"""The paired bootstrap behind every `sees` gap: right centre, right width, no interval on too few items."""

import numpy as np
import pytest

from hatchvl.stats import MIN_ITEMS_FOR_INTERVAL, paired_gap


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
    assert paired_gap([1.0] * 60, [0.0] * 60).low == 1.0 and "no interval" in gap.note
    with pytest.raises(ValueError, match="one length"):
        paired_gap([1.0, 0.0], [1.0])


def test_intervals_are_written_with_their_sign_or_the_reason_there_is_none():
    from hatchvl.stats import format_interval

    assert format_interval(1.4, [-1.3, 4.2]) == "+1.4 [-1.3, +4.2]"
    assert format_interval(0.0123, [0.001, 0.02], digits=3) == "+0.012 [+0.001, +0.020]"
    note = "no interval: 12 items, fewer than 50"
    assert format_interval(-2.0, None, note) == f"-2.0 ({note})"


def test_gap_keys_name_the_gap_its_interval_and_why_there_is_none():
    from hatchvl.stats import format_gap_keys, gap_keys

    keys = gap_keys("sees", paired_gap([1.0] * 60, [0.0] * 60), scale=100)
    assert keys == {"sees": 100.0, "sees_ci": [100.0, 100.0]}
    assert format_gap_keys(keys, "sees") == "+100.0 [+100.0, +100.0]"
    few = gap_keys("delta", paired_gap([0.5, 0.0], [0.0, 0.0]))
    assert few["delta_ci"] is None and "fewer than 50" in few["delta_note"]
    assert format_gap_keys(few, "delta", digits=2).startswith("+0.25 (no interval")
