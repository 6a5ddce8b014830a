"""Bad input in the importers is a counted, named skip, never a stop: a pose with NaN, a pose that is not rigid, a
depth PNG of the wrong size, a scene without intrinsic files and a record naming a missing frame. The samples that do
not touch the bad input are byte-identical to those of an import of the same data without it."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hatchvl.data.importers.scannet import import_scannet
from hatchvl.data.importers.spar import import_spar
from tests.data.real_layouts import (
    render_frames,
    spar_record,
    write_depth_png,
    write_scannet_scene,
    write_spar_jsonl,
    write_spar_scene,
)

SPLITS = ("train", "val", "test")
MOTION = "How did the camera move?\nA. left\nB. right\nC. forward\nD. backward"
NAN_POSE = "nan 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n"


def _non_rigid(c2w: np.ndarray) -> str:
    bad = c2w.copy()
    bad[:3, :3] *= 1.2  # a scaled rotation: orthonormal no more
    return "".join(" ".join(f"{x:.9f}" for x in row) + "\n" for row in bad)


def _manifest(out: Path) -> dict[str, tuple[str, bytes]]:
    """id -> (split, manifest line) of every sample."""
    lines = {}
    for split in SPLITS:
        for line in (out / f"{split}.jsonl").read_bytes().splitlines(keepends=True):
            lines[json.loads(line)["id"]] = (split, line)
    return lines


def _named_files(out: Path, line: bytes) -> list[str]:
    record = json.loads(line)
    return [*record["images"], *record["depths"], f"overlaps/{record['scene_id']}/{record['id']}.npy"]


# ---- SPAR-7M-RGBD ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spar_imports(tmp_path_factory):
    """The same records imported from a clean tree and from a copy with bad input planted in it."""
    truth = {"scene0000_00": render_frames(1, 7), "scene0001_00": render_frames(2, 2),
             "scene0002_00": render_frames(3, 2)}
    clean = tmp_path_factory.mktemp("spar-clean") / "spar"
    for scene, frames in truth.items():
        write_spar_scene(clean, "scannet", scene, frames)
    s0 = "scene0000_00"
    pairs = [(s0, "0", "10"), (s0, "0", "20"), (s0, "10", "30"), (s0, "0", "40"), (s0, "10", "50"), (s0, "0", "99"),
             ("scene0001_00", "0", "10"), ("scene0002_00", "0", "10"), (s0, "10", "60")]
    records = [spar_record(k, "camera_motion_infer", scene, [a, b], MOTION, "ABCD"[k % 4])
               for k, (scene, a, b) in enumerate(pairs)]
    write_spar_jsonl(clean, "scannet", "train", "camera_motion_infer", "select", records)
    bad = tmp_path_factory.mktemp("spar-bad") / "spar"
    shutil.copytree(clean, bad)
    scene = bad / "scannet" / "images" / s0
    (scene / "pose" / "20.txt").write_text(NAN_POSE)
    (scene / "pose" / "30.txt").write_text(_non_rigid(truth[s0][3].c2w))
    write_depth_png(scene / "image_depth" / "40.png", np.full((48, 48), 2000, np.uint16))  # not 4:3 as its colour
    write_depth_png(scene / "image_depth" / "50.png", truth[s0][5].depth_mm[::2, ::2])  # half size: K_DEPTH misfits
    for path in (bad / "scannet" / "images" / "scene0002_00" / "intrinsic").iterdir():
        path.unlink()
    outs = {}
    for name, root in (("clean", clean), ("bad", bad)):
        outs[name] = tmp_path_factory.mktemp(f"spar-{name}-out") / "ds"
        import_spar(root, outs[name], sources=["scannet"], progress=False, chunk_size=3)
    return outs


def test_spar_bad_input_is_counted_under_its_reason_with_an_example(spar_imports):
    clean = json.loads((spar_imports["clean"] / "import_report.json").read_text())
    report = json.loads((spar_imports["bad"] / "import_report.json").read_text())
    assert clean["skipped"] == {"missing_image": 1} and clean["records"] == report["records"] == 9
    assert report["skipped"] == {"bad_pose": 1, "intrinsics_do_not_fit": 1, "missing_image": 1,
                                 "missing_intrinsics": 1, "nonfinite_pose": 1, "wrong_depth_size": 1}
    examples = report["examples"]
    assert examples["missing_image"] == "scannet/images/scene0000_00/image_color/99.jpg"
    assert examples["nonfinite_pose"].endswith("scene0000_00/pose/20.txt")
    assert "scene0000_00/pose/30.txt" in examples["bad_pose"] and "not rigid" in examples["bad_pose"]
    assert examples["wrong_depth_size"].endswith("/40.png: 48x48 is not a resize of its colour image (96x72)")
    assert examples["intrinsics_do_not_fit"].startswith("scene0000_00/50: intrinsics of the depth map: principal")
    assert examples["missing_intrinsics"].startswith("scene scene0002_00: no intrinsics in ")


def test_spar_samples_without_bad_input_stay_byte_identical(spar_imports):
    clean, bad = _manifest(spar_imports["clean"]), _manifest(spar_imports["bad"])
    assert len(clean) == 8 and sorted(bad) == ["scannet-00000000", "scannet-00000006", "scannet-00000008"]
    for sid, (split, line) in bad.items():
        assert clean[sid] == (split, line)
        for rel in _named_files(spar_imports["bad"], line):
            assert (spar_imports["bad"] / rel).read_bytes() == (spar_imports["clean"] / rel).read_bytes()


# ---- ScanNet exports ---------------------------------------------------------------------------------------

SETTINGS = {"pairs_per_scene": 3, "pool": 8, "split": (1.0, 0.0, 0.0), "progress": False}
SCENES = ("scene0000_00", "scene0001_00", "scene0002_00")


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".import" not in p.parts and p.name not in ("dataset.json", "import_report.json")}


@pytest.fixture(scope="module")
def scannet_imports(tmp_path_factory):
    """'bad': scene 1 with a NaN and a non-rigid pose, scene 2 with a depth PNG of the wrong size; 'reference': the
    same export with scene 1's two bad frames deleted and scene 2 clean."""
    truth = {scene: render_frames(seed, 8) for seed, scene in enumerate(SCENES, start=1)}
    roots = {name: tmp_path_factory.mktemp(f"scannet-{name}") for name in ("bad", "reference")}
    for root in roots.values():
        for scene in SCENES:
            write_scannet_scene(root, scene, truth[scene])
    bad = roots["bad"] / SCENES[1]
    (bad / "pose" / "20.txt").write_text(NAN_POSE)
    (bad / "pose" / "50.txt").write_text(_non_rigid(truth[SCENES[1]][5].c2w))
    # 60x44: K_DEPTH fits it, so only its size tells it from the others
    write_depth_png(roots["bad"] / SCENES[2] / "depth" / "30.png", np.full((44, 60), 2000, np.uint16))
    for stem in ("20", "50"):
        for sub, ext in (("color", "jpg"), ("depth", "png"), ("pose", "txt")):
            (roots["reference"] / SCENES[1] / sub / f"{stem}.{ext}").unlink()
    outs, reports = {}, {}
    for name, root in roots.items():
        outs[name] = tmp_path_factory.mktemp(f"scannet-{name}-out") / "ds"
        reports[name] = import_scannet(root, outs[name], **SETTINGS)
    return outs, reports


