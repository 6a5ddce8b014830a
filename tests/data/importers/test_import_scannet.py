"""`import_scannet`: ScanNet exports written by the tests (jpg colour, uint16 mm depth, pose text with an
-inf pose, intrinsics, axisAlignment) imported back; round trip, skips, triples, resume, refusals."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hatchvl.cli.main import app
from hatchvl.data.format import load_depth, load_image, read_manifest
from hatchvl.data.importers import scannet as scannet_module
from hatchvl.data.importers.scannet import import_scannet
from hatchvl.geometry.motion import actions_from_poses, all_pairs
from hatchvl.geometry.overlap import symmetric_overlaps
from tests.data.real_layouts import K_DEPTH, axis_alignment, render_frames, write_scannet_scene

UP = np.array([0.0, 0.0, 1.0])
SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    root = tmp_path_factory.mktemp("scannet")
    truth = {"scene0000_00": render_frames(1, 8), "scene0001_00": render_frames(2, 8),
             "scene0002_00": render_frames(3, 8)}
    write_scannet_scene(root, "scene0000_00", truth["scene0000_00"], align=axis_alignment(30.0, (-2.0, 1.0, 0.0)),
                        inf_pose=("30",))
    write_scannet_scene(root, "scene0001_00", truth["scene0001_00"], no_depth=("10",))
    write_scannet_scene(root, "scene0002_00", truth["scene0002_00"])
    return root, truth


@pytest.fixture(scope="module")
def imported(export, tmp_path_factory):
    out = tmp_path_factory.mktemp("scannet-out") / "ds"
    report = import_scannet(export[0], out, pairs_per_scene=4, overlap=(0.1, 0.7), progress=False, pool=8)
    return out, report


def _all(out):
    return [s for split in SPLITS for s in read_manifest(out, split)]


def _frame(truth, sample, k):
    stem = Path(sample.depths[k]).name.removesuffix("_depth.npy")
    return next(f for f in truth[sample.scene_id] if f.stem == stem)


def test_round_trip_gives_the_overlaps_and_actions_of_the_synthetic_geometry(export, imported):
    _, truth = export
    out, _ = imported
    samples = _all(out)
    assert len(samples) == 12 and {s.scene_id for s in samples} == set(truth)
    for s in samples:
        frames = [_frame(truth, s, k) for k in range(s.num_views)]
        pairs = all_pairs(s.num_views)
        for k, f in enumerate(frames):
            np.testing.assert_array_equal(load_depth(out, s.depths[k]), (f.depth_mm / 1000).astype(np.float32))
            np.testing.assert_allclose(s.K[k], K_DEPTH)
            np.testing.assert_allclose(s.c2w[k], f.c2w, atol=1e-6)  # axisAlignment undone
            assert np.abs(load_image(out, s.images[k]).astype(float) - f.rgb_depth_camera).mean() < 8
        a, b = [frames[i] for i, _ in pairs], [frames[j] for _, j in pairs]
        direct = symmetric_overlaps(
            np.stack([f.depth for f in a]), np.stack([K_DEPTH] * len(a)), np.stack([f.c2w for f in a]),
            np.stack([f.depth for f in b]), np.stack([K_DEPTH] * len(b)), np.stack([f.c2w for f in b]))
        stored = np.load(out / "overlaps" / s.scene_id / f"{s.id}.npy")
        np.testing.assert_allclose(stored, direct, atol=0.01)
        mass = direct.sum(axis=(1, 2)) / 16
        assert np.all((mass > 0.05) & (mass < 0.75))  # chosen within 0.1-0.7 on subsampled depth
        for p, (i, j) in zip(s.actions, pairs, strict=True):
            assert list(p.actions) == actions_from_poses(frames[i].c2w, frames[j].c2w, UP)
        if s.answer_type == "choice":
            assert s.category == "camera_motion" and len(s.options) == 4


def test_skips_are_counted_and_written_next_to_the_dataset(imported):
    out, report = imported
    assert report["skipped"] == {"missing_depth": 1, "nonfinite_pose": 1}
    assert report["records"] == 24 and report["scenes"] == 3
    assert json.loads((out / "import_report.json").read_text())["skipped"] == report["skipped"]
    used = {(s.scene_id, Path(p).stem) for s in _all(out) for p in s.images}
    assert ("scene0000_00", "30") not in used and ("scene0001_00", "10") not in used
    info = json.loads((out / "dataset.json").read_text())
    assert info["complete"] and info["up"] == [0.0, 0.0, 1.0] and sum(info["samples"].values()) == 12


def test_triples_without_questions(export, tmp_path):
    out = tmp_path / "t"
    import_scannet(export[0], out, pairs_per_scene=3, views=(3, 3), questions=False, progress=False, pool=8,
                   split=(1.0, 0.0, 0.0))
    samples = read_manifest(out, "train")
    assert samples and all(s.num_views == 3 and len(s.actions) == 3 for s in samples)
    assert {s.answer_type for s in samples} == {"view_change"}
    assert np.load(out / "overlaps" / samples[0].scene_id / f"{samples[0].id}.npy").shape == (3, 16, 16)


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".import" not in p.parts}


def test_resume_after_interruption_gives_identical_output(export, imported, tmp_path, chunk_calls):
    out = tmp_path / "r"
    chunk_calls(scannet_module, "_import_scene", die_on=2)
    with pytest.raises(KeyboardInterrupt):
        import_scannet(export[0], out, pairs_per_scene=4, progress=False, pool=8)
    calls = chunk_calls(scannet_module, "_import_scene")
    import_scannet(export[0], out, pairs_per_scene=4, progress=False, pool=8)
    assert calls == [1, 2]
    assert _tree(out) == _tree(imported[0])


def test_bad_layouts_fail_with_messages_naming_what_was_expected(export, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no scenes in .*color/<i>.jpg, depth/<i>.png"):
        import_scannet(tmp_path / "empty", tmp_path / "o1", progress=False)
    bad = tmp_path / "bad"
    shutil.copytree(export[0] / "scene0002_00", bad / "scene0002_00")
    (bad / "scene0002_00" / "intrinsic" / "intrinsic_color.txt").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="intrinsic_color.txt"):  # there but unreadable: the layout is wrong
        import_scannet(bad, tmp_path / "o2", progress=False, pool=8)
    with pytest.raises(ValueError, match="pairs_per_scene must be >= 1"):
        import_scannet(export[0], tmp_path / "o3", pairs_per_scene=0, progress=False)


def test_cli_import_scannet(export, tmp_path):
    result = CliRunner().invoke(app, ["data", "import-scannet", "--root", str(export[0]), "--out", str(tmp_path / "d"),
                                      "--pairs-per-scene", "2", "--overlap", "0.1-0.7", "--pool", "8"])
    assert result.exit_code == 0, result.output
    assert "skipped 2" in result.output and "nonfinite_pose: 1" in result.output
    result = CliRunner().invoke(app, ["data", "import-scannet", "--root", str(export[0]), "--out", str(tmp_path / "e"),
                                      "--overlap", "0.7-0.1"])
    assert result.exit_code == 2 and "overlap must be lo-hi" in result.output


def test_pasta_supervision_reads_the_stored_overlaps(imported, tmp_path):
    from hatchvl.data.supervision import load_supervision

    out = tmp_path / "ds"
    shutil.copytree(imported[0], out)
    split = next(s for s in SPLITS if read_manifest(out, s))
    sample = read_manifest(out, split)[0]
    stored = out / "overlaps" / sample.scene_id / f"{sample.id}.npy"
    marked = np.load(stored) * 0.5  # a value only the stored file holds
    np.save(stored, marked)
    _, sup = load_supervision(out, split)
    np.testing.assert_array_equal(sup.overlaps[sample.id], marked)
    _, recomputed = load_supervision(out, split, tol_abs=0.03)  # other tolerances: computed from depth
    assert not np.array_equal(recomputed.overlaps[sample.id], marked)
    np.testing.assert_allclose(recomputed.overlaps[sample.id], marked * 2, atol=0.05)


def test_a_scene_without_its_intrinsics_is_a_counted_skip(export, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(export[0], root)
    (root / "scene0002_00" / "intrinsic" / "intrinsic_depth.txt").unlink()
    out = tmp_path / "out"
    import_scannet(root, out, pairs_per_scene=4, progress=False, pool=8)
    report = json.loads((out / "import_report.json").read_text())
    assert report["skipped"]["missing_intrinsics"] == 1
    assert report["examples"]["missing_intrinsics"] == "scene0002_00/intrinsic/intrinsic_depth.txt"
    scenes = {json.loads(line)["scene_id"] for split in ("train", "val", "test") if (out / f"{split}.jsonl").is_file()
              for line in (out / f"{split}.jsonl").read_text().splitlines()}
    assert scenes and not any("scene0002_00" in s for s in scenes)  # the other scenes are imported
