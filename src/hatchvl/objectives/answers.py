"""Reading and scoring an answer against the truth, per answer type (the sample's `answer_type`):

- "choice": an option letter. "B", "(B)", "B. chair" and "b" read as B; anything else is no answer.
- "number": the first number in the text (sign and decimals kept, units ignored), scored by mean
  relative accuracy (MRA) over the thresholds 0.50, 0.55 ... 0.95, as SPAR-Bench scores numbers.
- "view_change": a SPAR-style `key:value,key:value` motion (keys and parsing:
  hatchvl.data.answers), scored by MRA on each of 5 signed axes, then averaged.

These are the training-time answer scores used by the ActoR answer reward and the synthetic
benchmark. The benchmarks' own official extraction rules live in hatchvl.eval.
"""

from __future__ import annotations

import math
import re

from hatchvl.data.answers import ANSWER_TYPES, VIEW_CHANGE_AXES, parse_view_change

MRA_THRESHOLDS = tuple(0.50 + 0.05 * k for k in range(10))
_EPS = 1e-9  # so that an error of exactly 10% passes the 0.90 threshold despite float rounding

_LETTER = re.compile(r"^\(?\s*([A-J])\s*\)?(?:[.:)\]]|\s|$)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def read_choice(text: str) -> str | None:
    """The option letter an answer names, or None."""
    text = text.strip()
    if len(text) == 1 and text.isalpha():
        text = text.upper()
    match = _LETTER.match(text)
    return match.group(1) if match else None


def read_number(text: str) -> float | None:
    """The first finite number in the text, or None."""
    match = _NUMBER.search(text)
    if not match:
        return None
    value = float(match.group())
    return value if math.isfinite(value) else None


def mean_relative_accuracy(pred: float, truth: float) -> float:
    """Fraction of thresholds t in 0.50:0.95:0.05 with |pred - truth| <= (1 - t) |truth|.

    A truth of 0 has no relative error: the absolute error |pred| takes its place. The thresholds are
    decimal-exact (a 1e-9 tolerance): the benchmarks' float-exact copy is hatchvl.eval.score.spar_bench_mra.
    """
    error = abs(pred - truth) / abs(truth) if truth != 0 else abs(pred)
    return sum(error <= 1 - t + _EPS for t in MRA_THRESHOLDS) / len(MRA_THRESHOLDS)


def view_change_accuracy(pred: str, truth: str) -> float:
    """Mean over the 5 axes of the MRA of predicted against true motion; 0 if the prediction does not
    parse."""
    p, t = parse_view_change(pred), parse_view_change(truth)
    if p is None:
        return 0.0
    if t is None:
        raise ValueError(f"the true view change {truth!r} does not parse")
    return sum(mean_relative_accuracy(p[a], t[a]) for a in VIEW_CHANGE_AXES) / len(VIEW_CHANGE_AXES)


def answer_score(answer_text: str, truth: str, answer_type: str) -> float:
    """Score in [0, 1] of an answer (the text inside <answer>) against the truth."""
    if answer_type == "choice":
        return float(read_choice(answer_text) == truth.strip().upper())
    if answer_type == "number":
        pred = read_number(answer_text)
        return 0.0 if pred is None else mean_relative_accuracy(pred, float(truth))
    if answer_type == "view_change":
        return view_change_accuracy(answer_text, truth)
    raise ValueError(f"unknown answer_type {answer_type!r}; expected one of {', '.join(ANSWER_TYPES)}")
