"""Official scoring rules and aggregation, on hand-computed examples."""

from __future__ import annotations

import pytest

from hatchvl.eval.benchmarks.items import (
    HATCH_NUMBER,
    MINDCUBE_LETTER,
    MMSI_LETTER,
    SPAR_CHOICE,
    SPAR_MV_TASKS,
    SPAR_NUMBER_LAST,
    SPAR_SI_TASKS,
)
from hatchvl.eval.extract import extract
from hatchvl.eval.score import (
    aggregate,
    item_score,
    parse_spar_view_change,
    spar_bench_mra,
    spar_choice_score,
    spar_view_change_score,
)
from hatchvl.objectives.answers import mean_relative_accuracy


def test_spar_task_sets_as_benchmarks_md_defines_them():
    assert set(SPAR_MV_TASKS) == {
        "depth_prediction_oc_mv", "depth_prediction_oo_mv", "distance_prediction_oc_mv", "distance_prediction_oo_mv",
        "obj_spatial_relation_oc_mv", "obj_spatial_relation_oo_mv", "distance_infer_center_oo_mv",
        "spatial_imagination_oc_mv", "spatial_imagination_oo_mv", "position_matching", "camera_motion_infer",
        "view_change_infer",
    }
    assert set(SPAR_SI_TASKS) == {
        "depth_prediction_oc", "depth_prediction_oo", "distance_prediction_oc", "distance_prediction_oo",
        "obj_spatial_relation_oo", "spatial_imagination_oc", "spatial_imagination_oo", "distance_infer_center_oo",
    }


@pytest.mark.parametrize(("pred", "answer", "expected"), [
    ("B", "B", 1.0),
    ("b", "B", 1.0),  # lower-cased
    ("B. The chair", "B", 1.0),  # first character
    ("Bed", "B", 1.0),  # first character, whatever follows
    ("`B`", "B", 0.0),
    ("The answer is (B)", "B", 0.0),
    ("Looking at both views, the chair is closer. B", "B", 0.0),  # CoT: only the first character counts
    ("", "B", 1.0),  # an empty prediction is a substring of every answer
    ("A and B", "B", 0.0),
    ("A and B", "A", 1.0),
    ("2.5 meters", "B", 0.0),
])
def test_spar_choice(pred, answer, expected):
    assert spar_choice_score(pred, answer) == expected


@pytest.mark.parametrize(("value", "reference", "expected"), [
    (2.0, 2.0, 1.0),
    (2.2, 2.0, 0.9),  # 10% passes 0.90: linspace makes that threshold 0.8999999999999999
    (14.5, 10.0, 0.1),  # 45% fails 0.55 (1 - 0.55 = 0.44999999999999996 < 0.45) ...
    (1.45, 1.0, 0.2),  # ... unless the error itself rounds down (0.44999999999999996)
    (2.1, 2.0, 1.0),
    (3.0, 2.0, 0.1),  # 50% error passes 0.50 only
    (4.0, 2.0, 0.0),
    (0.3, 0.0, 0.5),  # a zero reference: absolute error 0.3 passes 0.50 ... 0.70
    (0.0, 0.0, 1.0),
])
def test_spar_bench_mra(value, reference, expected):
    assert spar_bench_mra(value, reference) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "reference", "official", "reward"), [
    (14.5, 10.0, 0.1, 0.2),  # 45% off: SPAR's floats fail 0.55, the reward's tolerance passes it
    (5.5, 10.0, 0.1, 0.2),  # 45% off, below
    (1.35, 1.0, 0.3, 0.4),  # 35% off: fails 0.65 here, passes in the reward
    (2.2, 2.0, 0.9, 0.9),  # where they agree: 10% passes 0.90 in both
    (0.3, 0.0, 0.5, 0.5),  # a zero reference: the absolute error, in both
])
def test_spar_bench_mra_differs_from_the_rewards_at_thresholds(value, reference, official, reward):
    assert spar_bench_mra(value, reference) == pytest.approx(official)
    assert mean_relative_accuracy(value, reference) == pytest.approx(reward)


def test_spar_numbers_end_to_end():
    # multi-view: the last number, sign lost: "-2.0" reads 2.0
    assert item_score(SPAR_NUMBER_LAST, extract(SPAR_NUMBER_LAST, "It moved -2.0 m"), "2.0") == 1.0
    assert item_score(SPAR_NUMBER_LAST, extract(SPAR_NUMBER_LAST, "no idea"), "2.0") == 0.0  # -1
    assert item_score("spar_number_first", extract("spar_number_first", "no idea"), "2.0") == 0.0


TRUTH = "move_right:1.0,rotate_left:30"


