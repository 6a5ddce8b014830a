"""`import_spar`: SPAR-7M-RGBD trees written by the tests in the published layout, imported back into the
hatchvl dataset format; geometry round trip, markers, questions, skips, sampling, resume, refusals."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hatchvl.cli.main import app
from hatchvl.data.chunks import Skip
from hatchvl.data.format import load_depth, load_image, read_manifest
from hatchvl.data.importers import spar as spar_module
from hatchvl.data.importers.spar import import_spar
from hatchvl.data.importers.spar_questions import normalise_spar_view_change, parse_conversation, split_options
from hatchvl.geometry.motion import actions_from_poses, all_pairs
from hatchvl.geometry.overlap import symmetric_overlaps
from tests.data.real_layouts import (
    DEPTH_HW,
    K_DEPTH,
    render_frames,
    spar_record,
    write_depth_png,
    write_spar_jsonl,
    write_spar_scene,
)

UP = np.array([0.0, 0.0, 1.0])
LINE_OPTIONS = "Which way?\nA. left\nB. right\nC. above\nD. below\nAnswer with the option's letter."


def _records():
    s0, s1 = "scene0000_00", "scene0001_00"
    r = spar_record
    return {
        ("train", "depth_prediction_oc_mv", "fill"): [
            r(1, "depth_prediction_oc_mv", s0, ["0", "10"], "Depth of the red point and the blue point?", "2.5",
              red_point=[[500, 500]], blue_point=[[250, 600]], point_img_idx=[[0, 1]]),
            r(7, "depth_prediction_oc_mv", s1, ["10", "50"], "Depth?", "1.5", red_point=[[500, 500]],
              blue_point=[[500, 500]], point_img_idx=[[0, 1]]),  # 50 has no depth map
            r(8, "depth_prediction_oc_mv", s0, ["10"], "Depth?", "1.5"),  # one image
        ],
        ("train", "distance_prediction_oo_mv", "sentence"): [
            r(2, "distance_prediction_oo_mv", s0, ["0", "20", "40"], "How far apart?",
              "The distance is 1.8 meters.", placeholders=False, with_depth=False,
              red_point=[[300, 400]], blue_point=[[700, 500]], point_img_idx=[[1, 2]]),
        ],
        ("train", "obj_spatial_relation_oo_mv", "select"): [
            r(3, "obj_spatial_relation_oo_mv", s0, ["10", "20"], LINE_OPTIONS, "B",
              red_bbox=[[100, 100, 400, 500]], green_bbox=[[500, 200, 700, 600]], bbox_img_idx=[[0, 1]]),
        ],
        ("train", "obj_spatial_relation_oc_mv", "judge"): [
            r(9, "obj_spatial_relation_oc_mv", s0, ["0", "40"], "Is the red box left of you?", "Yes",
              red_bbox=[[100, 100, 300, 300]], bbox_img_idx=[[1]]),
            r(10, "obj_spatial_relation_oc_mv", s0, ["0", "40"], "Where is it?", "somewhere"),
        ],
        ("train", "position_matching", "select"): [
            r(4, "position_matching", s0, ["20", "30"], "Which box in image 2 matches? Options: A. [10, 20, 30, 40] "
              "B. [50, 60, 70, 80] C. [100, 120, 300, 400] D. [600, 600, 900, 900]", "C",
              red_bbox=[[400, 400, 600, 600]]),
        ],
        ("train", "view_change_infer", "fill"): [
            r(5, "view_change_infer", s0, ["0", "30"], "How did the camera move?", "move_right: 0.5, rotate_left:-30"),
        ],
        ("train", "camera_motion_infer", "select"): [
            r(6, "camera_motion_infer", s1, ["0", "30"], LINE_OPTIONS, "A"),  # 30 has an -inf pose
        ],
        ("train", "depth_prediction_oc", "fill"): [  # single-view task: not imported
            r(11, "depth_prediction_oc", s0, ["0"], "Depth?", "2.0"),
        ],
        ("val", "camera_motion_infer", "select"): [
            r(12, "camera_motion_infer", s1, ["0", "10"], LINE_OPTIONS, "A"),
        ],
    }


@pytest.fixture(scope="module")
def spar_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("spar-src") / "spar"
    truth = {"scene0000_00": render_frames(1, 8), "scene0001_00": render_frames(2, 6)}
    write_spar_scene(root, "scannet", "scene0000_00", truth["scene0000_00"])
    write_spar_scene(root, "scannet", "scene0001_00", truth["scene0001_00"], inf_pose=("30",), no_depth=("50",))
    for (split, task, fmt), records in _records().items():
        write_spar_jsonl(root, "scannet", split, task, fmt, records)
    return root, truth


@pytest.fixture(scope="module")
def imported(spar_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("spar-out") / "ds"
    report = import_spar(spar_tree[0], out, sources=["scannet"], progress=False, chunk_size=4)
    return out, report


def _stem(path: str) -> str:
    return Path(path).name.split("_")[0].removesuffix(".png")


def _truth_frame(truth, sample, k):
    scene = sample.scene_id.removeprefix("scannet-")
    stem = Path(sample.depths[k]).name.removesuffix("_depth.npy")
    return next(f for f in truth[scene] if f.stem == stem)


def test_round_trip_gives_the_overlaps_and_actions_of_the_synthetic_geometry(spar_tree, imported):
    _, truth = spar_tree
    out, _ = imported
    samples = read_manifest(out, "train") + read_manifest(out, "val")
    assert len(samples) == 7
    for s in samples:
        frames = [_truth_frame(truth, s, k) for k in range(s.num_views)]
        for k, f in enumerate(frames):
            depth = load_depth(out, s.depths[k])
            assert depth.shape == DEPTH_HW and load_image(out, s.images[k]).shape[:2] == DEPTH_HW
            if s.images[k].startswith("frames/"):  # colour resampled into the depth camera, K_DEPTH fits it
                assert np.abs(load_image(out, s.images[k]).astype(float) - f.rgb_depth_camera).mean() < 8
            np.testing.assert_array_equal(depth, (f.depth_mm / 1000).astype(np.float32))
            np.testing.assert_allclose(s.K[k], K_DEPTH)
            np.testing.assert_allclose(s.c2w[k], f.c2w, atol=1e-8)
        pairs = all_pairs(s.num_views)
        stored = np.load(out / "overlaps" / s.scene_id / f"{s.id}.npy")
        a, b = [frames[i] for i, _ in pairs], [frames[j] for _, j in pairs]
        direct = symmetric_overlaps(
            np.stack([f.depth for f in a]), np.stack([K_DEPTH] * len(a)), np.stack([f.c2w for f in a]),
            np.stack([f.depth for f in b]), np.stack([K_DEPTH] * len(b)), np.stack([f.c2w for f in b]))
        assert stored.shape == (len(pairs), 16, 16) and stored.dtype == np.float32
        np.testing.assert_allclose(stored, direct, atol=0.01)  # mm rounding of depth
        for p, (i, j) in zip(s.actions, pairs, strict=True):
            assert (p.src, p.dst) == (i, j)
            assert list(p.actions) == actions_from_poses(frames[i].c2w, frames[j].c2w, UP)


def test_questions_answers_and_skips_are_reported(imported):
    out, report = imported
    by_id = {s.category: s for s in read_manifest(out, "train")}
    assert by_id["depth_prediction_oc_mv"].answer == "2.5"
    assert "<image>" not in by_id["depth_prediction_oc_mv"].question
    assert by_id["distance_prediction_oo_mv"].answer == "1.8"
    rel = by_id["obj_spatial_relation_oo_mv"]
    assert rel.options == ("left", "right", "above", "below") and rel.answer == "B"
    assert rel.question == "Which way?\nAnswer with the option's letter."
    pm = by_id["position_matching"]
    assert pm.options[2] == "[100, 120, 300, 400]" and pm.answer == "C"
    assert by_id["view_change_infer"].answer == "move_right:0.5,rotate_right:30"
    assert by_id["obj_spatial_relation_oc_mv"].options == ("Yes", "No")
    assert [s.category for s in read_manifest(out, "val")] == ["camera_motion_infer"]
    assert read_manifest(out, "test") == []
    assert report["skipped"] == {"missing_depth": 1, "nonfinite_pose": 1, "not_multiview": 1, "unparsed_answer": 1}
    assert report["records"] == 11  # the single-view task's file is not read
    saved = json.loads((out / "import_report.json").read_text())
    assert saved["skipped"] == report["skipped"]
    info = json.loads((out / "dataset.json").read_text())
    assert info["complete"] and info["samples"] == {"train": 6, "val": 1, "test": 0}
    assert info["overlaps"]["grid"] == 4


def test_markers_are_drawn_into_copies_of_the_images_they_name(imported):
    out, _ = imported
    s = next(s for s in read_manifest(out, "train") if s.category == "distance_prediction_oo_mv")
    # red on image 1, blue on image 2 (point_img_idx [[1, 2]]); image 0 is the shared frame
    assert s.images[0].startswith("frames/") and s.images[1].startswith("marked/")
    assert [m.image for m in s.markers] == [1, 2]
    red = load_image(out, s.images[1])[round(s.markers[0].v), round(s.markers[0].u)]
    blue = load_image(out, s.images[2])[round(s.markers[1].v), round(s.markers[1].u)]
    assert red[0] > 200 and red[1] < 60 and blue[2] > 200 and blue[0] < 60
    box = next(s for s in read_manifest(out, "train") if s.category == "obj_spatial_relation_oo_mv")
    assert all(p.startswith("marked/") for p in box.images) and box.markers == ()  # boxes are drawn, not listed


def test_conversation_parsing():
    assert split_options("Q?\n(A) x\n(B) y") == ("Q?", ("x", "y"))
    assert split_options("Pick: A. one, B. two, C. three") == ("Pick:", ("one", "two", "three"))
    assert split_options("no options here") == ("no options here", ())
    assert parse_conversation("camera_motion_infer", "<image>\n<image>\nQ?\nA. a\nB. b", "B.") == \
        ("Q?", ("a", "b"), "B", "choice")
    assert parse_conversation("depth_prediction_oo_mv", "Q", "about 3.25 m")[2:] == ("3.25", "number")
    assert normalise_spar_view_change("move_left:0.3,move_up:0,rotate_down:-5deg") == "move_left:0.3,rotate_up:5"
    for task, answer in (("view_change_infer", "turn around"), ("camera_motion_infer", "perhaps"),
                         ("depth_prediction_oc_mv", "1.2 or 1.4")):
        with pytest.raises(Skip, match="unparsed_answer"):
            parse_conversation(task, "Q\nA. a\nB. b" if "camera" in task else "Q", answer)


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".import" not in p.parts}


def test_seeded_sample_is_reproducible_and_resume_gives_identical_output(spar_tree, tmp_path, chunk_calls):
    root, _ = spar_tree
    clean = tmp_path / "clean"
    import_spar(root, clean, sources=["scannet"], sample=6, seed=3, progress=False, chunk_size=2)
    ids = [s.id for split in ("train", "val") for s in read_manifest(clean, split)]
    report = json.loads((clean / "import_report.json").read_text())
    assert report["selected_records"] == 6 and report["records"] == 6 and len(ids) <= 6

    resumed = tmp_path / "resumed"
    chunk_calls(spar_module, "_import_chunk", die_on=3)
    with pytest.raises(KeyboardInterrupt):
        import_spar(root, resumed, sources=["scannet"], sample=6, seed=3, progress=False, chunk_size=2)
    assert not (resumed / "train.jsonl").exists()
    calls = chunk_calls(spar_module, "_import_chunk")
    import_spar(root, resumed, sources=["scannet"], sample=6, seed=3, progress=False, chunk_size=2)
    assert calls == [2]  # the two finished chunks are not redone
    assert _tree(resumed) == _tree(clean)

    other = tmp_path / "other"
    import_spar(root, other, sources=["scannet"], sample=6, seed=4, progress=False, chunk_size=2)
    assert [s.id for split in ("train", "val") for s in read_manifest(other, split)] != ids


def test_two_workers_and_test_fraction(spar_tree, imported, tmp_path):
    root, _ = spar_tree
    out = tmp_path / "w2"
    import_spar(root, out, sources=["scannet"], progress=False, chunk_size=4, workers=2)
    assert _tree(out) == _tree(imported[0])
    split = tmp_path / "split"
    import_spar(root, split, sources=["scannet"], progress=False, test_fraction=0.5, seed=1)
    by_split = {name: {s.scene_id for s in read_manifest(split, name)} for name in ("train", "val", "test")}
    assert by_split["test"] and not by_split["test"] & (by_split["train"] | by_split["val"])


def test_bad_layouts_fail_with_messages_naming_what_was_expected(spar_tree, tmp_path):
    root, truth = spar_tree
    with pytest.raises(ValueError, match="no SPAR-7M tree .*qa_jsonl"):
        import_spar(tmp_path / "nothing", tmp_path / "o1", progress=False)
    with pytest.raises(ValueError, match=r"scannetpp/qa_jsonl not found"):
        import_spar(root, tmp_path / "o2", sources=["scannet", "scannetpp"], progress=False)
    bad = tmp_path / "bad" / "spar"
    shutil.copytree(root, bad)
    f = truth["scene0000_00"][0]
    write_depth_png(bad / "scannet/images/scene0000_00/image_depth/0.png", np.round(f.depth).astype(np.uint16))
    with pytest.raises(ValueError, match="millimetres"):
        import_spar(bad, tmp_path / "o3", sources=["scannet"], progress=False)
    shutil.rmtree(bad / "scannet/images/scene0000_00/pose")
    with pytest.raises(ValueError, match="image_color, image_depth, pose, intrinsic"):
        import_spar(bad, tmp_path / "o4", sources=["scannet"], progress=False)
    with pytest.raises(ValueError, match="other settings"):
        import_spar(root, tmp_path / "o5", sources=["scannet"], progress=False, seed=0)
        import_spar(root, tmp_path / "o5", sources=["scannet"], progress=False, seed=1)


def test_cli_import_spar(spar_tree, tmp_path):
    result = CliRunner().invoke(app, ["data", "import-spar", "--root", str(spar_tree[0]), "--out", str(tmp_path / "d"),
                                      "--sources", "scannet", "--sample", "5", "--seed", "1", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "samples" in result.output and (tmp_path / "d" / "import_report.json").is_file()
    result = CliRunner().invoke(app, ["data", "import-spar", "--root", str(tmp_path), "--out", str(tmp_path / "e")])
    assert result.exit_code == 2 and "qa_jsonl" in result.output
