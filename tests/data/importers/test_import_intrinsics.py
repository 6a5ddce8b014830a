"""Intrinsics that do not fit their images, in both importers: ScanNet++ as released in SPAR-7M (intrinsic_color.txt
and intrinsic_depth.txt identical, both the colour camera's, depth smaller) gets the colour K rescaled to the
depth map; an impossible K is a skip named intrinsics_do_not_fit, and the import's other samples stay byte-identical."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hatchvl.data.chunks import Skip
from hatchvl.data.format import load_image, read_manifest
from hatchvl.data.importers.frames import fit_view_intrinsics, intrinsics_misfit
from hatchvl.data.importers.scannet import import_scannet
from hatchvl.data.importers.spar import import_spar
from hatchvl.geometry.camera import intrinsics_from_fov, scale_intrinsics
from hatchvl.geometry.motion import all_pairs
from hatchvl.geometry.overlap import symmetric_overlaps
from tests.data.real_layouts import (
    COLOUR_HW,
    DEPTH_HW,
    K_COLOUR,
    K_DEPTH,
    render_frames,
    spar_record,
    write_intrinsics,
    write_scannet_scene,
    write_spar_jsonl,
    write_spar_scene,
)

# ScanNet++-like: a colour image three times the depth map's size, depth a resize of it (ScanNet++: 1920x1440, 256x192)
PP_COLOUR_HW = (144, 192)
K_PP_COLOUR = intrinsics_from_fov(*PP_COLOUR_HW, 72.0)
K_PP_DEPTH = scale_intrinsics(K_PP_COLOUR, PP_COLOUR_HW, DEPTH_HW)
IMPOSSIBLE = np.array([[60.0, 0, 500.0], [0, 60.0, 36.0], [0, 0, 1]])  # principal point far right of a 96 px image
NARROW = intrinsics_from_fov(*COLOUR_HW, 2.0)  # a 2 degree field of view
SPLITS = ("train", "val", "test")


def test_misfit_names_the_principal_point_and_the_field_of_view():
    assert intrinsics_misfit(K_COLOUR, COLOUR_HW) is None and intrinsics_misfit(K_DEPTH, DEPTH_HW) is None
    assert "principal point (500, 36) is outside the middle half of 96x72" in intrinsics_misfit(IMPOSSIBLE, COLOUR_HW)
    assert "field of view" in intrinsics_misfit(NARROW, COLOUR_HW)
    # ScanNet++'s colour K on its depth map: principal point at x = 959.5 of a 256-pixel-wide map
    K_pp = np.array([[1500.0, 0, 959.5], [0, 1500.0, 719.5], [0, 0, 1]])
    assert intrinsics_misfit(K_pp, (1440, 1920)) is None and "(959.5, 719.5)" in intrinsics_misfit(K_pp, (192, 256))


@pytest.mark.parametrize(("K_c", "K_d", "colour_hw", "depth_hw", "expected"), [
    (K_COLOUR, K_DEPTH, COLOUR_HW, DEPTH_HW, (K_COLOUR, K_DEPTH)),  # two cameras, each fits
    (K_PP_COLOUR, K_PP_COLOUR, PP_COLOUR_HW, DEPTH_HW, (K_PP_COLOUR, K_PP_DEPTH)),  # identical, colour's: rescaled
    (K_PP_DEPTH, K_PP_DEPTH, PP_COLOUR_HW, DEPTH_HW, (K_PP_COLOUR, K_PP_DEPTH)),  # identical, the depth map's
    (K_COLOUR, K_COLOUR, COLOUR_HW, COLOUR_HW, (K_COLOUR, K_COLOUR)),  # one camera, one size
    (K_COLOUR, IMPOSSIBLE, COLOUR_HW, DEPTH_HW, "depth map: principal point"),  # different files: no certain fix
    (K_PP_COLOUR, K_PP_COLOUR, PP_COLOUR_HW, (48, 48), "different aspect ratios"),
    (NARROW, NARROW, COLOUR_HW, DEPTH_HW, "fits neither"),
    (K_DEPTH, K_DEPTH, (60, 80), DEPTH_HW, "fits both"),  # 80x60 and 64x48: one K cannot describe both
])
def test_fit_view_intrinsics_fixes_only_what_is_certain(K_c, K_d, colour_hw, depth_hw, expected):
    if isinstance(expected, str):
        with pytest.raises(Skip, match=expected) as err:
            fit_view_intrinsics(K_c, K_d, colour_hw, depth_hw, "scene/0")
        assert err.value.reason == "intrinsics_do_not_fit" and err.value.detail.startswith("scene/0: ")
    else:
        for got, want in zip(fit_view_intrinsics(K_c, K_d, colour_hw, depth_hw, "scene/0"), expected, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-9)


# ---- SPAR-7M: ScanNet++ with identical intrinsic files; scenes made impossible ---------------------------


def _write_spar(root: Path, truth: dict) -> None:
    write_spar_scene(root, "scannet", "scene0000_00", truth["scene0000_00"])
    write_spar_scene(root, "scannet", "scene0002_00", truth["scene0002_00"])
    for scene in ("pp0", "pp1"):  # ScanNet++ in SPAR-7M: both files the colour camera's
        write_spar_scene(root, "scannetpp", scene, truth[scene])
        write_intrinsics(root / "scannetpp" / "images" / scene / "intrinsic", K_PP_COLOUR, K_PP_COLOUR)
    r = spar_record
    # records without markers are camera_motion_infer ones: SPAR draws nothing for that task, while a
    # distance_prediction_oo_mv record without its red and blue points is one SPAR's loader cannot draw
    motion = "How did the camera move?\nA. left\nB. right\nC. forward\nD. backward"
    write_spar_jsonl(root, "scannet", "train", "camera_motion_infer", "select", [
        r(1, "camera_motion_infer", "scene0000_00", ["0", "10"], motion, "B"),
        r(2, "camera_motion_infer", "scene0002_00", ["0", "20"], motion, "C"),
    ])
    write_spar_jsonl(root, "scannet", "train", "distance_prediction_oo_mv", "fill", [
        r(3, "distance_prediction_oo_mv", "scene0000_00", ["20", "30", "40"], "How far?", "0.5",
          red_point=[[500, 500]], blue_point=[[300, 600]], point_img_idx=[[1, 2]]),
    ])
    write_spar_jsonl(root, "scannetpp", "train", "camera_motion_infer", "select", [
        r(2, "camera_motion_infer", "pp1", ["0", "10"], motion, "A"),
        r(3, "camera_motion_infer", "pp0", ["20", "30"], motion, "D"),
    ])
    write_spar_jsonl(root, "scannetpp", "train", "distance_prediction_oo_mv", "fill", [
        r(1, "distance_prediction_oo_mv", "pp0", ["0", "10"], "How far?", "1.0", red_point=[[500, 500]],
          blue_point=[[250, 400]], point_img_idx=[[0, 1]]),
    ])


def _pp_frames(seed: int, count: int):
    return render_frames(seed, count, K_depth=K_PP_DEPTH, K_colour=K_PP_COLOUR, colour_hw=PP_COLOUR_HW)


@pytest.fixture(scope="module")
def spar_imports(tmp_path_factory):
    """The same records imported from a tree whose intrinsics all fit (after the ScanNet++ fix), and from a
    copy where scene0002_00's depth K is impossible and pp1's single K describes a 2-degree camera."""
    truth = {"scene0000_00": render_frames(1, 5), "scene0002_00": render_frames(3, 3),
             "pp0": _pp_frames(4, 4), "pp1": _pp_frames(5, 2)}
    good = tmp_path_factory.mktemp("spar-good") / "spar"
    _write_spar(good, truth)
    bad = tmp_path_factory.mktemp("spar-bad") / "spar"
    shutil.copytree(good, bad)
    write_intrinsics(bad / "scannet/images/scene0002_00/intrinsic", K_COLOUR, IMPOSSIBLE)
    write_intrinsics(bad / "scannetpp/images/pp1/intrinsic", NARROW, NARROW)
    outs = {}
    for name, root in (("good", good), ("bad", bad)):
        outs[name] = tmp_path_factory.mktemp(f"spar-{name}-out") / "ds"
        import_spar(root, outs[name], sources=["scannet", "scannetpp"], progress=False, chunk_size=2)
    return truth, outs


def test_scannetpp_identical_intrinsic_files_give_the_depth_maps_k(spar_imports):
    truth, outs = spar_imports
    out = outs["good"]
    report = json.loads((out / "import_report.json").read_text())
    assert report["skipped"] == {} and report["samples"]["train"] == 6
    pp = [s for s in read_manifest(out, "train") if s.scene_id == "scannetpp-pp0"]
    assert len(pp) == 2
    for s in pp:
        frames = [next(f for f in truth["pp0"] if f.stem == Path(p).name.split("_")[0]) for p in s.depths]
        for k, f in enumerate(frames):
            np.testing.assert_allclose(s.K[k], K_PP_DEPTH, atol=1e-9)  # not the colour K, centred at x = 95.5
            if s.images[k].startswith("frames/"):
                assert np.abs(load_image(out, s.images[k]).astype(float) - f.rgb_depth_camera).mean() < 8
        pairs = all_pairs(s.num_views)
        a, b = [frames[i] for i, _ in pairs], [frames[j] for _, j in pairs]
        Ks = np.stack([K_PP_DEPTH] * len(pairs))
        direct = symmetric_overlaps(np.stack([f.depth for f in a]), Ks, np.stack([f.c2w for f in a]),
                                    np.stack([f.depth for f in b]), Ks, np.stack([f.c2w for f in b]))
        np.testing.assert_allclose(np.load(out / "overlaps" / s.scene_id / f"{s.id}.npy"), direct, atol=0.01)
        assert direct.sum() > 0
    marked = next(s for s in pp if s.markers)  # markers placed with the colour K, then the depth camera's
    red = load_image(out, marked.images[0])[round(marked.markers[0].v), round(marked.markers[0].u)]
    assert red[0] > 200 and red[1] < 60
    # (500, 500) of 1000: colour pixel (96, 72), a third of it in the depth map: (96.5 / 3 - 0.5, 72.5 / 3 - 0.5)
    np.testing.assert_allclose([marked.markers[0].u, marked.markers[0].v], [31.6667, 23.6667], atol=1e-3)


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".import" not in p.parts and p.name not in ("dataset.json", "import_report.json")}


def test_impossible_intrinsics_are_named_skips_and_the_other_samples_stay_identical(spar_imports):
    _, outs = spar_imports
    report = json.loads((outs["bad"] / "import_report.json").read_text())
    assert report["skipped"] == {"intrinsics_do_not_fit": 2} and report["records"] == 6
    example = report["examples"]["intrinsics_do_not_fit"]
    assert example.startswith("scene0002_00/0: intrinsics of the depth map: principal point (500, 36)")
    bad_scenes = ("scene0002_00", "pp1")
    good = {p: b for p, b in _files(outs["good"]).items()  # frames/<source>/<scene>/, overlaps/<source>-<scene>/
            if not any(part == s or part.endswith(f"-{s}") for part in Path(p).parts[:-1] for s in bad_scenes)}
    bad = _files(outs["bad"])
    for split in SPLITS:  # manifests: the lines of the good import without the skipped scenes' samples
        kept = b"".join(line for line in good.pop(f"{split}.jsonl").splitlines(keepends=True)
                        if not any(f'-{s}"'.encode() in line for s in bad_scenes))
        assert bad.pop(f"{split}.jsonl") == kept
    assert bad == good and any(p.startswith("overlaps/scannetpp-pp0/") for p in bad)


# ---- ScanNet exports ---------------------------------------------------------------------------------------


def test_scannet_scene_with_impossible_intrinsics_is_skipped_and_the_others_stay_identical(tmp_path):
    root = tmp_path / "src"
    write_scannet_scene(root, "scene0000_00", render_frames(1, 6))
    write_scannet_scene(root, "scene0001_00", _pp_frames(4, 6))
    write_intrinsics(root / "scene0001_00" / "intrinsic", K_PP_COLOUR, K_PP_COLOUR)  # identical files, as ScanNet++
    settings = {"pairs_per_scene": 3, "pool": 6, "split": (1.0, 0.0, 0.0), "progress": False}
    clean = import_scannet(root, tmp_path / "clean", **settings)
    write_scannet_scene(root, "scene0002_00", render_frames(2, 6))
    write_intrinsics(root / "scene0002_00" / "intrinsic", NARROW, K_DEPTH)
    report = import_scannet(root, tmp_path / "out", **settings)
    assert clean["skipped"] == {}
    assert report["skipped"] == {"intrinsics_do_not_fit": 6, "scene_too_few_frames": 1}
    assert "scene0002_00/0.jpg: intrinsics of the colour image: focal lengths" in \
        report["examples"]["intrinsics_do_not_fit"]
    assert _files(tmp_path / "out") == _files(tmp_path / "clean")
    fixed = [s for s in read_manifest(tmp_path / "out", "train") if s.scene_id == "scene0001_00"]
    assert fixed and all(np.allclose(K, K_PP_DEPTH, atol=1e-9) for s in fixed for K in s.K)