@pytest.mark.parametrize(("pred", "authors", "vlmevalkit"), [
    (TRUTH, 1.0, 1.0),
    ("move_right:1.0, rotate_left:30", 0.8, 1.0),  # authors: key " rotate_left" is unknown, that axis fails
    ("move_right:1.0,rotate_left:30 degrees", 0.0, 0.8),  # authors: a part that does not parse scores 0
    ("I moved right", 0.0, 0.6),  # vlmevalkit: nothing parsed = no motion; right and yaw axes fail
    ("", 0.0, 0.6),
    ("move_right:-1.0,rotate_left:30", 0.8, 0.8),  # a negative value parses: right axis -1 against 1 fails
    ("rotate_left:30,move_right:1.0", 1.0, 1.0),  # order does not matter
    ("move_right:2.0,rotate_left:30", 0.82, 0.8),  # authors: |1-2|/2 = 0.5 passes 0.50; vlmevalkit: |2-1|/1 fails
])
def test_view_change_rules(pred, authors, vlmevalkit):
    assert spar_view_change_score(pred, TRUTH, "authors") == pytest.approx(authors)
    assert spar_view_change_score(pred, TRUTH, "vlmevalkit") == pytest.approx(vlmevalkit)


def test_parse_spar_view_change():
    assert parse_spar_view_change("move_up:0.5,move_up:1.5") == {"move_up": 1.5}  # the last repeat wins
    assert parse_spar_view_change(" a : 1 ,b:x,c", "vlmevalkit") == {"a": 1.0}
    with pytest.raises(ValueError):
        parse_spar_view_change("move_up:1:2")
    with pytest.raises(ValueError, match="ViewChg rule"):
        parse_spar_view_change("move_up:1", "spar")


@pytest.mark.parametrize(("scoring", "extracted", "answer", "expected"), [
    (MINDCUBE_LETTER, "B", "B", 1.0), (MINDCUBE_LETTER, None, "B", 0.0), (MINDCUBE_LETTER, "C", "B", 0.0),
    (MMSI_LETTER, "B", "B", 1.0), (MMSI_LETTER, None, "B", 0.0), (MMSI_LETTER, "B", "b\n", 1.0),
    (SPAR_CHOICE, "b", "B", 1.0),
    (HATCH_NUMBER, "2.2", "2.0", 0.9), (HATCH_NUMBER, "-2.0 m", "2.0", 0.0),  # hatchvl's reader keeps the sign
])
def test_item_score(scoring, extracted, answer, expected):
    assert item_score(scoring, extracted, answer) == expected


def test_spar_aggregate_is_the_mean_of_task_means_with_the_authors_levels():
    scored = [("depth_prediction_oc_mv", 1.0), ("depth_prediction_oc_mv", 0.0),  # 50
              ("position_matching", 1.0), ("position_matching", 1.0),  # 100
              ("view_change_infer", 0.8), ("view_change_infer", 0.4),  # 60
              ("spatial_imagination_oc_mv", 1.0), ("spatial_imagination_oc_mv", 0.0),
              ("spatial_imagination_oc_mv", 1.0)]  # 200 / 3
    authors = aggregate("spar-mv", scored, "authors")
    assert authors.average == pytest.approx((50 + 100 + 60 + 200 / 3) / 4)  # not the item mean
    assert authors.categories["view_change_infer"] == pytest.approx(60)
    assert authors.counts["spatial_imagination_oc_mv"] == 3
    assert authors.levels == pytest.approx({"low": 50, "middle": 100, "high": 200 / 3})  # ViewChg out of middle
    vlmevalkit = aggregate("spar-mv", scored, "vlmevalkit")
    assert vlmevalkit.levels["middle"] == pytest.approx(80)  # (100 + 60) / 2
    assert vlmevalkit.average == authors.average


def test_spar_si_has_no_middle_level():
    summary = aggregate("spar-si", [("depth_prediction_oc", 0.5), ("spatial_imagination_oc", 1.0)])
    assert summary.levels == {"low": 50.0, "middle": None, "high": 100.0}
    assert summary.average == pytest.approx(75.0)


def test_mindcube_averages_over_items_not_settings():
    scored = [("around", 1.0), ("around", 0.0), ("among", 1.0), ("among", 1.0), ("among", 1.0), ("rotation", 0.0)]
    summary = aggregate("mindcube-tiny", scored)
    assert summary.average == pytest.approx(400 / 6)  # the mean of the settings would be 50
    assert summary.categories == pytest.approx({"around": 50, "among": 100, "rotation": 0})


def test_mmsi_groups_the_question_types():
    scored = [("Positional Relationship (Cam.–Obj.)", 1.0), ("Positional Relationship (Cam.–Obj.)", 0.0),
              ("Positional Relationship (Obj.–Obj.)", 1.0), ("MSR", 0.0), ("Motion (Cam.)", 1.0)]
    summary = aggregate("mmsi", scored)
    assert summary.average == pytest.approx(60)
    assert summary.groups == pytest.approx({"Positional": 200 / 3, "MSR": 0, "Motion": 100})
    assert summary.categories["Positional Relationship (Cam.–Obj.)"] == pytest.approx(50)
    assert summary.levels is None


def test_aggregate_needs_items():
    with pytest.raises(ValueError, match="no items"):
        aggregate("mmsi", [])
