"""sees gaps: paired by item id, kept items left out, intervals overall and per category."""

import numpy as np
import pytest

from hatchvl.eval.sees import format_sees, sees_gaps


def _rows(scores, categories):
    return [{"id": str(k), "category": c, "score": float(s)} for k, (s, c) in enumerate(zip(scores, categories,
                                                                                           strict=True))]


def test_a_model_that_uses_its_images_has_a_positive_gap_with_an_interval():
    rng = np.random.default_rng(0)
    cats = ["counting"] * 200 + ["camera_motion"] * 40
    own = _rows(rng.random(240) < 0.7, cats)
    blind = _rows(rng.random(240) < 0.3, cats)
    got = sees_gaps(own, list(reversed(blind)))  # paired by id, not by position
    assert 25 < got["sees"] < 55 and got["sees_ci"][0] > 0 and got["sees_items"] == 240
    assert got["categories"]["counting"]["sees_ci"][0] > 0
    small = got["categories"]["camera_motion"]
    assert small["sees_ci"] is None and "fewer than 50" in small["sees_note"] and "no interval" in format_sees(small)


def test_identical_answers_give_zero_and_kept_items_are_left_out():
    rows = _rows([1, 0] * 40, ["c"] * 80)
    got = sees_gaps(rows, rows)
    assert got["sees"] == 0 and got["sees_ci"] == [0, 0]
    blind = [dict(r, score=0.0) for r in rows]
    assert sees_gaps(rows, blind, kept=[r["id"] for r in rows[:2]])["sees_items"] == 78
    with pytest.raises(ValueError, match="no item was scored"):
        sees_gaps(rows, [])
