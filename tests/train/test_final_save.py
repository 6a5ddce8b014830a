"""The final save of a stage: under DeepSpeed ZeRO-3 and FSDP2 (2 CPU processes, gloo, through accelerate
launch) the saved model holds the trained weights, and a save of empty tensors never marks a stage finished."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from hatchvl.models.loading import load_model_and_processor
from hatchvl.train.common import is_finished, train_and_finish
from hatchvl.train.final_save import verify_saved_model
from hatchvl.train.options import SFTOptions
from hatchvl.train.sft import build_sft_trainer

ACCELERATE = Path(__file__).parents[2] / "configs" / "accelerate"
WORKER = Path(__file__).with_name("final_save_worker.py")


def cpu_launch_config(name: str, tmp_path: Path) -> Path:
    """The project's accelerate config `name`, on 2 CPU processes in fp32. ZeRO-3 reads a DeepSpeed JSON
    whose parameter persistence threshold is 0: the tiny model's parameters are then partitioned as a 3B
    model's are (by default DeepSpeed keeps parameters under 10 x hidden^2 elements whole on every rank)."""
    config = yaml.safe_load((ACCELERATE / f"{name}.yaml").read_text())
    config.update(num_processes=2, use_cpu=True, mixed_precision="no")
    if name == "zero3":
        ds = {"zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0,
                                    "stage3_gather_16bit_weights_on_model_save":
                                        config["deepspeed_config"]["zero3_save_16bit_model"]},
              "train_micro_batch_size_per_gpu": "auto", "train_batch_size": "auto",
              "gradient_accumulation_steps": "auto", "gradient_clipping": "auto"}
        (tmp_path / "ds.json").write_text(json.dumps(ds))
        config["deepspeed_config"] = {"deepspeed_config_file": str(tmp_path / "ds.json"), "zero3_init_flag": True}
        del config["mixed_precision"]  # accelerate refuses it beside a DeepSpeed file (the file's own "bf16" rules)
    path = tmp_path / f"{name}-cpu.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def launch(config: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), str(WORKER), *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"accelerate launch did not finish in 300 s; stderr ends:\n{(err.stderr or b'')[-3000:]!r}")
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("launcher, stage, lora", [
    ("zero3", "sft", ""), ("zero3", "pasta", ""), ("zero3", "sft", "lora"),
    ("fsdp2", "sft", ""), ("fsdp2", "pasta", ""),
])
def test_sharded_training_saves_the_trained_model(launcher, stage, lora, tiny_model, tiny_data, tmp_path):
    if launcher == "zero3":
        pytest.importorskip("deepspeed", reason="DeepSpeed is installed by `make test` (pip install "
                            "--no-build-isolation deepspeed==0.19.8)")
    out = tmp_path / "stage"
    launch(cpu_launch_config(launcher, tmp_path), stage, str(tiny_model), str(tiny_data), str(out), lora)
    assert is_finished(out)
    verify_saved_model(out / "model")
    saved, _ = load_model_and_processor(out / "model", dtype="float32")
    base, _ = load_model_and_processor(tiny_model, dtype="float32")
    saved_state, base_state = saved.state_dict(), base.state_dict()
    trained = "model.visual.blocks.0.attn.qkv.weight" if stage == "pasta" else \
        "model.language_model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(saved_state[trained], base_state[trained]), "the saved model is the untrained one"
    if lora:
        return  # the reference holds the adapters, not merged weights; the change above is the check
    reference = load_file(out / "reference.safetensors")
    assert set(reference) <= set(saved_state)
    for name, tensor in reference.items():
        torch.testing.assert_close(saved_state[name], tensor, rtol=0, atol=0, msg=name)


def test_verification_refuses_empty_tensors(tiny_model, tmp_path):
    """What a ZeRO-3 rank-0 save_pretrained writes: every tensor a 0-element placeholder."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_bytes((tiny_model / "config.json").read_bytes())
    weights = load_file(tiny_model / "model.safetensors")
    verify_saved_model(tiny_model)
    save_file({k: torch.empty(0) for k in weights}, folder / "model.safetensors")
    with pytest.raises(ValueError, match="empty"):
        verify_saved_model(folder)
    save_file({k: v for k, v in weights.items() if "layers.0." not in k}, folder / "model.safetensors")
    with pytest.raises(ValueError, match="missing"):
        verify_saved_model(folder)


def test_a_failed_verification_leaves_the_stage_unfinished(tiny_model, tiny_data, tmp_path, monkeypatch):
    opts = SFTOptions(model=str(tiny_model), data=str(tiny_data), out=str(tmp_path / "sft"), max_steps=1,
                      batch_size=1, dtype="float32", target="answer")
    trainer, processor, samples = build_sft_trainer(opts)

    def save_placeholders(output_dir=None, _internal_call=False):  # as rank 0 saw it under ZeRO-3
        trainer.model.save_pretrained(output_dir, state_dict={k: torch.empty(0) for k in trainer.model.state_dict()})

    monkeypatch.setattr(trainer, "save_model", save_placeholders)
    with pytest.raises(ValueError, match="not marked finished"):
        train_and_finish(trainer, processor, opts, {})
    assert not is_finished(opts.out) and not (Path(opts.out) / "model").exists()
