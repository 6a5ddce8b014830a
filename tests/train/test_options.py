"""Options from YAML values and key=value overrides; their shared fields, help texts and imports."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hatchvl
from hatchvl.config import build, parse_overrides
from hatchvl.objectives.rewards import RewardConfig
from hatchvl.train.options import (
    GRPOOptions,
    LoraOptions,
    PastaOptions,
    SFTOptions,
    TrainerOptions,
    describe_options,
)


def test_overrides_are_yaml_values():
    values = parse_overrides(["lora_r=8", "learning_rate=1e-3", "bf16=true", "extra={weight_decay: 0.1}",
                              "deepspeed=cfg.json"])
    opts = build(SFTOptions, {"model": "m", "data": "d", "out": "o", **values})
    assert opts.lora_r == 8 and opts.learning_rate == 0.001 and opts.bf16 is True
    assert opts.extra == {"weight_decay": 0.1} and opts.deepspeed == "cfg.json"
    fraction = build(SFTOptions, {"model": "m", "data": "d", "out": "o", "warmup_steps": 0.05})
    assert fraction.warmup_steps == 0.05


@pytest.mark.parametrize("values, message", [
    ({"lora_rank": 8}, r"unknown key 'lora_rank' \(did you mean 'lora_r'\?\)"),
    ({"lora_r": 8.5}, r"here\.lora_r expects int"),
    ({"bf16": "yes please"}, r"here\.bf16 expects bool"),
    ({"learning_rate": "fast"}, r"here\.learning_rate expects float"),
])
def test_bad_values_name_the_key(values, message):
    with pytest.raises(ValueError, match=message):
        build(SFTOptions, {"model": "m", "data": "d", "out": "o", **values}, where="here")


def test_missing_key_and_malformed_pairs():
    with pytest.raises(ValueError, match="missing required key 'out'"):
        build(SFTOptions, {"model": "m", "data": "d"})
    with pytest.raises(ValueError, match="expected key=value"):
        parse_overrides(["lora_r"])


def test_help_lists_each_option_with_its_default_and_help():
    lines = describe_options(GRPOOptions, skip=("model", "data", "out")).splitlines()
    names = [line.split(" = ")[0] for line in lines]
    assert names[0] == "fraction" and names.index("vllm_mode") < names.index("split")  # GRPO's own options first
    assert "split = 'train': dataset split whose prompts are trained on" in lines
    assert "beta = 0.0: KL weight; 0 needs no reference model" in lines
    assert "save_total_limit = 2: checkpoints kept" in lines  # inherited from TrainerOptions
    assert "lora_r = 16: rank of the adapters" in lines  # inherited from LoraOptions
    assert not any(line.startswith(("model ", "out ")) for line in lines)


@pytest.mark.parametrize("cls", [TrainerOptions, LoraOptions, PastaOptions, SFTOptions, GRPOOptions])
def test_every_option_has_help(cls):
    assert [f.name for f in dataclasses.fields(cls) if not f.metadata.get("help")] == []


def test_the_stages_share_their_common_options():
    shared = {f.name for f in dataclasses.fields(TrainerOptions)}
    lora = {f.name for f in dataclasses.fields(LoraOptions)}
    for cls in (PastaOptions, SFTOptions, GRPOOptions):
        assert issubclass(cls, TrainerOptions) and shared <= {f.name for f in dataclasses.fields(cls)}
    assert issubclass(SFTOptions, LoraOptions) and issubclass(GRPOOptions, LoraOptions)
    assert not lora & {f.name for f in dataclasses.fields(PastaOptions)}
    assert (PastaOptions.batch_size, SFTOptions.batch_size, GRPOOptions.learning_rate) == (8, 4, 1e-6)


def test_reward_weights_default_to_the_reward_config():
    opts, default = GRPOOptions(model="m", data="d", out="o"), RewardConfig()
    assert (opts.w_action, opts.w_answer, opts.w_format) == (default.w_action, default.w_answer, default.w_format)
    assert opts.rewards() == default
    changed = GRPOOptions(model="m", data="d", out="o", w_format=2.0).rewards()
    assert changed.w_format == 2.0 and changed.sigma_m == default.sigma_m


@pytest.mark.parametrize("module", ["hatchvl.train.options", "hatchvl.cli.main"])
def test_options_and_the_command_line_import_no_torch(module):
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(hatchvl.__file__).parents[1])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"


def test_grpo_options_refuse_an_unknown_reward_scaling():
    with pytest.raises(ValueError, match="scale_rewards"):
        GRPOOptions(model="m", data="d", out="o", scale_rewards="std")
    assert GRPOOptions(model="m", data="d", out="o", scale_rewards="batch").scale_rewards == "batch"


def test_cluster_and_grpo_loss_options_reach_the_trainer_configs(tmp_path):
    from hatchvl.train.grpo import grpo_config
    from hatchvl.train.sft import sft_config

    paths = dict(model="m", data="d", out=str(tmp_path))
    sft = sft_config(SFTOptions(**paths, report_to=[], dataloader_num_workers=2))
    assert sft.report_to == [] and sft.dataloader_num_workers == 2
    assert sft_config(SFTOptions(**paths)).report_to == ["tensorboard"]
    grpo = grpo_config(GRPOOptions(**paths, loss_type="grpo", vllm_max_model_length=8192))
    assert grpo.loss_type == "grpo" and grpo.vllm_max_model_length == 8192
    assert grpo_config(GRPOOptions(**paths)).loss_type == "dapo"  # stated, not inherited silently
    with pytest.raises(ValueError, match="loss_type must be one of"):
        GRPOOptions(**paths, loss_type="ppo")
