"""`hatchvl data inspect`: counts, view checks, overlap masses and the contact sheet, on a tiny synthetic set, on
imported SPAR-7M and ScanNet fixtures, and on a copy of the synthetic set with a non-rigid pose, an intrinsics
misfit, a depth map of the wrong size and an invalid line planted in its manifest."""

import json
import shutil
from collections import Counter

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from hatchvl.cli.main import app
from hatchvl.data.format import SPLITS, load_depth, read_manifest
from hatchvl.data.importers.scannet import import_scannet
from hatchvl.data.importers.spar import import_spar
from hatchvl.data.inspect import format_inspection, inspect_dataset, sheet_size
from hatchvl.geometry.motion import all_pairs
from hatchvl.geometry.overlap import symmetric_overlap
from tests.data.real_layouts import (
    render_frames,
    spar_record,
    write_scannet_scene,
    write_spar_jsonl,
    write_spar_scene,
)

MOTION = "How did the camera move?\nA. left\nB. right\nC. forward\nD. backward"


def _samples(root):
    return {s.id: s for split in SPLITS if (root / f"{split}.jsonl").is_file() for s in read_manifest(root, split)}


def _check_counts(ins, root):
    """The per-split counts are those of the manifests."""
    for summary in ins.splits:
        samples = read_manifest(root, summary.split)
        assert summary.total == summary.checked == len(samples)
        assert summary.categories == Counter(s.category for s in samples)
        assert summary.answer_types == Counter(s.answer_type for s in samples)
        assert summary.views == Counter(s.num_views for s in samples)


def test_synthetic_set_counts_masses_and_sheet(tiny_data, tmp_path):
    out = tmp_path / "sheet.png"
    ins = inspect_dataset(tiny_data, out=out, pairs=10, seed=3, progress=False)
    _check_counts(ins, tiny_data)
    assert [s.split for s in ins.splits] == list(SPLITS) and ins.ok
    samples = _samples(tiny_data)
    assert ins.views_checked == sum(s.num_views for s in samples.values())
    assert len(ins.masses) == 10 and ins.stored_pairs == 0  # the synthetic set stores no overlaps
    for sid, i, j, mass in ins.masses:  # computed as data synth measures it
        s = samples[sid]
        S = symmetric_overlap(load_depth(tiny_data, s.depths[i]), s.K[i], s.c2w[i], load_depth(tiny_data, s.depths[j]),
                              s.K[j], s.c2w[j], grid=4)
        assert mass == pytest.approx(S.sum() / 16, abs=1e-5) and 0.1 <= mass <= 0.7  # synth's --overlap
    chosen = [samples[sid] for sid in ins.sheet_ids]
    assert ins.sheet == out and len(chosen) == 6
    assert len({s.category for s in chosen}) == min(6, len({s.category for s in samples.values()}))
    assert any(s.markers for s in chosen)  # samples with markers come first within their category
    with Image.open(out) as sheet:
        assert sheet.format == "PNG" and sheet.size == sheet_size(max(s.num_views for s in chosen), 6)
    again = inspect_dataset(tiny_data, out=tmp_path / "again.png", pairs=10, seed=3, progress=False)
    assert again.masses == ins.masses and again.sheet_ids == ins.sheet_ids
    assert (tmp_path / "again.png").read_bytes() == out.read_bytes()
    text = format_inspection(ins)
    assert "made by hatchvl data synth" in text and "overlap mass of 10 view pairs" in text
    assert text.endswith("no problems found")


def _plant(root, split, changes):
    """Rewrite manifest lines: changes maps a line index to a function editing its record (or to a raw line)."""
    path = root / f"{split}.jsonl"
    lines = path.read_text().splitlines()
    for k, change in changes.items():
        lines[k] = change if isinstance(change, str) else json.dumps(change(json.loads(lines[k])))
    path.write_text("\n".join(lines) + "\n")


def _edit(field, view, fn):
    def edit(record):
        record[field][view] = fn(np.array(record[field][view])).tolist()
        return record
    return edit


