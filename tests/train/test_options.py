"""Options from YAML values and key=value overrides."""

import pytest

from hatchvl.train.grpo import GRPOOptions
from hatchvl.train.options import describe_options, options_from_dict, parse_overrides
from hatchvl.train.sft import SFTOptions


def test_overrides_are_yaml_values():
    values = parse_overrides(["lora_r=8", "learning_rate=1e-3", "bf16=true", "extra={weight_decay: 0.1}",
                              "deepspeed=cfg.json"])
    opts = options_from_dict(SFTOptions, {"model": "m", "data": "d", "out": "o", **values})
    assert opts.lora_r == 8 and opts.learning_rate == 0.001 and opts.bf16 is True
    assert opts.extra == {"weight_decay": 0.1} and opts.deepspeed == "cfg.json"
    fraction = options_from_dict(SFTOptions, {"model": "m", "data": "d", "out": "o", "warmup_steps": 0.05})
    assert fraction.warmup_steps == 0.05


@pytest.mark.parametrize("values, message", [
    ({"lora_rank": 8}, r"unknown key 'lora_rank' \(did you mean 'lora_r'\?\)"),
    ({"lora_r": 8.5}, "key 'lora_r' expects int"),
    ({"bf16": "yes please"}, "key 'bf16' expects bool"),
    ({"learning_rate": "fast"}, "key 'learning_rate' expects float"),
])
def test_bad_values_name_the_key(values, message):
    with pytest.raises(ValueError, match=message):
        options_from_dict(SFTOptions, {"model": "m", "data": "d", "out": "o", **values}, where="here")


def test_missing_key_and_malformed_pairs():
    with pytest.raises(ValueError, match="missing required key 'out'"):
        options_from_dict(SFTOptions, {"model": "m", "data": "d"})
    with pytest.raises(ValueError, match="expected key=value"):
        parse_overrides(["lora_r"])


def test_help_lists_each_option_with_its_default_and_comment():
    lines = describe_options(GRPOOptions, skip=("model", "data", "out")).splitlines()
    assert lines[0] == "split = 'train': dataset split whose prompts are trained on"
    assert "beta = 0.0: KL weight; 0 needs no reference model" in lines
    assert "w_answer = 1.0" in lines  # a field without a comment of its own gets none
    assert not any(line.startswith(("model ", "out ")) for line in lines)


def test_grpo_options_refuse_an_unknown_reward_scaling():
    with pytest.raises(ValueError, match="scale_rewards"):
        GRPOOptions(model="m", data="d", out="o", scale_rewards="std")
    assert GRPOOptions(model="m", data="d", out="o", scale_rewards="batch").scale_rewards == "batch"
