"""The hatchvl dataset format: round trips, validation naming sample and field, paths kept in the root."""

import json

import numpy as np
import pytest

from hatchvl.data.format import (
    Marker,
    Sample,
    check_relative_path,
    load_depth,
    read_manifest,
    sample_from_json,
    sample_to_json,
    write_manifest,
)
from hatchvl.data.synthetic.render import render
from hatchvl.data.synthetic.scene import scene_from_json
from hatchvl.geometry.actions_text import PairActions, format_actions
from hatchvl.geometry.camera import intrinsics_from_fov
from hatchvl.geometry.motion import Action


def _sample(**changes) -> Sample:
    K = intrinsics_from_fov(32, 32, 70)
    c2w = np.eye(4)
    c2w[:3, 3] = [1.0, 2.0, 1.5]
    fields = dict(
        id="s-0", scene_id="s", category="camera_motion", question="Which?", options=("yes", "no"), answer="B",
        answer_type="choice", images=("a.png", "b.png"), depths=("a.npy", "b.npy"), K=np.stack([K, K]),
        c2w=np.stack([np.eye(4), c2w]), up=np.array([0.0, 0.0, 1.0]),
        actions=(PairActions(0, 1, (Action("turn_right_deg", 120), Action("move_forward_m", 1.2))),),
        markers=(Marker(1, 3.0, 4.5),),
    )
    fields.update(changes)
    return Sample(**fields)


def _write_files(root, sample):
    for path in (*sample.images, *(sample.depths or ())):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"")


def test_manifest_round_trip_keeps_every_field(tmp_path):
    sample = _sample()
    _write_files(tmp_path, sample)
    write_manifest(tmp_path, "train", [sample, _sample(id="s-1", depths=None, K=None, c2w=None, up=None, actions=())])
    first, second = read_manifest(tmp_path, "train")
    for field in ("id", "scene_id", "category", "question", "options", "answer", "answer_type", "images",
                  "depths", "actions", "markers"):
        assert getattr(first, field) == getattr(sample, field), field
    for field in ("K", "c2w", "up"):
        assert np.array_equal(getattr(first, field), getattr(sample, field))
    assert second.depths is None and second.K is None and second.actions == ()


def test_stored_actions_are_the_canonical_action_text():
    sample = _sample()
    assert json.dumps(sample_to_json(sample)["actions"]) == format_actions(sample.actions)


@pytest.mark.parametrize("path", ["../x.png", "/abs/x.png", "a/../../x.png", "..", "C:/x.png", "a\\..\\..\\x.png"])
def test_paths_leaving_the_root_are_rejected_naming_sample_and_field(path):
    data = sample_to_json(_sample(images=(path, "b.png")))
    with pytest.raises(ValueError, match=r"sample 's-0': field 'images'"):
        sample_from_json(data, "train.jsonl line 1")
    with pytest.raises(ValueError):
        check_relative_path(path)


def test_paths_inside_the_root_are_accepted():
    assert check_relative_path("scenes/a/../b/x.png") == "scenes/a/../b/x.png"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("K", [[[1, 0, 0], [0, 1, 0], [0, 0, 1]]], "expected shape"),
        ("c2w", np.tile(np.diag([2.0, 2.0, 2.0, 1.0]), (2, 1, 1)).tolist(), "not rigid"),
        ("answer", "E", "letter"),
        ("answer_type", "essay", "expected one of"),
        ("up", [0, 0, 2], "unit vector"),
        ("actions", [{"from": 1, "to": 0, "actions": []}], "from < to"),
        ("actions", [{"from": 0, "to": 1, "actions": [{"walk_m": 1}]}], "unknown action"),
        ("markers", [{"image": 5, "u": 1, "v": 1}], "0 <= image < 2"),
        ("options", ["same", "same"], "distinct options"),
        ("question", None, "missing"),
    ],
)
def test_invalid_fields_raise_errors_naming_place_sample_and_field(field, value, message):
    data = sample_to_json(_sample())
    data[field] = value
    with pytest.raises(ValueError, match=rf"val.jsonl line 7: sample 's-0': field '{field}': .*{message}"):
        sample_from_json(data, "val.jsonl line 7")


@pytest.mark.parametrize(
    ("answer_type", "answer", "ok"),
    [("number", "1.25", True), ("number", "far", False), ("view_change", "move_left:0.5,rotate_up:3", True),
     ("view_change", "move_sideways:1", False)],
)
def test_answers_are_checked_against_their_type(answer_type, answer, ok):
    data = sample_to_json(_sample(answer_type=answer_type, answer=answer, options=()))
    if ok:
        assert sample_from_json(data).answer == answer
    else:
        with pytest.raises(ValueError, match="field 'answer'"):
            sample_from_json(data)


def test_reading_reports_missing_files_duplicates_and_unfinished_datasets(tmp_path):
    with pytest.raises(FileNotFoundError, match="unfinished dataset"):
        read_manifest(tmp_path, "test")
    write_manifest(tmp_path, "test", [_sample()])
    with pytest.raises(ValueError, match="sample 's-0': field 'images': missing file a.png"):
        read_manifest(tmp_path, "test")
    assert len(read_manifest(tmp_path, "test", check_files=False)) == 1
    line = json.dumps(sample_to_json(_sample()))
    (tmp_path / "val.jsonl").write_text(line + "\n" + line + "\n")
    with pytest.raises(ValueError, match="line 2: sample 's-0': field 'id'"):
        read_manifest(tmp_path, "val", check_files=False)
    with pytest.raises(ValueError, match="unknown split"):
        read_manifest(tmp_path, "dev")


def test_stored_depth_is_the_exact_float32_render(synth_root, synth_samples):
    sample = synth_samples[0]
    scene = scene_from_json(json.loads((synth_root / "scenes" / sample.scene_id / "scene.json").read_text()))
    for view, path in enumerate(sample.depths):
        depth = load_depth(synth_root, path)
        again = render(scene, sample.K[view], sample.c2w[view], *depth.shape).depth
        assert depth.dtype == np.float32 and np.array_equal(depth, again)
    with open(synth_root / sample.depths[0], "rb") as f:
        assert np.load(f, allow_pickle=False).shape == (64, 64)
