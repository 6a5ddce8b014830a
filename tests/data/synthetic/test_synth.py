"""`data synth`: byte-identical output by seed, resumable after an interruption, splits by scene, views
that overlap within the configured range."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from hatchvl.data.format import SPLITS, load_depth, read_manifest
from hatchvl.data.synthetic.synth import SynthConfig, scene_id, synthesize
from hatchvl.geometry.overlap import symmetric_overlap

SMALL = SynthConfig(scenes=6, seed=11, size=48, samples_per_scene=4)


def _tree(root):
    """Every file under root: relative path -> bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    synthesize(root, SMALL, workers=1)
    return _tree(root)


def test_same_seed_gives_byte_identical_datasets_whatever_the_workers(tmp_path, reference):
    synthesize(tmp_path / "a", SMALL, workers=2)
    assert _tree(tmp_path / "a") == reference
    assert any(name.endswith("train.jsonl") for name in reference)
    other = SynthConfig(**{**SMALL.__dict__, "seed": 12})
    synthesize(tmp_path / "b", other, workers=1)
    assert _tree(tmp_path / "b")["train.jsonl"] != reference["train.jsonl"]


def test_an_interrupted_run_completes_to_the_same_bytes(tmp_path, reference):
    class Killed(Exception):
        pass

    def stop_after_two(index):
        if index == 1:
            raise Killed

    with pytest.raises(Killed):
        synthesize(tmp_path, SMALL, workers=1, on_scene_done=stop_after_two)
    assert not (tmp_path / "train.jsonl").exists()
    assert json.loads((tmp_path / "dataset.json").read_text())["complete"] is False
    half = tmp_path / "scenes" / f"{scene_id(2)}.partial"  # a scene caught half-written
    half.mkdir()
    (half / "view00.png").write_bytes(b"truncated")
    synthesize(tmp_path, SMALL, workers=2)
    assert _tree(tmp_path) == reference


def test_a_killed_process_tree_resumes_to_the_same_bytes(tmp_path):
    config = SynthConfig(scenes=30, seed=5, size=40, samples_per_scene=3)
    args = ["synth", "--out", str(tmp_path / "d"), "--scenes", "30", "--seed", "5", "--size", "40",
            "--samples-per-scene", "3", "--workers", "2"]
    command = [sys.executable, "-c", "from hatchvl.cli.data import app; app()", *args]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    scenes = tmp_path / "d" / "scenes"
    deadline = time.monotonic() + 60
    while not (scenes.is_dir() and any(p.suffix != ".partial" for p in scenes.iterdir())):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "d" / "train.jsonl").exists(), "the run finished before it could be killed"
    assert subprocess.run(command, capture_output=True).returncode == 0
    synthesize(tmp_path / "e", config, workers=2)
    assert _tree(tmp_path / "d") == _tree(tmp_path / "e")


def test_splits_are_by_scene_and_counted(synth_root):
    scenes = {split: {s.scene_id for s in read_manifest(synth_root, split, check_files=False)} for split in SPLITS}
    assert all(scenes.values())
    for a in SPLITS:
        for b in SPLITS:
            assert a == b or not scenes[a] & scenes[b]
    info = json.loads((synth_root / "dataset.json").read_text())
    assert info["complete"] and info["up"] == [0.0, 0.0, 1.0]
    assert info["samples"] == {s: len(read_manifest(synth_root, s, check_files=False)) for s in SPLITS}
    assert len(scenes["train"]) > len(scenes["val"]) > 0


def test_every_view_pair_of_a_sample_overlaps_within_the_range(synth_root, synth_samples):
    for sample in synth_samples[:60]:
        depths = [load_depth(synth_root, p) for p in sample.depths]
        for i in range(sample.num_views):
            for j in range(i + 1, sample.num_views):
                s = symmetric_overlap(depths[i], sample.K[i], sample.c2w[i], depths[j], sample.K[j], sample.c2w[j])
                assert 0.1 <= s.sum() / 16 <= 0.7


def test_images_are_pngs_of_the_configured_size(synth_root, synth_samples):
    for sample in synth_samples[:20]:
        for path in sample.images:
            with Image.open(synth_root / path) as image:
                assert image.format == "PNG" and image.size == (64, 64) and image.mode == "RGB"


def test_output_folder_is_checked_before_any_work(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        synthesize(tmp_path / "busy", SMALL)
    synthesize(tmp_path / "done", SynthConfig(scenes=1, size=32, samples_per_scene=1))
    with pytest.raises(ValueError, match="other settings .*scenes 1 there, 6 here"):
        synthesize(tmp_path / "done", SMALL)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="cannot write"):
        synthesize(tmp_path / "file" / "sub", SMALL)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"size": 24}, "too small for a 4x4 grid"), ({"views": (1, 3)}, "views"), ({"views": (2, 20)}, "pool"),
     ({"overlap": (0.7, 0.1)}, "overlap"), ({"split": (0.5, 0.2, 0.2)}, "split"), ({"scenes": 0}, "scenes"),
     ({"seed": -1}, "seed")],
)
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        SynthConfig(**{**SMALL.__dict__, **changes})


def test_scene_randomness_depends_only_on_seed_and_index(tmp_path):
    synthesize(tmp_path / "few", SynthConfig(scenes=2, seed=3, size=32, samples_per_scene=2))
    synthesize(tmp_path / "more", SynthConfig(scenes=3, seed=3, size=32, samples_per_scene=2))
    for name in ("samples.jsonl", "scene.json"):
        a = (tmp_path / "few" / "scenes" / scene_id(1) / name).read_bytes()
        assert a == (tmp_path / "more" / "scenes" / scene_id(1) / name).read_bytes()
