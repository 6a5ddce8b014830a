"""`import_scannet` on the two layouts ScanNet's SensReader exports (Python: color/, depth/, pose/, intrinsic/;
C++: frame-000000.color.jpg, .depth.pgm or .png, .pose.txt and _info.txt in one folder): the same frames give
byte-identical datasets, in either layout or mixed, and _info.txt's depth shift and sizes are honoured."""

import json
from pathlib import Path

import numpy as np
import pytest

from hatchvl.data.format import read_manifest
from hatchvl.data.importers.frames import read_depth_m
from hatchvl.data.importers.scannet import import_scannet
from hatchvl.data.importers.scannet_export import read_export_scene
from tests.data.real_layouts import (
    COLOUR_HW,
    DEPTH_HW,
    K_COLOUR,
    K_DEPTH,
    axis_alignment,
    render_frames,
    write_depth_pgm,
    write_scannet_cpp_scene,
    write_scannet_scene,
)

SCENES = ("scene0000_00", "scene0001_00")
SPLITS = ("train", "val", "test")
SETTINGS = {"pairs_per_scene": 3, "overlap": (0.1, 0.7), "pool": 8, "split": (0.5, 0.5, 0.0), "progress": False}


@pytest.fixture(scope="module")
def truth():
    return {SCENES[0]: render_frames(1, 8), SCENES[1]: render_frames(2, 8)}


def _write(root: Path, truth, layouts: tuple[str, str], depth_format: str = "pgm") -> Path:
    """Both scenes, scene k in layouts[k]; scene 0 axis-aligned with an -inf pose, scene 1 missing a depth map."""
    extras = ({"align": axis_alignment(30.0, (-2.0, 1.0, 0.0)), "inf_pose": ("30",)}, {"no_depth": ("10",)})
    for scene, layout, extra in zip(SCENES, layouts, extras, strict=True):
        if layout == "python":
            write_scannet_scene(root, scene, truth[scene], **extra)
        else:
            write_scannet_cpp_scene(root, scene, truth[scene], depth_format=depth_format, **extra)
    return root


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".import" not in p.parts and p.name not in ("dataset.json", "import_report.json")}


def _json_without(out: Path, name: str, *keys: str) -> dict:
    data = json.loads((out / name).read_text())
    data.get("config", {}).pop("root", None)  # the source folder differs, by construction
    for key in keys:
        data.pop(key, None)
    return data


@pytest.fixture(scope="module")
def python_import(truth, tmp_path_factory):
    root = _write(tmp_path_factory.mktemp("py"), truth, ("python", "python"))
    out = tmp_path_factory.mktemp("py-out") / "ds"
    report = import_scannet(root, out, **SETTINGS)
    return out, report


@pytest.mark.parametrize(("layouts", "depth_format"), [(("c++", "c++"), "pgm"), (("c++", "c++"), "png"),
                                                       (("python", "c++"), "pgm")])
def test_both_layouts_give_byte_identical_datasets(truth, python_import, tmp_path, layouts, depth_format):
    reference, report = python_import
    assert sum(report["samples"].values()) == 6 and report["skipped"] == {"missing_depth": 1, "nonfinite_pose": 1}
    root = _write(tmp_path / "src", truth, layouts, depth_format)
    out = tmp_path / "ds"
    import_scannet(root, out, **SETTINGS)
    assert _tree(out) == _tree(reference)
    assert _json_without(out, "dataset.json") == _json_without(reference, "dataset.json")
    # the examples name the source files, which differ between the layouts
    assert _json_without(out, "import_report.json", "examples") == _json_without(reference, "import_report.json",
                                                                                  "examples")


