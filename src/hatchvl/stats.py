"""Intervals for held-out numbers: the paired bootstrap that every `sees` gap and held-out delta uses.

A gap between two conditions scored on the same items (own images vs swapped images, before vs after a
stage) is a paired difference: resampling items keeps each item's pair together, so the interval reflects
how much the gap depends on which items were drawn, not the spread of the items' difficulty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_ITEMS_FOR_INTERVAL = 50  # fewer items than this get the gap but no interval
RESAMPLES = 2000


@dataclass(frozen=True)
class Gap:
    """mean(a) - mean(b) over paired items, with a 95% bootstrap interval (None when there are too few)."""

    delta: float
    low: float | None
    high: float | None
    items: int
    note: str = ""  # why there is no interval


def paired_gap(a: Sequence[float], b: Sequence[float], seed: int = 0, resamples: int = RESAMPLES,
               level: float = 0.95) -> Gap:
    """Mean of a[i] - b[i] with a percentile bootstrap interval over items (a and b the same length)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be two 1-D sequences of one length, got {a.shape} and {b.shape}")
    if len(a) == 0:
        raise ValueError("paired_gap needs at least one item")
    diff = a - b
    delta = float(diff.mean())
    if len(diff) < MIN_ITEMS_FOR_INTERVAL:
        return Gap(delta, None, None, len(diff),
                   note=f"no interval: {len(diff)} items, fewer than {MIN_ITEMS_FOR_INTERVAL}")
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Gap(delta, float(low), float(high), len(diff))


def gap_keys(name: str, gap: Gap, scale: float = 1.0) -> dict:
    """{name: delta, name_ci: [low, high] or None, name_note: why (only when there is no interval)}, scaled
    (100 for points)."""
    out = {name: scale * gap.delta, f"{name}_ci": None if gap.low is None else [scale * gap.low, scale * gap.high]}
    if gap.note:
        out[f"{name}_note"] = gap.note
    return out


def format_interval(value: float, ci: Sequence[float] | None, note: str = "", digits: int = 1) -> str:
    """'+1.4 [-1.3, +4.2]', or '+1.4 (no interval: ...)' when there is none."""
    text = f"{value:+.{digits}f}"
    if ci is None:
        return f"{text} ({note or 'no interval'})"
    return f"{text} [{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]"


def format_gap_keys(entry: dict, name: str, digits: int = 1) -> str:
    """format_interval of the keys gap_keys wrote under `name`."""
    return format_interval(entry[name], entry.get(f"{name}_ci"), entry.get(f"{name}_note", ""), digits)
