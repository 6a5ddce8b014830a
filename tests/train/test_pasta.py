"""The PaStA stage: supervision cache, vision-only training, checkpoints, resume, two processes, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback
from typer.testing import CliRunner

from hatchvl.cli.main import app
from hatchvl.config import build
from hatchvl.data.format import encode_sample, read_manifest
from hatchvl.data.supervision import BadSampleError, check_bad, load_supervision
from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.geometry.overlap import symmetric_overlap
from hatchvl.models.backbone import vision_tower
from hatchvl.models.loading import SUPPORTED_FAMILIES, load_model_and_processor
from hatchvl.models.tiny import TinySize, byte_tokenizer, init_tiny, tiny_model, tiny_processor
from hatchvl.objectives.pasta import cell_features, pasta_loss
from hatchvl.train.common import load_checkpoint_weights
from hatchvl.train.options import PastaOptions
from hatchvl.train.pasta import run_pasta
from hatchvl.train.pasta_data import (
    PastaCollator,
    train_vision_only,
)

WORKER = Path(__file__).with_name("pasta_ddp_worker.py")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pasta-data")
    synthesize(root, SynthConfig(scenes=4, seed=5, size=64, samples_per_scene=6, split=(0.5, 0.25, 0.25)))
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return init_tiny("qwen2_5_vl", tmp_path_factory.mktemp("pasta-model") / "tiny")


def options(tiny, data, out, **kw) -> PastaOptions:
    defaults = {"max_steps": 4, "batch_size": 2, "save_steps": 2, "logging_steps": 1, "learning_rate": 1e-3}
    return PastaOptions(model=str(tiny), data=str(data), out=str(out), **{**defaults, **kw})


def losses(history: list[dict]) -> dict[int, float]:
    return {h["step"]: h["loss"] for h in history if "loss" in h}


def language_model_state(model) -> dict[str, torch.Tensor]:
    tower = {id(p) for p in vision_tower(model).parameters()}
    return {n: p.detach().clone() for n, p in model.named_parameters() if id(p) not in tower}


# -- supervision --------------------------------------------------------------------------------------------


def test_supervision_matches_the_geometry_and_is_cached(data, tmp_path):
    samples, sup = load_supervision(data, "train", grid=4, cache_dir=tmp_path)
    assert not sup.from_cache and sup.cache_file.is_file() and not sup.bad
    sample = samples[0]
    depth = [np.load(data / p) for p in sample.depths]
    direct = symmetric_overlap(depth[0], sample.K[0], sample.c2w[0], depth[1], sample.K[1], sample.c2w[1], grid=4)
    np.testing.assert_allclose(sup.overlaps[sample.id][0], direct, atol=1e-6)
    assert len(sup.overlaps[sample.id]) == sample.num_views * (sample.num_views - 1) // 2
    _, again = load_supervision(data, "train", grid=4, cache_dir=tmp_path)
    assert again.from_cache and again.cache_file == sup.cache_file
    assert all(np.array_equal(again.overlaps[k], v) for k, v in sup.overlaps.items())
    _, other_grid = load_supervision(data, "train", grid=2, cache_dir=tmp_path)
    assert not other_grid.from_cache and other_grid.cache_file != sup.cache_file


def test_collator_supplies_every_view_pair(data, tiny):
    samples, sup = load_supervision(data, "train", grid=4)
    _, processor = load_model_and_processor(tiny)
    items = [{"id": s.id, "images": [str(data / p) for p in s.images], "S": sup.overlaps[s.id]} for s in samples[:3]]
    batch = PastaCollator(processor)(items)
    views = sum(len(i["images"]) for i in items)
    pairs = sum(len(i["S"]) for i in items)
    assert batch["image_grid_thw"].shape == (views, 3)
    assert batch["S"].shape == (pairs, 16, 16) and batch["pair_x"].shape == (pairs,)
    assert (batch["pair_x"] < batch["pair_y"]).all() and batch["pair_y"].max() == views - 1
    torch.testing.assert_close(batch["pair_weight"].sum(), torch.tensor(3.0))


# -- what trains ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", SUPPORTED_FAMILIES)
@pytest.mark.parametrize("before_merger", [False, True])
def test_gradients_reach_the_vision_tower_only(family, before_merger):
    tokenizer = byte_tokenizer()
    model = tiny_model(family, TinySize(), tokenizer)
    processor = tiny_processor(family, tokenizer, TinySize())
    train_vision_only(model, before_merger)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(2)]
    batch = processor.image_processor(images=images, return_tensors="pt")
    cells = cell_features(model, batch["pixel_values"], batch["image_grid_thw"], 4, before_merger)
    S = torch.eye(16)[None] * 0.5
    pasta_loss(cells[:1], cells[1:], S).loss.backward()
    tower = vision_tower(model)
    vision = {id(p) for p in tower.parameters()}
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert id(p) in vision, name
            assert p.grad is not None, f"{name} is trainable but gets no gradient (DDP would fail)"
        else:
            assert p.grad is None, name
    assert any(p.requires_grad for p in tower.merger.parameters()) != before_merger


@pytest.mark.parametrize("family", SUPPORTED_FAMILIES)
def test_checkpoint_weights_load_back_into_a_model_in_place(family, tmp_path):
    tokenizer = byte_tokenizer()
    saved = tiny_model(family, TinySize(), tokenizer, seed=1)
    saved.save_pretrained(tmp_path)  # original key layout on disk
    model = tiny_model(family, TinySize(), tokenizer, seed=2)
    train_vision_only(model)
    load_checkpoint_weights(model, tmp_path)
    expected = saved.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, expected[name]), name


# -- the stage ----------------------------------------------------------------------------------------------


def test_stage_trains_the_vision_tower_and_saves_loadable_safetensors(data, tiny, tmp_path):
    before, _ = load_model_and_processor(tiny)
    out = tmp_path / "stage"
    metrics = run_pasta(options(tiny, data, out, probe_every=2, probe_split="val"))
    assert metrics["samples"] > 0 and metrics["skipped_samples"] == 0 and metrics["pairs"] >= metrics["samples"]
    assert len(losses(metrics["log_history"])) == 4
    assert [h["step"] for h in metrics["log_history"] if "probe/top1" in h] == [0, 2, 4]
    assert json.loads((out / "stage.json").read_text())["options"]["grid"] == 4
    for folder in (out / "checkpoint-2", out / "checkpoint-4", out / "model"):
        assert (folder / "model.safetensors").is_file() and not list(folder.glob("pytorch_model*"))
    trained, _ = load_model_and_processor(out / "model")
    loaded_checkpoint, _ = load_model_and_processor(out / "checkpoint-4")
    lm_before, lm_after = language_model_state(before), language_model_state(trained)
    assert lm_before.keys() == lm_after.keys()
    for name, value in lm_before.items():
        assert torch.equal(value, lm_after[name]), f"language model parameter {name} changed"
    tower_before = dict(vision_tower(before).named_parameters())
    changed = [n for n, p in vision_tower(trained).named_parameters() if not torch.equal(p, tower_before[n])]
    assert changed, "the vision tower did not train"
    final_state = trained.state_dict()
    for name, value in loaded_checkpoint.state_dict().items():  # the last checkpoint is the final model
        assert torch.equal(value, final_state[name]), name
    events = list((out / "runs").rglob("events.out.tfevents.*"))
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(events[0].parent)).Reload().Tags()["scalars"]
    assert "train/loss" in tags and "train/probe/top1" in tags
    assert run_pasta(options(tiny, data, out)) == {"skipped": "already finished"}


class Kill(TrainerCallback):
    """Stops the run like a kill right after checkpoint `at` is written."""

    def __init__(self, at: int):
        self.at = at

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt("killed")


def test_resume_after_a_kill_continues_with_the_same_losses(data, tiny, tmp_path):
    straight = run_pasta(options(tiny, data, tmp_path / "straight", max_steps=6, save_steps=3))
    killed = options(tiny, data, tmp_path / "killed", max_steps=6, save_steps=3)
    with pytest.raises(KeyboardInterrupt):
        run_pasta(killed, callbacks=[Kill(3)])
    assert not (tmp_path / "killed" / "stage.json").exists()
    resumed = run_pasta(killed)
    expected, got = losses(straight["log_history"]), losses(resumed["log_history"])
    assert sorted(got) == sorted(expected) == [1, 2, 3, 4, 5, 6]
    for step in expected:
        assert got[step] == pytest.approx(expected[step], rel=1e-6, abs=1e-7), step
    a = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    b = load_file(tmp_path / "killed" / "model" / "model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-6, atol=1e-7)


def test_two_processes_end_with_identical_parameters(data, tiny, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(WORKER), str(tiny), str(data), str(tmp_path)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    initial, _ = load_model_and_processor(tiny)
    start = dict(initial.named_parameters())
    assert rank0.keys() == rank1.keys() and rank0
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"ranks differ in {name}"
    assert any(not torch.equal(rank0[n], start[n]) for n in rank0), "nothing trained"
    assert (tmp_path / "stage.json").is_file()


# -- bad input ------------------------------------------------------------------------------------------------


def copy_with(data: Path, root: Path, edit) -> Path:
    """A dataset at root sharing data's files, whose train split is data's with edit(record) applied to the
    first record."""
    root.mkdir()
    (root / "scenes").symlink_to(data / "scenes")
    lines = [json.loads(encode_sample(s)) for s in read_manifest(data, "train")]
    edit(lines[0], root)
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return root


def drop_geometry(record: dict, root: Path) -> None:
    for key in ("depths", "K", "c2w", "up"):
        record.pop(key)


def empty_depths(record: dict, root: Path) -> None:
    for k, path in enumerate(record["depths"]):
        shape = np.load(root / path).shape
        name = f"zero{k}.npy"
        np.save(root / name, np.zeros(shape, np.float32))
        record["depths"][k] = name


def missing_depth(record: dict, root: Path) -> None:
    record["depths"][0] = "missing.npy"


@pytest.mark.parametrize(("edit", "reason"), [(drop_geometry, "no depth maps or camera poses"),
                                              (empty_depths, "no pair of its views overlaps"),
                                              (missing_depth, "missing.npy cannot be read")])
def test_a_sample_without_geometry_is_named_or_skipped_and_counted(data, tmp_path, edit, reason):
    root = copy_with(data, tmp_path / "data", edit)
    bad_id = read_manifest(root, "train", check_files=False)[0].id
    _, sup = load_supervision(root, "train")
    with pytest.raises(BadSampleError, match=f"{bad_id}.*{reason}"):
        check_bad(sup, skip_bad=False)
    assert [b.id for b in check_bad(sup, skip_bad=True)] == [bad_id]


def test_stage_refuses_bad_samples_unless_skip_bad(data, tiny, tmp_path):
    root = copy_with(data, tmp_path / "data", drop_geometry)
    bad_id = read_manifest(root, "train", check_files=False)[0].id
    with pytest.raises(BadSampleError, match=bad_id):
        run_pasta(options(tiny, root, tmp_path / "refused"))
    metrics = run_pasta(options(tiny, root, tmp_path / "skipped", max_steps=1, skip_bad=True))
    assert metrics["skipped_samples"] == 1
    assert metrics["samples"] == len(read_manifest(root, "train")) - 1


def test_a_folder_that_is_not_a_model_is_a_clear_error(data, tmp_path):
    with pytest.raises(ValueError, match="not a model checkpoint"):
        run_pasta(PastaOptions(model=str(tmp_path), data=str(data), out=str(tmp_path / "out"), max_steps=1))


def test_options_from_a_recipe_name_the_bad_key():
    base = {"model": "m", "data": "d", "out": "o"}
    assert build(PastaOptions, {**base, "tau_pred": 0.05}).tau_pred == 0.05
    with pytest.raises(ValueError, match="tau_prd"):
        build(PastaOptions, {**base, "tau_prd": 0.05})
    with pytest.raises(ValueError, match="tau_target"):
        PastaOptions(**base, tau_target=0)


# -- command line ---------------------------------------------------------------------------------------------


def test_train_pasta_command(data, tiny, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["train", "pasta", "--model", str(tiny), "--data", str(data), "--out", str(out),
                                      "--max-steps", "1", "batch_size=2", "learning_rate=0.001"])
    assert result.exit_code == 0, result.output
    assert "trained on" in result.output and (out / "model" / "model.safetensors").is_file()
    assert json.loads((out / "stage.json").read_text())["options"]["batch_size"] == 2
    wrong = CliRunner().invoke(app, ["train", "pasta", "--model", str(tiny), "--data", str(data), "--out",
                                     str(tmp_path / "x"), "grid=2"])
    assert wrong.exit_code == 2 and "--grid" not in wrong.output and "flag" in wrong.output
