"""Resuming from the newest complete checkpoint: torn checkpoints (a weight file cut short, no or a broken
trainer state, a missing shard) are found, moved aside and never resumed from."""

import json
import shutil

import torch
from safetensors.torch import load_file, save_file

from hatchvl.train.checkpoints import checkpoint_problem, newest_complete_checkpoint, safetensors_problem
from hatchvl.train.sft import run_sft
from tests.train.test_sft import options


def _checkpoint(folder, step, shards=1):
    folder.mkdir(parents=True)
    names = [f"model-{k + 1:05d}-of-{shards:05d}.safetensors" for k in range(shards)] if shards > 1 else [
        "model.safetensors"]
    for k, name in enumerate(names):
        save_file({f"w{k}": torch.arange(1000.0)}, folder / name)
    if shards > 1:
        index = {"weight_map": {f"w{k}": name for k, name in enumerate(names)}}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def test_each_kind_of_torn_checkpoint_is_named(tmp_path):
    whole = _checkpoint(tmp_path / "whole", 1)
    assert checkpoint_problem(whole) is None and safetensors_problem(whole / "model.safetensors") is None
    cut = _checkpoint(tmp_path / "cut", 1)
    data = (cut / "model.safetensors").read_bytes()
    (cut / "model.safetensors").write_bytes(data[:-100])
    assert "bytes, its header says" in checkpoint_problem(cut)
    (cut / "model.safetensors").write_bytes(data[:6])
    assert "model.safetensors" in checkpoint_problem(cut)
    no_state = _checkpoint(tmp_path / "no-state", 1)
    (no_state / "trainer_state.json").unlink()
    assert checkpoint_problem(no_state).startswith("trainer_state.json")
    half_state = _checkpoint(tmp_path / "half-state", 1)
    (half_state / "trainer_state.json").write_text('{"global_st')
    assert checkpoint_problem(half_state).startswith("trainer_state.json")
    sharded = _checkpoint(tmp_path / "sharded", 1, shards=2)
    assert checkpoint_problem(sharded) is None
    (sharded / "model-00002-of-00002.safetensors").unlink()
    assert checkpoint_problem(sharded) == "model-00002-of-00002.safetensors is missing"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "trainer_state.json").write_text(json.dumps({"global_step": 1}))
    assert checkpoint_problem(empty) == "no weights"
    (empty / "global_step1").mkdir()  # a DeepSpeed checkpoint: the engine checks its own files
    assert checkpoint_problem(empty) is None


def test_torn_checkpoints_are_moved_aside_only_by_the_main_process(tmp_path, capsys):
    _checkpoint(tmp_path / "checkpoint-2", 2)
    torn = _checkpoint(tmp_path / "checkpoint-10", 10)
    (torn / "trainer_state.json").unlink()
    assert newest_complete_checkpoint(tmp_path, move_torn=False) == str(tmp_path / "checkpoint-2")
    assert torn.exists()  # another rank only looks
    assert newest_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")  # 10 > 2: numeric order
    assert not torn.exists()
    aside = list(tmp_path.glob("torn-checkpoint-10-*"))
    assert len(aside) == 1 and (aside[0] / "model.safetensors").is_file()  # moved, not deleted
    assert "checkpoint-10 is torn (trainer_state.json" in capsys.readouterr().err
    assert newest_complete_checkpoint(tmp_path / "nothing-here") is None


def test_a_stage_killed_while_saving_resumes_from_the_complete_checkpoint(tiny_model, tiny_data, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run_sft(options(tiny_model, tiny_data, straight, max_steps=3))
    run_sft(options(tiny_model, tiny_data, resumed, max_steps=3))
    # killed while writing checkpoint-3's weights: the file is cut short and the stage never finished
    shutil.rmtree(resumed / "model")
    (resumed / "stage.json").unlink()
    weights = resumed / "checkpoint-3" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    (resumed / "checkpoint-3" / "trainer_state.json").unlink()
    run_sft(options(tiny_model, tiny_data, resumed, max_steps=3))
    assert len(list(resumed.glob("torn-checkpoint-3-*"))) == 1
    a = load_file(straight / "model" / "model.safetensors")
    b = load_file(resumed / "model" / "model.safetensors")
    for name in a:  # steps 1-2 from checkpoint-2, step 3 redone: the uninterrupted result
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