def test_planted_problems_are_named_and_counted(tiny_data, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_data, root)
    train = read_manifest(root, "train")
    assert len(train) >= 5
    shear = np.eye(4)
    shear[0, 1] = 0.3
    squashed = np.zeros((20, 30), np.float32)
    np.save(root / "squashed.npy", squashed)

    def depth_of_other_size(record):
        record["depths"][0] = "squashed.npy"
        return record

    _plant(root, "train", {
        0: _edit("c2w", 1, lambda c2w: c2w @ shear),  # not rigid
        1: _edit("K", 0, lambda K: K + np.array([[0, 0, 500.0], [0, 0, 0], [0, 0, 0]])),  # principal point far off
        2: depth_of_other_size,
        3: '{"id": "broken", "images": []}',
    })
    with pytest.raises(ValueError, match="not rigid"):  # what training would meet: the first bad line stops it
        read_manifest(root, "train")
    ins = inspect_dataset(root, split="train", pairs=4, progress=False)
    p = ins.problems
    assert (p["pose"].views, p["intrinsics"].views, p["depth"].views, p["record"].views, p["files"].views) == \
        (1, 1, 1, 1, 0)
    assert p["pose"].examples[0].startswith(f"{train[0].id} view 1: c2w is not rigid")
    assert p["intrinsics"].examples[0].startswith(f"{train[1].id} view 0: principal point (")
    assert p["depth"].examples[0] == f"{train[2].id} view 0: depth map 30x20 float32, image 64x64"
    assert "sample 'broken'" in p["record"].examples[0]
    summary = ins.splits[0]
    assert summary.total == len(train) and sum(summary.categories.values()) == len(train) - 1  # all but 'broken'
    planted = {s.id for s in train[:4]}
    assert not planted & {sid for sid, *_ in ins.masses} and not planted & set(ins.sheet_ids)
    text = format_inspection(ins)
    assert "poses that are not rigid (or not finite): 1 in 1 samples" in text
    assert f"    {train[1].id} view 0: principal point" in text and text.endswith("problems found (above)")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A SPAR-7M import (camera-motion and marked distance records) and a ScanNet import."""
    spar = tmp_path_factory.mktemp("spar") / "spar"
    s0 = "scene0000_00"
    write_spar_scene(spar, "scannet", s0, render_frames(1, 5))
    write_spar_jsonl(spar, "scannet", "train", "camera_motion_infer", "select", [
        spar_record(k, "camera_motion_infer", s0, [a, b], MOTION, "ABCD"[k])
        for k, (a, b) in enumerate((("0", "10"), ("10", "20"), ("20", "40")))])
    write_spar_jsonl(spar, "scannet", "train", "distance_prediction_oo_mv", "fill", [
        spar_record(9, "distance_prediction_oo_mv", s0, ["0", "20", "30"], "How far?", "0.5",
                    red_point=[[500, 500]], blue_point=[[300, 600]], point_img_idx=[[1, 2]])])
    scannet = tmp_path_factory.mktemp("scannet")
    write_scannet_scene(scannet, "scene0000_00", render_frames(2, 8))
    outs = {"spar": tmp_path_factory.mktemp("spar-out") / "ds", "scannet": tmp_path_factory.mktemp("sn-out") / "ds"}
    import_spar(spar, outs["spar"], sources=["scannet"], progress=False)
    import_scannet(scannet, outs["scannet"], pairs_per_scene=3, pool=8, split=(1.0, 0.0, 0.0), progress=False)
    return outs


@pytest.mark.parametrize("name", ["spar", "scannet"])
def test_imported_fixtures_read_their_stored_overlaps(imported, name):
    root = imported[name]
    ins = inspect_dataset(root, progress=False)
    _check_counts(ins, root)
    samples = _samples(root)
    assert ins.ok and len(samples) in (3, 4) and len(ins.masses) == ins.stored_pairs == len(samples)
    for sid, i, j, mass in ins.masses:
        S = np.load(root / "overlaps" / samples[sid].scene_id / f"{sid}.npy")
        assert mass == pytest.approx(S[all_pairs(samples[sid].num_views).index((i, j))].sum() / 16) and mass > 0
    assert ins.sheet == root / "inspect.png" and ins.sheet.is_file()
    text = format_inspection(ins)
    assert "import: " in text and "nothing skipped" in text and f"{len(samples)} from stored overlaps" in text
    if name == "spar":
        marked = samples["scannet-00000003"]
        assert marked.markers and "scannet-00000003" in ins.sheet_ids  # the marked sample is on the sheet


def test_limit_checks_a_seeded_subset(tiny_data, tmp_path):
    total = len(read_manifest(tiny_data, "train"))
    a, b, c = (inspect_dataset(tiny_data, split="train", limit=3, seed=seed, out=tmp_path / f"{k}.png", pairs=0,
                               progress=False) for k, seed in enumerate((1, 1, 2)))
    assert a.splits[0].checked == 3 and a.splits[0].total == total and not a.masses
    assert a.sheet_ids == b.sheet_ids and len(a.sheet_ids) == 3
    assert f"train: {total} samples (checked a seeded 3, seed 1)" in format_inspection(a)
    assert set(c.sheet_ids) != set(a.sheet_ids) or total <= 3


def test_cli(tiny_data, tmp_path):
    runner = CliRunner()
    out = tmp_path / "s.png"
    result = runner.invoke(app, ["data", "inspect", str(tiny_data), "--split", "val", "--out", str(out),
                                 "--pairs", "2"])
    assert result.exit_code == 0, result.output
    assert "val: " in result.output and "train: " not in result.output and out.is_file()
    for args, message in (([str(tiny_data), "--split", "dev"], "unknown split 'dev'"),
                          ([str(tmp_path / "nothing")], "is not a folder"),
                          ([str(tmp_path)], "holds no manifest"),
                          ([str(tiny_data), "--out", str(tmp_path / "no" / "s.png")], "does not exist"),
                          ([str(tiny_data), "--limit", "-1"], "must be >= 0")):
        result = runner.invoke(app, ["data", "inspect", *args])
        assert result.exit_code == 2 and "Error: " in result.output and message in result.output, result.output
    help_text = runner.invoke(app, ["data", "inspect", "--help"]).output
    assert "--limit" in help_text and "contact sheet" in help_text
