"""Scoring and aggregation, per benchmark, as the benchmarks' authors score. Pure functions.

Item scores are in [0, 1]; aggregates are percentages.

- SPAR-Bench multiple choice (the SPAR authors' rule): both lower-cased; correct when equal, when the
  prediction is a substring of the answer (so an empty prediction is correct), or when the
  prediction's first character equals the answer.
- SPAR-Bench numbers: mean relative accuracy (MRA) over the thresholds 0.50, 0.55 ... 0.95, an item
  passing threshold t when |pred - truth| / |truth| <= 1 - t (|pred - truth| when truth is 0),
  computed in floating point exactly as the SPAR code does (10% off passes t = 0.90, 45% off can fail t = 0.55).
- SPAR-Bench view_change_infer, two rules (`VIEWCHG_RULES`):
  "authors" (default, the SPAR authors' code): both texts parsed strictly as `key:value,key:value`
  (any malformed part scores 0; keys are not stripped, so "a:1, b:2" reads key " b" and ignores it),
  5 signed axes, each scored by MRA with the *prediction* as reference, mean of 5; the levels leave
  view_change_infer out of "middle".
  "vlmevalkit" (VLMEvalKit's SparBench): lenient parse (parts stripped, malformed parts skipped),
  MRA with the *truth* as reference; view_change_infer counts in "middle".
- SPAR aggregation: average = unweighted mean of the per-task means; a level = mean of its tasks.
- MindCube: correct when the extracted letter equals gt_answer; MMSI-Bench: when the extracted
  letter, lower-cased, equals the answer lower-cased. Both average over all items.
- synthetic: hatchvl.objectives.answers.answer_score; average over all items.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from hatchvl.data.answers import AXIS_KEYS
from hatchvl.eval.benchmarks.items import (
    HATCH_CHOICE,
    HATCH_NUMBER,
    HATCH_VIEW_CHANGE,
    MINDCUBE_LETTER,
    MMSI_LETTER,
    SPAR_CHOICE,
    SPAR_LEVELS,
    SPAR_NUMBER_FIRST,
    SPAR_NUMBER_LAST,
    SPAR_VIEW_CHANGE,
    SPAR_VIEW_CHANGE_TASK,
    mmsi_group,
)
from hatchvl.objectives.answers import answer_score

VIEWCHG_RULES = ("authors", "vlmevalkit")
# np.linspace(.5, .95, int((.95 - .5) / .05 + 2)) in the SPAR code: ten thresholds 0.50 ... 0.95.
MRA_THRESHOLDS = np.linspace(0.5, 0.95, 10)
_HATCH_TYPES = {HATCH_CHOICE: "choice", HATCH_NUMBER: "number", HATCH_VIEW_CHANGE: "view_change"}


def check_viewchg_rule(rule: str) -> str:
    if rule not in VIEWCHG_RULES:
        raise ValueError(f"unknown ViewChg rule {rule!r}; expected one of {', '.join(VIEWCHG_RULES)}")
    return rule


def relative_error(value: float, reference: float) -> float:
    """|value - reference| / |reference|, or |value - reference| when reference is 0."""
    return abs(value - reference) if reference == 0.0 else abs((value - reference) / reference)


def spar_bench_mra(value: float, reference: float) -> float:
    """Fraction of thresholds t in MRA_THRESHOLDS with relative_error(value, reference) <= 1 - t.

    Unlike the reward's hatchvl.objectives.answers.mean_relative_accuracy, which adds a 1e-9 tolerance so
    that each threshold is met at its decimal value, this one has none and takes SPAR's linspace
    thresholds: an error at a threshold passes or fails as the float rounding falls (14.5 against 10.0,
    45% off, fails 0.55: 0.1 here, 0.2 in the reward), because benchmark scores must match the authors'."""
    return float(np.mean(relative_error(value, reference) <= 1 - MRA_THRESHOLDS))


def spar_choice_score(pred: str, answer: str) -> float:
    """The SPAR authors' multiple-choice rule (module docstring)."""
    pred, answer = pred.lower(), answer.lower()
    return float(pred == answer or pred in answer or pred[0] == answer)


def spar_number_score(number: str | None, answer: str) -> float:
    """MRA of an extracted number (None: no number, scores 0) against the numeric truth."""
    return 0.0 if number is None else spar_bench_mra(float(number), float(answer))


def parse_spar_view_change(text: str, rule: str = "authors") -> dict[str, float]:
    """`key:value,key:value` as a dict. "authors": every comma-separated part must be exactly
    `key:number` (ValueError otherwise), keys kept as written; "vlmevalkit": parts stripped, parts
    without ":" or with a non-number value skipped."""
    if check_viewchg_rule(rule) == "authors":
        parsed = {}
        for part in text.split(","):
            key, value = part.split(":")  # ValueError unless exactly one ":"
            parsed[key] = float(value)
        return parsed
    parsed = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition(":")
        try:
            if sep:
                parsed[key.strip()] = float(value.strip())
        except ValueError:
            continue
    return parsed


