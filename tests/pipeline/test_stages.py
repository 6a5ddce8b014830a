"""The stage registry is the one place that knows the stages: its rows must be consistent."""

import subprocess
import sys

from hatchvl.pipeline.ablate import VARIANTS, variant_chain
from hatchvl.pipeline.measures import MEASURES
from hatchvl.pipeline.stages import STAGE_NAMES, STAGES, STEPS, stage


def test_every_row_names_real_things():
    for k, row in enumerate(STAGES):
        assert callable(row.run_function()), row.name
        assert set(row.measures) <= set(MEASURES), row.name
        assert set(row.requires) <= set(STAGE_NAMES[:k]), f"{row.name} requires a later or unknown stage"
        assert row.curve in ("loss", "rewards") and row.part in ("pretrain", "pasta", "qa", "actor")
        assert set(row.fixed) <= {f for f in row.options.__dataclass_fields__}, row.name
    assert STEPS == ("data", "model", *STAGE_NAMES, "eval")
    assert stage("grpo").requires and stage("qa_sft").fixed == {"target": "answer"}


def test_ablation_variants_are_registry_chains():
    assert variant_chain(VARIANTS["full"]) == list(STAGE_NAMES)
    assert variant_chain(VARIANTS["no_pasta"]) == ["pretrain_tower", "pretrain", "qa_sft", "actor_sft", "grpo"]
    assert variant_chain(VARIANTS["no_actor"], enabled=["pasta", "qa_sft"]) == ["pasta", "qa_sft"]
    assert variant_chain(VARIANTS["base"]) == ["pretrain_tower", "pretrain"]
    assert variant_chain(VARIANTS["base"], enabled=[]) == []


def test_the_registry_loads_without_torch():
    code = "import sys, hatchvl.pipeline.stages; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