def test_cpp_export_is_read_as_its_exporter_writes_it(truth, tmp_path):
    write_scannet_cpp_scene(tmp_path, SCENES[0], truth[SCENES[0]][:3], inf_pose=("10",))
    folder = tmp_path / SCENES[0]
    assert sorted(p.name for p in folder.iterdir())[:4] == [
        "_info.txt", "frame-000000.color.jpg", "frame-000000.depth.pgm", "frame-000000.pose.txt"]
    assert (folder / "frame-000020.pose.txt").read_text().count("\n") == 3  # no final newline
    scene = read_export_scene(folder)
    assert scene.layout == "c++" and [f.stem for f in scene.frames] == ["0", "10", "20"]
    np.testing.assert_allclose(scene.K_colour, K_COLOUR, atol=1e-9)  # row-major 16 numbers
    np.testing.assert_allclose(scene.K_depth, K_DEPTH, atol=1e-9)
    assert (scene.colour_hw, scene.depth_hw, scene.depth_units_per_m) == (COLOUR_HW, DEPTH_HW, 1000.0)
    depth, unit = read_depth_m(scene.frames[0].depth)  # big-endian PGM with a comment line in its header
    assert unit == "mm" and depth.dtype == np.float32
    np.testing.assert_array_equal(depth, (truth[SCENES[0]][0].depth_mm / 1000).astype(np.float32))


def test_cpp_depth_shift_other_than_1000(truth, tmp_path):
    frames = truth[SCENES[1]]
    write_scannet_cpp_scene(tmp_path / "a", SCENES[1], frames, depth_shift=5000.0)
    report = import_scannet(tmp_path / "a", tmp_path / "oa", **SETTINGS)
    assert sum(report["samples"].values()) == 3
    for split in SPLITS:
        for sample in read_manifest(tmp_path / "oa", split):
            for path in sample.depths:  # within half a 1/5000 m step of the rendered depth
                stem = Path(path).name.removesuffix("_depth.npy")
                true = next(f.depth for f in frames if f.stem == stem)
                assert np.abs(np.load(tmp_path / "oa" / path) - true).max() <= 1e-4 + 1e-6
    bad = tmp_path / "c" / SCENES[1]
    write_scannet_cpp_scene(tmp_path / "c", SCENES[1], frames[:2], depth_shift=1.0)  # whole metres: unit check
    write_depth_pgm(bad / "frame-000000.depth.pgm", np.full(DEPTH_HW, 3000, np.uint16), 1.0)
    with pytest.raises(ValueError, match=r"frame-000000.depth.pgm.*1/1 m"):
        import_scannet(tmp_path / "c", tmp_path / "oc", **SETTINGS)


def test_cpp_frames_whose_size_differs_from_info_are_skipped_by_name(truth, tmp_path):
    write_scannet_cpp_scene(tmp_path, SCENES[1], truth[SCENES[1]], colour_hw=(144, 192))
    report = import_scannet(tmp_path, tmp_path / "o", **SETTINGS)
    assert report["skipped"] == {"intrinsics_do_not_fit": 8, "scene_too_few_frames": 1}
    assert "96x72 but _info.txt gives the intrinsics of 192x144" in report["examples"]["intrinsics_do_not_fit"]
    assert sum(report["samples"].values()) == 0


def test_bad_cpp_exports_fail_with_messages_naming_what_was_expected(truth, tmp_path):
    write_scannet_cpp_scene(tmp_path, SCENES[0], truth[SCENES[0]][:3])
    info = tmp_path / SCENES[0] / "_info.txt"
    info.write_text("\n".join(line for line in info.read_text().splitlines()
                              if not line.startswith("m_calibrationDepthIntrinsic")))
    with pytest.raises(ValueError, match=r"_info.txt: no 'm_calibrationDepthIntrinsic = \.\.\.' line"):
        import_scannet(tmp_path, tmp_path / "o1", **SETTINGS)
    info.write_text("m_depthShift = 1000\nm_calibrationColorIntrinsic = 1 0 0\n")
    with pytest.raises(ValueError, match="m_calibrationColorIntrinsic needs 16 number"):
        import_scannet(tmp_path, tmp_path / "o2", **SETTINGS)
    with pytest.raises(ValueError, match=r"_info.txt, frame-000000.color.jpg.*\(its C\+\+ exporter\)"):
        import_scannet(tmp_path / SCENES[0], tmp_path / "o3", **SETTINGS)  # the scene folder given as the root