def view_change_axes(motion: dict[str, float]) -> tuple[float, ...]:
    """The 5 signed axes: right - left, up - down, forward - backward, rotate right - left, rotate up - down
    (hatchvl.data.answers.AXIS_KEYS; a missing key counts 0)."""
    return tuple(motion.get(pos, 0.0) - motion.get(neg, 0.0) for pos, neg in AXIS_KEYS.values())


def spar_view_change_score(pred: str, answer: str, rule: str = "authors") -> float:
    """Mean over the 5 axes of the MRA, referenced to the prediction ("authors") or to the truth
    ("vlmevalkit"); with "authors" a prediction that does not parse scores 0."""
    try:
        pred_axes = view_change_axes(parse_spar_view_change(pred, rule))
    except ValueError:
        return 0.0
    true_axes = view_change_axes(parse_spar_view_change(answer, rule))
    if rule == "authors":
        scores = [spar_bench_mra(t, p) for p, t in zip(pred_axes, true_axes, strict=True)]
    else:
        scores = [spar_bench_mra(p, t) for p, t in zip(pred_axes, true_axes, strict=True)]
    return float(np.mean(scores))


def mindcube_score(letter: str | None, answer: str) -> float:
    return float(letter is not None and letter == answer)


def mmsi_score(letter: str | None, answer: str) -> float:
    return float(letter is not None and answer.lower().replace("\n", " ").strip() == letter.lower()[0])


def item_score(scoring: str, extracted: str | None, answer: str, rule: str = "authors") -> float:
    """Score in [0, 1] of an extracted answer (extract.extract) for an item's scoring kind."""
    if scoring == SPAR_CHOICE:
        return spar_choice_score(extracted, answer)
    if scoring in (SPAR_NUMBER_FIRST, SPAR_NUMBER_LAST):
        return spar_number_score(extracted, answer)
    if scoring == SPAR_VIEW_CHANGE:
        return spar_view_change_score(extracted, answer, rule)
    if scoring == MINDCUBE_LETTER:
        return mindcube_score(extracted, answer)
    if scoring == MMSI_LETTER:
        return mmsi_score(extracted, answer)
    if scoring in _HATCH_TYPES:
        return answer_score(extracted, answer, _HATCH_TYPES[scoring])
    raise ValueError(f"unknown scoring kind {scoring!r}")


@dataclass(frozen=True)
class Summary:
    """Aggregated scores (percent). categories: per category (SPAR task, MindCube setting, MMSI
    question type, synthetic category) with counts; levels (SPAR) and groups (MMSI) or None."""

    average: float
    categories: dict[str, float]
    counts: dict[str, int]
    levels: dict[str, float | None] | None = None
    groups: dict[str, float] | None = None


def _means(pairs: Iterable[tuple[str, float]]) -> tuple[dict[str, float], dict[str, int]]:
    by_key: dict[str, list[float]] = defaultdict(list)
    for key, score in pairs:
        by_key[key].append(score)
    return ({k: 100 * float(np.mean(v)) for k, v in by_key.items()}, {k: len(v) for k, v in by_key.items()})


def spar_levels(task_means: dict[str, float], rule: str = "authors") -> dict[str, float | None]:
    """Mean of each level's tasks present in task_means (None for a level with none); with the
    "authors" rule view_change_infer is not counted in "middle"."""
    check_viewchg_rule(rule)
    levels = {}
    for level, tasks in SPAR_LEVELS.items():
        keep = [t for t in tasks if t in task_means and not (rule == "authors" and t == SPAR_VIEW_CHANGE_TASK)]
        levels[level] = float(np.mean([task_means[t] for t in keep])) if keep else None
    return levels


def aggregate(bench: str, scored: list[tuple[str, float]], rule: str = "authors") -> Summary:
    """Aggregate (category, item score) pairs as the benchmark's authors do (module docstring)."""
    if not scored:
        raise ValueError(f"{bench}: nothing to aggregate (no items)")
    categories, counts = _means(scored)
    if bench in ("spar-mv", "spar-si"):
        average = float(np.mean(list(categories.values())))
        return Summary(average, categories, counts, levels=spar_levels(categories, rule))
    average = 100 * float(np.mean([score for _, score in scored]))
    if bench == "mmsi":
        groups, _ = _means((mmsi_group(category), score) for category, score in scored)
        return Summary(average, categories, counts, groups=groups)
    return Summary(average, categories, counts)
