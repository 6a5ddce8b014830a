"""Readers on fixture files in the published layouts, and their errors on bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hatchvl.eval.benchmarks.items import HATCH_CHOICE, HATCH_NUMBER, MMSI_LETTER, SPAR_NUMBER_FIRST, SPAR_NUMBER_LAST
from hatchvl.eval.benchmarks.readers import read_benchmark
from hatchvl.eval.benchmarks.sources import open_image
from hatchvl.eval.benchmarks.spar import depth_unit
from tests.eval.layouts import (
    mindcube_record,
    mmsi_row,
    png_bytes,
    spar_row,
    spar_rows,
    write_mindcube,
    write_mmsi_parquet,
    write_mmsi_tsv,
    write_spar,
    write_synthetic,
)

# --- SPAR-Bench ---------------------------------------------------------------------------------


def test_spar_mv_and_si_split_one_file_by_task(tmp_path):
    path = write_spar(tmp_path / "data" / "test-00000-of-00001.parquet", spar_rows())
    mv = read_benchmark("spar-mv", tmp_path)  # a folder: its test* shards
    si = read_benchmark("spar-si", path)
    assert [i.id for i in mv.items] == ["1", "2", "5", "6", "7", "8"]
    assert [i.id for i in si.items] == ["3", "4", "9", "10"]
    assert mv.items[0].scoring == SPAR_NUMBER_LAST and si.items[0].scoring == SPAR_NUMBER_FIRST
    assert mv.items[0].images[1] == png_bytes(11)  # embedded bytes, in order
    assert open_image(mv.items[0].images[0]).size == (8, 8)
    assert any("1 rows" not in n and "10 rows" in n for n in mv.notes)


def test_spar_without_images_reads_the_answers_only(tmp_path):
    path = write_spar(tmp_path / "spar.parquet", spar_rows())
    bench = read_benchmark("spar-mv", path, images=False)
    assert len(bench.items) == 6 and all(item.images == () for item in bench.items)


@pytest.mark.parametrize(("scale", "unit"), [(1000.0, "millimetres"), (1.0, "metres")])
def test_spar_rgbd_reports_depth_units(tmp_path, scale, unit):
    path = write_spar(tmp_path / "rgbd.parquet", spar_rows(), depth_scale=scale)
    notes = " ".join(read_benchmark("spar-mv", path).notes)
    assert f"-> {unit} assumed" in notes and "pose" in notes


def test_depth_unit_refuses_to_guess():
    assert depth_unit(np.array([0.0, np.nan, 1200.0, 1500.0])) == ("millimetres", 1350.0)
    with pytest.raises(ValueError, match="cannot tell"):
        depth_unit(np.array([45.0]))
    with pytest.raises(ValueError, match="no positive"):
        depth_unit(np.array([0.0, np.inf]))


def _write_unembedded(path: Path, image_path: str) -> Path:
    """A SPAR file whose image cell holds a path and no bytes (as `datasets` stores unembedded images)."""
    row = spar_row(1, "position_matching", "A") | {"image": [{"bytes": None, "path": image_path}]}
    schema = pa.schema([("id", pa.int64()), ("task", pa.string()), ("question", pa.string()), ("answer", pa.string()),
                        ("image", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())])))])
    pq.write_table(pa.Table.from_pylist([{k: row[k] for k in schema.names}], schema=schema), path)
    return path


def test_spar_image_paths_resolve_next_to_the_file(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(png_bytes(3))
    bench = read_benchmark("spar-mv", _write_unembedded(tmp_path / "s.parquet", "imgs/a.png"))
    assert bench.items[0].images == (tmp_path / "imgs" / "a.png",)
    with pytest.raises(ValueError, match=r"s.parquet row 0 \(item 1\) image 0: image 'nowhere.png' not found"):
        read_benchmark("spar-mv", _write_unembedded(tmp_path / "s.parquet", "nowhere.png"))


@pytest.mark.parametrize(("change", "message"), [
    ({"image": []}, r"s.parquet row 0 \(item 1\): missing image"),
    ({"task": "depth_estimation"}, r"item 1\): unknown task 'depth_estimation'"),
    ({"task": "depth_prediction_oc", "answer": "two metres"}, r"item 1\): .*numeric answer, got 'two metres'"),
    ({"task": "view_change_infer", "answer": "turn left"}, r"item 1\): answer 'turn left' is not key:value"),
])
def test_spar_bad_rows_name_the_item(tmp_path, change, message):
    row = spar_row(1, "position_matching", "A") | change
    with pytest.raises(ValueError, match=message):
        read_benchmark("spar-mv", write_spar(tmp_path / "s.parquet", [row]))


def test_spar_repeated_id_and_missing_column(tmp_path):
    rows = [spar_row(1, "position_matching", "A"), spar_row(1, "position_matching", "B")]
    with pytest.raises(ValueError, match=r"s.parquet row 1: item id '1' repeats"):
        read_benchmark("spar-mv", write_spar(tmp_path / "s.parquet", rows))
    pq.write_table(pa.table({"id": [1], "question": ["q"]}), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="missing column.*task, answer, image"):
        read_benchmark("spar-mv", tmp_path / "bad.parquet")


def test_spar_si_file_has_no_mv_items(tmp_path):
    path = write_spar(tmp_path / "s.parquet", [spar_row(3, "depth_prediction_oc", "1.0", views=1)])
    with pytest.raises(ValueError, match="no item of the spar-mv tasks"):
        read_benchmark("spar-mv", path)

# --- MMSI-Bench ---------------------------------------------------------------------------------


MMSI_ROWS = [mmsi_row(0, "Positional Relationship (Cam.–Obj.)", "B"), mmsi_row(1, "MSR", "D", views=4),
             mmsi_row(2, "Motion (Cam.)", "A")]


def test_mmsi_parquet_and_tsv_read_the_same_items(tmp_path):
    from_parquet = read_benchmark("mmsi", write_mmsi_parquet(tmp_path / "MMSI_Bench.parquet", MMSI_ROWS))
    from_tsv = read_benchmark("mmsi", write_mmsi_tsv(tmp_path / "MMSI_bench.tsv", MMSI_ROWS))
    assert from_parquet.items == from_tsv.items
    item = from_tsv.items[1]
    assert (item.id, item.category, item.answer, item.scoring) == ("1", "MSR", "D", MMSI_LETTER)
    assert item.options == ("A", "B", "C", "D") and len(item.images) == 4 and item.images[3] == png_bytes(13)


@pytest.mark.parametrize(("change", "message"), [
    ({"question": "Which way is the chair?"}, r"item 5\): the question offers no options A-D"),
    ({"answer": "E"}, r"item 5\): answer 'E' is not an option letter"),
    ({"question_type": "Counting"}, r"item 5\): unknown question type 'Counting'"),
    ({"images": []}, r"item 5\): missing image"),
])
def test_mmsi_bad_rows_name_the_item(tmp_path, change, message):
    row = mmsi_row(5, "MSR", "B") | change
    with pytest.raises(ValueError, match=message):
        read_benchmark("mmsi", write_mmsi_parquet(tmp_path / "m.parquet", [row]))


def test_mmsi_tsv_bad_base64_names_the_line(tmp_path):
    path = write_mmsi_tsv(tmp_path / "m.tsv", MMSI_ROWS)
    with open(path, newline="") as f:
        lines = list(csv.reader(f, delimiter="\t"))
    lines[2][1] = json.dumps(["not base64!"])  # item 1 starts on line 4: item 0's question spans 2 lines
    with open(path, "w", newline="") as f:
        csv.writer(f, delimiter="\t").writerows(lines)
    with pytest.raises(ValueError, match=r"m.tsv line 4 \(item 1\): image 0 is not valid base64"):
        read_benchmark("mmsi", path)

# --- MindCube -----------------------------------------------------------------------------------


MINDCUBE = [mindcube_record("among_group001_q1", "B"), mindcube_record("around_new_q2", "A", views=3),
            mindcube_record("rotation_r3_q1", "D")]


def test_mindcube_release_layout(tmp_path):
    jsonl = write_mindcube(tmp_path, MINDCUBE)
    for path in (tmp_path / "data", jsonl):  # the data folder or the file itself
        bench = read_benchmark("mindcube-tiny", path)
        assert [i.category for i in bench.items] == ["among", "around", "rotation"]
        assert bench.items[1].images[2] == tmp_path / "data" / "other_all_image/around_new_q2/2.png"
        assert bench.items[0].options == ("A", "B", "C", "D")
        assert f"image root {tmp_path / 'data'}" in bench.notes


def test_mindcube_images_next_to_the_jsonl(tmp_path):
    jsonl = write_mindcube(tmp_path, MINDCUBE)
    moved = tmp_path / "flat"
    (tmp_path / "data").rename(moved)
    (moved / "raw" / jsonl.name).rename(moved / jsonl.name)
    (moved / "raw").rmdir()
    assert read_benchmark("mindcube-tiny", moved).items[2].images[0] == moved / "other_all_image/rotation_r3_q1/0.png"


@pytest.mark.parametrize(("record", "message"), [
    (mindcube_record("among_x", "B", question="Which is left of the sofa?"), "line 2 .*offers no options A-E"),
    (mindcube_record("among_x", "b"), r"answer 'b' is not an option letter"),
    (mindcube_record("among_x", "B") | {"images": []}, r"line 2 \(item 'among_x'\): missing image"),
])
def test_mindcube_bad_records_name_line_and_item(tmp_path, record, message):
    write_mindcube(tmp_path, [MINDCUBE[0], record] if record["images"] else [MINDCUBE[0]])
    jsonl = tmp_path / "data" / "raw" / "MindCube_tinybench.jsonl"
    jsonl.write_text(json.dumps(MINDCUBE[0]) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(ValueError, match=message):
        read_benchmark("mindcube-tiny", tmp_path / "data")


def test_mindcube_missing_image_and_bad_json(tmp_path):
    write_mindcube(tmp_path, MINDCUBE)
    (tmp_path / "data" / "other_all_image/rotation_r3_q1/1.png").unlink()
    with pytest.raises(ValueError, match=r"line 3 \(item 'rotation_r3_q1'\): image '.*1.png' not found"):
        read_benchmark("mindcube-tiny", tmp_path)
    assert len(read_benchmark("mindcube-tiny", tmp_path, images=False).items) == 3  # rescoring needs no images
    jsonl = tmp_path / "data" / "raw" / "MindCube_tinybench.jsonl"
    jsonl.write_text(jsonl.read_text() + '{"id": "among_y", \n')
    with pytest.raises(ValueError, match="MindCube_tinybench.jsonl line 4: not valid JSON"):
        read_benchmark("mindcube-tiny", tmp_path)

# --- synthetic and the registry -----------------------------------------------------------------


def test_synthetic_reads_the_test_split(tmp_path):
    bench = read_benchmark("synthetic", write_synthetic(tmp_path / "ds"))
    assert [(i.id, i.scoring, i.options) for i in bench.items] == [("s0-0", HATCH_CHOICE, ("A", "B")),
                                                                    ("s0-1", HATCH_NUMBER, ())]
    assert bench.items[0].images[1] == tmp_path / "ds" / "images" / "1.png"
    assert bench.items[0].sample.options == ("left", "right")
    (tmp_path / "ds" / "images" / "1.png").unlink()
    with pytest.raises(ValueError, match=r"test.jsonl line 1: sample 's0-0': field 'images': missing file"):
        read_benchmark("synthetic", tmp_path / "ds")


def test_unknown_benchmark_and_missing_path(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark 'spar'; expected one of spar-mv, spar-si"):
        read_benchmark("spar", tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_benchmark("mmsi", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no .parquet file"):
        read_benchmark("mmsi", tmp_path)
