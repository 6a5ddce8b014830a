"""MindCube settings as MindCube's own evaluation derives them from an id (substrings of the lower-cased id,
around > rotation > translation > among, else other), and how results and `eval compare` report them."""

from __future__ import annotations

import json

import pytest

from hatchvl.eval.benchmarks.items import MINDCUBE_SETTINGS
from hatchvl.eval.benchmarks.mindcube import ID_SETTINGS, OTHER_SETTING, setting_of
from hatchvl.eval.benchmarks.readers import read_benchmark
from hatchvl.eval.rescore import rescore
from hatchvl.eval.results import compare, results_markdown
from tests.eval.layouts import mindcube_record, write_mindcube

LETTER_OUTPUT = "<answer>B.</answer>"  # answers every item B


@pytest.mark.parametrize(("item_id", "setting"), [
    ("around_new_q2", "around"),
    ("aroundnew_1180_q1", "around"),  # no separator after the setting
    ("among_group001_q1", "among"),
    ("rotation_r3_q1", "rotation"),
    ("translation_t1_q4", "translation"),
    ("tiny_Among_17", "among"),  # anywhere in the id, any case
    ("q7_ROTATION", "rotation"),
    ("among_walk_around_q1", "around"),  # both: MindCube tests around first
    ("translation_rotation_q2", "rotation"),  # rotation is tested before translation
    ("kitchen_q9", "other"),
])
def test_setting_of_follows_mindcubes_substring_order(item_id, setting):
    assert setting_of(item_id) == setting


def test_the_papers_columns_are_settings_mindcube_knows():
    assert set(MINDCUBE_SETTINGS) <= set(ID_SETTINGS) and OTHER_SETTING not in ID_SETTINGS


RECORDS = [
    mindcube_record("among_group001_q1", "B"), mindcube_record("aroundnew_q2", "B"),
    mindcube_record("rotation_r3_q1", "A"), mindcube_record("translation_t1_q1", "B"),
    mindcube_record("translation_t2_q1", "C"), mindcube_record("kitchen_q9", "B"),
]


def test_translation_and_other_ids_are_read_and_counted(tmp_path):
    write_mindcube(tmp_path, RECORDS)
    bench = read_benchmark("mindcube-tiny", tmp_path)
    assert [i.category for i in bench.items] == ["among", "around", "rotation", "translation", "translation", "other"]
    note = bench.notes[-1]
    assert note.startswith("settings from the ids: around 1, rotation 1, among 1, translation 2, other 1; ")
    assert "translation, other: per category only" in note and "leaves translation out" in note


def test_a_paper_only_file_gets_a_plain_settings_note(tmp_path):
    write_mindcube(tmp_path, RECORDS[:3])
    assert read_benchmark("mindcube-tiny", tmp_path).notes[-1] == "settings from the ids: around 1, rotation 1, among 1"


def test_new_settings_are_reported_per_category_and_leave_the_papers_columns_alone(tmp_path):
    write_mindcube(tmp_path, RECORDS)
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "output": LETTER_OUTPUT}) + "\n" for r in RECORDS))
    results = rescore("mindcube-tiny", tmp_path, predictions, tmp_path / "out", label="m")
    assert results["categories"] == {"among": 100.0, "around": 100.0, "rotation": 0.0, "translation": 50.0,
                                     "other": 100.0}
    assert results["category_counts"]["translation"] == 2
    assert results["average"] == pytest.approx(100 * 4 / 6)  # every item counts
    markdown = results_markdown(results)
    assert "| model | Around | Rotation | Among | Avg |" in markdown
    assert "| **m** | 100.0 | 0.0 | 100.0 | 66.7 |" in markdown
    assert "| translation | 2 | 50.0 |" in markdown and "| other | 1 | 100.0 |" in markdown
    table = compare([tmp_path / "out"])
    columns = " | ".join(f"MindCube-Tiny {c}" for c in ("Around", "Rotation", "Among", "Avg"))
    assert f"| model | {columns} |" in table
    assert "| m | 100.0 | 0.0 | 100.0 | 66.7 |" in table
