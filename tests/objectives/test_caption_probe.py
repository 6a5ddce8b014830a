"""The caption probe: reading captions back, scoring them against the truth, and a run on a tiny model."""

import math

import pytest

from hatchvl.objectives.caption_probe import caption_scores, held_out_views, read_caption, run_caption_probe

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TRUTH = "2 objects: red box left near; blue sphere right far."


def test_captions_are_read_back_into_a_count_and_named_objects():
    assert read_caption(TRUTH).count == 2 and read_caption(TRUTH).names == ("red box", "blue sphere")
    assert read_caption("no objects.").count == 0 and read_caption("no objects.").names == ()
    assert read_caption("objects: red box").count is None


@pytest.mark.parametrize("generated, expected", [
    (TRUTH, {"count_correct": 1.0, "precision": 1.0, "first_visible": 1.0}),
    ("2 objects: green cylinder left near; red box right far.", {"count_correct": 1.0, "precision": 0.5,
                                                                 "first_visible": 0.0}),
    ("1 object: blue sphere centre mid.", {"count_correct": 0.0, "precision": 1.0, "first_visible": 1.0}),
    ("no objects.", {"count_correct": 0.0, "precision": 0.0, "first_visible": 0.0}),
    ("garbled", {"count_correct": 0.0, "precision": 0.0, "first_visible": 0.0}),
])
def test_a_generated_caption_is_scored_against_the_true_view(generated, expected):
    assert caption_scores(generated, TRUTH) == expected
    assert caption_scores("no objects.", "no objects.")["precision"] == 1.0


def test_a_run_reports_both_conditions_and_no_interval_on_few_views(tiny_model, tiny_data):
    from hatchvl.models.loading import load_model_and_processor

    views = held_out_views(tiny_data, "test", 6)
    assert len(views) == 6 and len({p for p, _ in views}) == 6
    model, processor = load_model_and_processor(tiny_model, dtype="float32")
    probe = run_caption_probe(model, processor, tiny_data, views, max_new_tokens=8)
    assert probe.views == 6 and probe.sees_ci is None and "fewer than 50" in probe.note
    for kind in (probe.own, probe.swapped):
        assert set(kind) == {"count_correct", "precision", "first_visible", "loss"}
        assert math.isfinite(kind["loss"]) and kind["loss"] > 0
    assert probe.loss_gap == pytest.approx(probe.swapped["loss"] - probe.own["loss"])
    assert probe.examples[0]["truth"] == views[0][1]