def test_scannet_bad_input_is_counted_under_its_reason_with_an_example(scannet_imports):
    _, reports = scannet_imports
    assert reports["reference"]["skipped"] == {}
    report = reports["bad"]
    assert report["skipped"] == {"bad_pose": 1, "nonfinite_pose": 1, "wrong_depth_size": 1}
    assert report["examples"]["wrong_depth_size"] == \
        "scene0002_00/30.png: 60x44, the scene's other depth maps are 64x48"
    assert "scene0001_00/pose/50.txt" in report["examples"]["bad_pose"]
    assert report["examples"]["nonfinite_pose"].endswith("scene0001_00/pose/20.txt")


def test_scannet_frames_with_bad_poses_are_as_if_absent_and_other_scenes_stay_identical(scannet_imports):
    outs, _ = scannet_imports
    bad, reference = _tree(outs["bad"]), _tree(outs["reference"])

    def files(tree):  # every frame and overlap file but scene 2's
        return {p: b for p, b in tree.items() if SCENES[2] not in p and not p.endswith(".jsonl")}

    assert files(bad) == files(reference) and any(SCENES[1] in p for p in files(bad))
    lines = {name: {sid: v for sid, v in _manifest(outs[name]).items() if not sid.startswith(SCENES[2])}
             for name in ("bad", "reference")}
    assert lines["bad"] == lines["reference"] and any(sid.startswith(SCENES[1]) for sid in lines["bad"])
    scene2 = [json.loads(line) for sid, (_, line) in _manifest(outs["bad"]).items() if sid.startswith(SCENES[2])]
    assert scene2 and not any(Path(p).stem == "30" for s in scene2 for p in s["images"])
    assert f"frames/{SCENES[2]}/30.png" not in bad
