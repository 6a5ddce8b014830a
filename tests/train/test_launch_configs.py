"""The accelerate launch configs select the distributed back end they are named for."""

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DistributedType

CONFIGS = Path(__file__).parents[2] / "configs" / "accelerate"


@pytest.mark.parametrize("name, kind, detail", [
    ("ddp", DistributedType.MULTI_GPU, None),
    ("zero2", DistributedType.DEEPSPEED, ("deepspeed_config", "zero_stage", 2)),
    ("zero3", DistributedType.DEEPSPEED, ("deepspeed_config", "zero_stage", 3)),
    ("zero3-2nodes", DistributedType.DEEPSPEED, ("deepspeed_config", "zero3_save_16bit_model", True)),
    ("fsdp2", DistributedType.FSDP, ("fsdp_config", "fsdp_version", 2)),
])
def test_launch_config(name, kind, detail):
    config = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
    assert config.distributed_type == kind
    assert config.mixed_precision == "bf16" and config.num_processes >= 1
    if detail:
        section, key, value = detail
        assert getattr(config, section)[key] == value
    if config.distributed_type == DistributedType.DEEPSPEED and config.deepspeed_config["zero_stage"] == 3:
        # without it the stage's final model cannot be written (train/final_save.py)
        assert config.deepspeed_config["zero3_save_16bit_model"] is True
    assert config.num_processes % config.num_machines == 0
